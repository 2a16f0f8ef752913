package postgres

import (
	"context"
	"fmt"

	"github.com/scimbridge/scimbridge/store"
)

// GetUserBySourceDN finds a synced user by its DN, case-insensitively.
func (r *reader) GetUserBySourceDN(ctx context.Context, source, dn string) (*store.User, error) {
	if !storable(source) || !storable(dn) {
		return nil, notFoundUser()
	}
	return r.getUser(ctx, `u.source = $1 AND lower(u.source_dn) = $2`, source, fold(dn))
}

// GetGroupBySourceDN finds a synced group by its DN, case-insensitively.
func (r *reader) GetGroupBySourceDN(ctx context.Context, source, dn string) (*store.Group, error) {
	if !storable(source) || !storable(dn) {
		return nil, notFoundGroup()
	}
	return r.getGroup(ctx, false, `g.source = $1 AND lower(g.source_dn) = $2`, source, fold(dn))
}

// EachSourced streams the resources synced from source.
func (r *reader) EachSourced(ctx context.Context, resourceType, source string, fn func(store.SourcedRef) error) error {
	var q string
	switch resourceType {
	case "User":
		q = `SELECT key, id, coalesce(source_id, ''), coalesce(source_dn, ''), active FROM users WHERE source = $1 ORDER BY key`
	case "Group":
		q = `SELECT key, id, coalesce(source_id, ''), coalesce(source_dn, ''), true FROM groups WHERE source = $1 ORDER BY key`
	default:
		return fmt.Errorf("postgres: EachSourced: unknown resource type %q", resourceType)
	}
	if !storable(source) {
		return nil
	}
	rows, err := r.query(ctx, q, source)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var ref store.SourcedRef
		if err := rows.Scan(&ref.Key, &ref.ID, &ref.SourceID, &ref.DN, &ref.Active); err != nil {
			return err
		}
		if err := fn(ref); err != nil {
			return err
		}
	}
	return mapErr(rows.Err())
}
