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
	byID   map[string]string // directory identity → SCIM id
	byDN   map[string]string // normalised DN → SCIM id
	// undo reverts the puts of a transaction that was rolled back.
	undo []func()
}

func newUserIndex(source string) *userIndex {
	return &userIndex{source: source, byID: map[string]string{}, byDN: map[string]string{}}
}

// load reads all of the source's users from the store in one pass.
func (idx *userIndex) load(ctx context.Context, r store.Reader) error {
	err := r.EachSourced(ctx, "User", idx.source, func(ref store.SourcedRef) error {
		idx.byID[ref.SourceID] = ref.ID
		if ref.DN != "" {
			idx.byDN[normDN(ref.DN)] = ref.ID
		}
		return nil
	})
	idx.loaded = err == nil
	return err
}

// id finds the user synced from the entry with this identity.
func (idx *userIndex) id(ctx context.Context, r store.Reader, sourceID string) (string, bool, error) {
	if id, ok := idx.byID[sourceID]; ok || idx.loaded {
		return id, ok, nil
	}
	u, err := r.GetUserBySource(ctx, idx.source, sourceID)
	if store.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	idx.byID[sourceID] = u.ID
	return u.ID, true, nil
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
	idx.set(idx.byID, sourceID, id)
	if oldDN != "" {
		if old := normDN(oldDN); idx.byDN[old] == id {
			idx.set(idx.byDN, old, "")
		}
	}
	idx.set(idx.byDN, normDN(dn), id)
}

// set changes m[k] ("" deletes it), remembering how to undo it.
func (idx *userIndex) set(m map[string]string, k, v string) {
	prev, had := m[k]
	idx.undo = append(idx.undo, func() {
		if had {
			m[k] = prev
		} else {
			delete(m, k)
		}
	})
	if v == "" {
		delete(m, k)
	} else {
		m[k] = v
	}
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
