package postgres

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/scimbridge/scimbridge/store"
)

// backfill returns the part of migration version that SQL cannot do, or
// nil. It runs in the migration's transaction, after the migration's SQL.
func backfill(version int) func(ctx context.Context, tx pgx.Tx) error {
	switch version {
	case 3:
		return fillUserNameKeys
	}
	return nil
}

// fillUserNameKeys computes every stored user's comparison key and makes
// it unique, as store/sqlite's backfill does. Names the new comparison
// finds equal ("ÄRNE" and "ärne"): the oldest keeps the key; each later one
// is parked under parkedNameKey, found by its exact name
// (GetUserByUserName) and kept as it is until renamed.
func fillUserNameKeys(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT key, user_name FROM users ORDER BY key`)
	if err != nil {
		return err
	}
	var keys []int64
	var names []string
	for rows.Next() {
		var k int64
		var n string
		if err := rows.Scan(&k, &n); err != nil {
			rows.Close()
			return err
		}
		keys, names = append(keys, k), append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	taken := make(map[string]bool, len(keys))
	nameKeys := make([]string, len(keys))
	for i, n := range names {
		k := store.UserNameKey(n)
		if taken[k] {
			k = parkedNameKey(k, keys[i])
		}
		taken[k] = true
		nameKeys[i] = k
	}
	if len(keys) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE users u SET user_name_key = x.k FROM unnest($1::bigint[], $2::text[]) AS x(key, k)
 WHERE u.key = x.key`, keys, nameKeys); err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, `CREATE UNIQUE INDEX users_user_name ON users (user_name_key)`)
	return err
}

// parkedSep separates a parked key from the user's integer key. SQLite
// parks with NUL, which PostgreSQL text cannot hold; U+0001 is refused in
// userNames by the store's text rules, so no live key holds it either.
const parkedSep = "\x01"

// parkedNameKey is the key of a user whose name collided, at the
// migration, with an older user's. parkedRange bounds every such key of a
// name.
func parkedNameKey(nameKey string, userKey int64) string {
	return nameKey + parkedSep + strconv.FormatInt(userKey, 10)
}

func parkedRange(nameKey string) (lo, hi string) { return nameKey + parkedSep, nameKey + "\x02" }
