package ldapsync

import (
	"context"

	"github.com/scimbridge/scimbridge/store"
)

// userIndex maps a source's directory identities and DNs to SCIM ids.
//
// A large run loads it whole in one pass (about 75 bytes a user, no
// attributes, in packed maps), so resolving 100,000 member DNs costs no query each; it is
// the one structure that grows with the directory, while entries stream
// through the spool. A small incremental run leaves it unloaded and looks
// up only what it needs.
type userIndex struct {
	source string
	loaded bool
	// A user whose identity and SCIM id are both UUIDs (nearly all, see
	// ids.go) is in byUUID, any other in byID.
	byUUID *packedMap[uuid16, packedRef]
	byID   map[string]userRef // directory identity → user
	// A normalised DN's hash → SCIM id: in byDN when the id is a UUID,
	// else in byDNOther.
	byDN      *packedMap[dnKey, uuid16]
	byDNOther map[dnKey]string
	dnHash    dnHasher
	// hash fingerprints a stored user's directory-owned part.
	hash func(*store.User) uint64
	// undo reverts the puts of a transaction that was rolled back.
	undo []func()
}

// userRef is a synced user as the index knows it.
type userRef struct {
	id   string
	hash uint64 // 0: unknown
}

// packedRef is a userRef whose SCIM id is a UUID.
type packedRef struct {
	id   uuid16
	hash uint64
}

func newUserIndex(source string, hash func(*store.User) uint64) *userIndex {
	return &userIndex{source: source, byUUID: newPackedMap[uuid16, packedRef](compareUUID), byID: map[string]userRef{},
		byDN: newPackedMap[dnKey, uuid16](compareDNKey), byDNOther: map[dnKey]string{}, dnHash: newDNHasher(), hash: hash}
}

// reserve makes room for n users, so that filling the index to n never
// copies it to grow.
func (idx *userIndex) reserve(n int) {
	idx.byUUID.reserve(n)
	idx.byDN.reserve(n)
}

// lookup finds the user of a directory identity among those known.
func (idx *userIndex) lookup(sourceID string) (userRef, bool) {
	if k, ok := parseUUID(sourceID); ok {
		if p, ok := idx.byUUID.get(k); ok {
			return userRef{id: p.id.String(), hash: p.hash}, true
		}
	}
	ref, ok := idx.byID[sourceID]
	return ref, ok
}

// set records the user of a directory identity.
func (idx *userIndex) set(sourceID string, ref userRef) {
	k, kOK := parseUUID(sourceID)
	if id, idOK := parseUUID(ref.id); kOK && idOK {
		idx.byUUID.set(k, packedRef{id: id, hash: ref.hash})
		delete(idx.byID, sourceID)
		return
	}
	if kOK {
		idx.byUUID.del(k)
	}
	idx.byID[sourceID] = ref
}

// forget removes a directory identity.
func (idx *userIndex) forget(sourceID string) {
	if k, ok := parseUUID(sourceID); ok {
		idx.byUUID.del(k)
	}
	delete(idx.byID, sourceID)
}

// lookupDN finds the SCIM id of a normalised DN's hash.
func (idx *userIndex) lookupDN(key dnKey) (string, bool) {
	if id, ok := idx.byDN.get(key); ok {
		return id.String(), true
	}
	id, ok := idx.byDNOther[key]
	return id, ok
}

// setDN records the SCIM id of a normalised DN's hash.
func (idx *userIndex) setDN(key dnKey, id string) {
	if u, ok := parseUUID(id); ok {
		idx.byDN.set(key, u)
		delete(idx.byDNOther, key)
		return
	}
	idx.byDN.del(key)
	idx.byDNOther[key] = id
}

// forgetDN removes a normalised DN's hash.
func (idx *userIndex) forgetDN(key dnKey) {
	idx.byDN.del(key)
	delete(idx.byDNOther, key)
}

// load reads the source's identities and DNs from the store in one pass.
func (idx *userIndex) load(ctx context.Context, r store.Reader) error {
	err := r.EachSourced(ctx, "User", idx.source, func(ref store.SourcedRef) error {
		idx.remember(ref.SourceID, userRef{id: ref.ID}, ref.DN)
		return nil
	})
	idx.loaded = err == nil
	return err
}

