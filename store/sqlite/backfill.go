package sqlite

import (
	"context"
	"database/sql"

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

// fillUserNameKeys computes every stored user's comparison key.
func fillUserNameKeys(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT key, user_name FROM users`)
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
	for _, r := range all {
		if _, err := stmt.ExecContext(ctx, store.UserNameKey(r.name), r.key); err != nil {
			return err
		}
	}
	return nil
}
