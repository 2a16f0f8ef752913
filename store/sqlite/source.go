package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/scimbridge/scimbridge/store"
)

// GetUserBySourceDN finds a synced user by its DN, case-insensitively.
func (r *reader) GetUserBySourceDN(ctx context.Context, source, dn string) (*store.User, error) {
	return r.getUser(ctx, `u.source = ? AND u.source_dn = ? COLLATE NOCASE`, source, dn)
}

// GetGroupBySourceDN finds a synced group by its DN, case-insensitively.
func (r *reader) GetGroupBySourceDN(ctx context.Context, source, dn string) (*store.Group, error) {
	return r.getGroup(ctx, false, `g.source = ? AND g.source_dn = ? COLLATE NOCASE`, source, dn)
}

// EachSourced streams the resources synced from source.
func (r *reader) EachSourced(ctx context.Context, resourceType, source string, fn func(store.SourcedRef) error) error {
	var q string
	switch resourceType {
	case "User":
		q = `SELECT key, id, source_id, coalesce(source_dn, ''), active FROM users WHERE source = ? ORDER BY key`
	case "Group":
		q = `SELECT key, id, source_id, coalesce(source_dn, ''), 1 FROM groups WHERE source = ? ORDER BY key`
	default:
		return fmt.Errorf("sqlite: EachSourced: unknown resource type %q", resourceType)
	}
	rows, done, err := r.query(ctx, q, source)
	if err != nil {
		return err
	}
	defer done()
	defer rows.Close()
	for rows.Next() {
		var ref store.SourcedRef
		var srcID sql.NullString
		if err := rows.Scan(&ref.Key, &ref.ID, &srcID, &ref.DN, &ref.Active); err != nil {
			return err
		}
		ref.SourceID = srcID.String
		if err := fn(ref); err != nil {
			return err
		}
	}
	return rows.Err()
}
