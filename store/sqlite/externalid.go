package sqlite

import (
	"context"

	"github.com/scimbridge/scimbridge/store"
)

// externalIds live in a table of their own, one row per resource and
// provisioning domain (migration 0010): a read joins the row of its
// context's domain, a write changes that row only.

// resource_type codes of the external_ids table.
const (
	externalUser  = 0
	externalGroup = 1
)

// A read selects a resource's externalId in one domain with a correlated
// subquery, whose domain is bound as the statement's first parameter (it
// stands in the column list, before any other). A LEFT JOIN reads the
// same row but made a lookup by id several times slower in SQLite.
const (
	userExternalID  = `(SELECT x.external_id FROM external_ids x WHERE x.resource_type = 0 AND x.resource_key = u.key AND x.domain = ?)`
	groupExternalID = `(SELECT x.external_id FROM external_ids x WHERE x.resource_type = 1 AND x.resource_key = g.key AND x.domain = ?)`
	// externalIDAlias names the selected externalId, for sorting and
	// cursors by it.
	externalIDAlias = `domain_external_id`
	userFrom        = ` FROM users u`
	groupFrom       = ` FROM groups g`
)

// withDomain prepends the context's domain to a statement's arguments.
func withDomain(ctx context.Context, args []any) []any {
	return append([]any{store.DomainOf(ctx)}, args...)
}

// addExternalID stores a new resource's externalId, if it has one: a new
// key has no row to clear (keys are never reused).
func (t *txn) addExternalID(ctx context.Context, resourceType int, key int64, externalID string) error {
	if externalID == "" {
		return nil
	}
	return t.setExternalID(ctx, resourceType, key, externalID)
}

// setExternalID stores (or, when empty, removes) a resource's externalId
// in the context's domain.
func (t *txn) setExternalID(ctx context.Context, resourceType int, key int64, externalID string) error {
	domain := store.DomainOf(ctx)
	if externalID == "" {
		_, err := t.exec(ctx, `DELETE FROM external_ids WHERE resource_type = ? AND resource_key = ? AND domain = ?`,
			resourceType, key, domain)
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO external_ids (resource_type, resource_key, domain, external_id) VALUES (?, ?, ?, ?)
 ON CONFLICT (resource_type, resource_key, domain) DO UPDATE SET external_id = excluded.external_id`,
		resourceType, key, domain, externalID)
	return err
}
