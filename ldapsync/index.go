package ldapsync

import (
	"context"

	"github.com/scimbridge/scimbridge/store"
)

// userIndex maps a source's directory identities and DNs to SCIM ids.
//
// A large run loads it whole in one pass (about 150 bytes a user, no
// attributes), so resolving 100,000 member DNs costs no query each; it is
// the one structure that grows with the directory, while entries stream
// through the spool. A small incremental run leaves it unloaded and looks
// up only what it needs.
type userIndex struct {
	source string
	loaded bool
	byID   map[string]userRef // directory identity → user
	byDN   map[string]string  // normalised DN → SCIM id
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

func newUserIndex(source string, hash func(*store.User) uint64) *userIndex {
	return &userIndex{source: source, byID: map[string]userRef{}, byDN: map[string]string{}, hash: hash}
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
	idx.byID[sourceID] = ref
	if dn != "" {
		idx.byDN[normDN(dn)] = ref.id
	}
}

// get finds the user synced from the entry with this identity.
func (idx *userIndex) get(ctx context.Context, r store.Reader, sourceID string) (userRef, bool, error) {
	if ref, ok := idx.byID[sourceID]; ok || idx.loaded {
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
	idx.byID[sourceID] = ref
	return ref, true, nil
}

// id is get's SCIM id.
func (idx *userIndex) id(ctx context.Context, r store.Reader, sourceID string) (string, bool, error) {
	ref, ok, err := idx.get(ctx, r, sourceID)
	return ref.id, ok, err
}

// dn finds the user synced from the entry with this DN.
func (idx *userIndex) dn(ctx context.Context, r store.Reader, dn string) (string, bool, error) {
	key := normDN(dn)
	if id, ok := idx.byDN[key]; ok || idx.loaded {
		return id, ok, nil
	}
	u, err := r.GetUserBySourceDN(ctx, idx.source, dn)
	if store.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	idx.byDN[key] = u.ID
	return u.ID, true, nil
}

// put records a user written in this run, forgetting its old DN on a move.
func (idx *userIndex) put(sourceID, id, dn, oldDN string) {
	saveUndo(&idx.undo, idx.byID, sourceID)
	// The stored user changed: its fingerprint is unknown until reloaded.
	idx.byID[sourceID] = userRef{id: id}
	if oldDN != "" {
		if old := normDN(oldDN); idx.byDN[old] == id {
			saveUndo(&idx.undo, idx.byDN, old)
			delete(idx.byDN, old)
		}
	}
	key := normDN(dn)
	saveUndo(&idx.undo, idx.byDN, key)
	idx.byDN[key] = id
}

// saveUndo appends to undo how to restore m[k] as it is now.
func saveUndo[V any](undo *[]func(), m map[string]V, k string) {
	prev, had := m[k]
	*undo = append(*undo, func() {
		if had {
			m[k] = prev
		} else {
			delete(m, k)
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
