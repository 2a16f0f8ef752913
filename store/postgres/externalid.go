package postgres

import (
	"context"

	"github.com/scimbridge/scimbridge/store"
)

// externalIds live in a table of their own, one row per resource and
// provisioning domain (migration 0005), as in store/sqlite: a read selects
// the row of its context's domain, a write changes that row only.

// resource_type codes of the external_ids table.
const (
	externalUser  = 0
	externalGroup = 1
)

// externalIDExpr selects the externalId of the row aliased alias (of
// resource type code) in the domain bound at placeholder domain: a
// correlated subquery on external_ids' primary key.
func externalIDExpr(code int, alias, domain string) string {
	c := "0"
	if code == externalGroup {
		c = "1"
	}
	return `(SELECT x.external_id FROM external_ids x WHERE x.resource_type = ` + c + ` AND x.resource_key = ` + alias +
		`.key AND x.domain = ` + domain + `)`
}

// setExternalID stores (or, when empty, removes) a resource's externalId
// in the context's domain.
func (t *txn) setExternalID(ctx context.Context, resourceType int, key int64, externalID string) error {
	domain := store.DomainOf(ctx)
	if externalID == "" {
		_, err := t.exec(ctx, `DELETE FROM external_ids WHERE resource_type = $1 AND resource_key = $2 AND domain = $3`,
			resourceType, key, domain)
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO external_ids (resource_type, resource_key, domain, external_id) VALUES ($1, $2, $3, $4)
 ON CONFLICT (resource_type, resource_key, domain) DO UPDATE SET external_id = excluded.external_id`,
		resourceType, key, domain, externalID)
	return err
}
