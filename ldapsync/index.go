package ldapsync

import (
	"context"

	"github.com/scimbridge/scimbridge/store"
)

// userIndex maps a source's directory identities and DNs to SCIM ids. It
// is the one structure that grows with the directory: about 150 bytes a
// user (no attributes), so that resolving 100,000 member DNs costs no query
// each. Entries themselves stream through the spool.
type userIndex struct {
	byID map[string]userRef // directory identity → user
	byDN map[string]string  // normalised DN → SCIM id
}

type userRef struct {
	id string
}

// loadUserIndex reads the source's users from the store in one pass.
func loadUserIndex(ctx context.Context, r store.Reader, source string) (*userIndex, error) {
	idx := &userIndex{byID: map[string]userRef{}, byDN: map[string]string{}}
	err := r.EachSourced(ctx, "User", source, func(ref store.SourcedRef) error {
		idx.byID[ref.SourceID] = userRef{id: ref.ID}
		if ref.DN != "" {
			idx.byDN[normDN(ref.DN)] = ref.ID
		}
		return nil
	})
	return idx, err
}

// put records a user written in this run, forgetting its old DN on a move.
func (idx *userIndex) put(sourceID, id, dn, oldDN string) {
	idx.byID[sourceID] = userRef{id: id}
	if oldDN != "" {
		if old := normDN(oldDN); idx.byDN[old] == id {
			delete(idx.byDN, old)
		}
	}
	idx.byDN[normDN(dn)] = id
}
