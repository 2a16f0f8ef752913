package sqlite

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/scimbridge/scimbridge/store"
)

// backfill returns the part of migration version that SQL cannot do, or
// nil. It runs in the migration's transaction, after the migration's SQL.
func backfill(version int) func(ctx context.Context, tx *sql.Tx) error {
	switch version {
	case 6:
		return fillUserNameKeys
	}
	return nil
}

// fillUserNameKeys computes every stored user's comparison key and makes
// it unique. A database may already hold names the new comparison finds
// equal ("ÄRNE" and "ärne"): the oldest keeps the key; each later one is
// parked under parkedNameKey, found by its exact name (GetUserByUserName)
// and kept as it is until renamed. No new user or rename can join them.
func fillUserNameKeys(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT key, user_name FROM users ORDER BY key`)
	if err != nil {
		return err
	}
	type row struct {
		key  int64
		name string
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.key, &r.name); err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, `UPDATE users SET user_name_key = ? WHERE key = ?`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	taken := make(map[string]bool, len(all))
	for _, r := range all {
		k := store.UserNameKey(r.name)
		if taken[k] {
			k = parkedNameKey(k, r.key)
		}
		taken[k] = true
		if _, err := stmt.ExecContext(ctx, k, r.key); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `CREATE UNIQUE INDEX users_user_name_key ON users(user_name_key)`)
	return err
}

// parkedNameKey is the key of a user whose name collided, at the
// migration, with an older user's: the key, NUL (which no userName holds)
// and the user's integer key. parkedRange bounds every such key of a name.
func parkedNameKey(nameKey string, userKey int64) string {
	return nameKey + "\x00" + strconv.FormatInt(userKey, 10)
}

func parkedRange(nameKey string) (lo, hi string) { return nameKey + "\x00", nameKey + "\x01" }