// loadWithFingerprints is load plus each user's fingerprint, for full runs,
// which compare every entry: it pages through all users by key (cheap
// keyset pages, no groups) instead of reading them one by one.
func (idx *userIndex) loadWithFingerprints(ctx context.Context, r store.Reader) error {
	q := store.Query{UseCursor: true, Limit: 1000}
	for {
		page, err := r.ListUsers(ctx, q)
		if err != nil {
			return err
		}
		for _, u := range page.Users {
			if u.Source.Name != idx.source || u.Source.ID == "" {
				continue
			}
			idx.remember(u.Source.ID, userRef{id: u.ID, hash: idx.hash(u)}, u.Source.DN)
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	idx.loaded = true
	return nil
}

// remember records a stored user as loaded.
func (idx *userIndex) remember(sourceID string, ref userRef, dn string) {
	idx.set(sourceID, ref)
	if dn != "" {
		idx.setDN(idx.dnHash.key(normDN(dn)), ref.id)
	}
}

// get finds the user synced from the entry with this identity.
func (idx *userIndex) get(ctx context.Context, r store.Reader, sourceID string) (userRef, bool, error) {
	if ref, ok := idx.lookup(sourceID); ok || idx.loaded {
		return ref, ok, nil
	}
	u, err := r.GetUserBySource(ctx, idx.source, sourceID)
	if store.IsNotFound(err) {
		return userRef{}, false, nil
	}
	if err != nil {
		return userRef{}, false, err
	}
	ref := userRef{id: u.ID, hash: idx.hash(u)}
	idx.set(sourceID, ref)
	return ref, true, nil
}

// id is get's SCIM id.
func (idx *userIndex) id(ctx context.Context, r store.Reader, sourceID string) (string, bool, error) {
	ref, ok, err := idx.get(ctx, r, sourceID)
	return ref.id, ok, err
}

// dn finds the user synced from the entry with this DN.
func (idx *userIndex) dn(ctx context.Context, r store.Reader, dn string) (string, bool, error) {
	key := idx.dnHash.key(normDN(dn))
	if id, ok := idx.lookupDN(key); ok || idx.loaded {
		return id, ok, nil
	}
	u, err := r.GetUserBySourceDN(ctx, idx.source, dn)
	if store.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	idx.setDN(key, u.ID)
	return u.ID, true, nil
}

// put records a user written in this run, forgetting its old DN on a move.
func (idx *userIndex) put(sourceID, id, dn, oldDN string) {
	idx.saveUndo(sourceID)
	// The stored user changed: its fingerprint is unknown until reloaded.
	idx.set(sourceID, userRef{id: id})
	if oldDN != "" {
		old := idx.dnHash.key(normDN(oldDN))
		if cur, ok := idx.lookupDN(old); ok && cur == id {
			idx.saveUndoDN(old)
			idx.forgetDN(old)
		}
	}
	key := idx.dnHash.key(normDN(dn))
	idx.saveUndoDN(key)
	idx.setDN(key, id)
}

// saveUndo appends to undo how to restore a directory identity's user as
// it is now.
func (idx *userIndex) saveUndo(sourceID string) {
	prev, had := idx.lookup(sourceID)
	idx.undo = append(idx.undo, func() {
		if had {
			idx.set(sourceID, prev)
		} else {
			idx.forget(sourceID)
		}
	})
}

// saveUndoDN appends to undo how to restore a DN's user as it is now.
func (idx *userIndex) saveUndoDN(key dnKey) {
	prev, had := idx.lookupDN(key)
	idx.undo = append(idx.undo, func() {
		if had {
			idx.setDN(key, prev)
		} else {
			idx.forgetDN(key)
		}
	})
}

// commit forgets the undo log once a transaction committed.
func (idx *userIndex) commit() { idx.undo = idx.undo[:0] }

// rollback reverts the puts since the last commit, newest first.
func (idx *userIndex) rollback() {
	for i := len(idx.undo) - 1; i >= 0; i-- {
		idx.undo[i]()
	}
	idx.undo = idx.undo[:0]
}
