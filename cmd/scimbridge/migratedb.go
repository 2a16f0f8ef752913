package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimbridge/scimbridge/store/postgres"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// migrate-db copies a SQLite database into an empty PostgreSQL database:
// every table of the current schema (users and their e-mails, groups,
// memberships, externalIds per provisioning domain, the activity log,
// credentials, objects, which hold the directory sync state and the
// dialects' records, the write-back outbox and whether it records), keys, ids, versions and times unchanged, in one
// PostgreSQL transaction that commits only when every table's row count
// matches the source. The kept counts (counts) follow from the copy: the
// target's statement triggers count what COPY inserts.

// migrateTable is one table to copy: cols name the same columns on both
// sides, conv turns each SQLite value into the PostgreSQL one.
type migrateTable struct {
	name string
	cols []string
	conv []convert
}

// migrateTables are copied in this order.
var migrateTables = []migrateTable{
	{"users", []string{"key", "id", "user_name", "user_name_key", "display_name", "active", "created", "last_modified",
		"version", "password_hash", "source", "source_id", "source_dn", "doc"},
		[]convert{asIs, asIs, asIs, asUserNameKey, asIs, asBool, asTime, asTime, asIs, asIs, asIs, asIs, asIs, asIs}},
	{"user_emails", []string{"user_key", "pos", "value", "type", "is_primary"},
		[]convert{asIs, asIs, asIs, asIs, asBool}},
	{"groups", []string{"key", "id", "display_name", "created", "last_modified", "version",
		"source", "source_id", "source_dn"},
		[]convert{asIs, asIs, asIs, asTime, asTime, asIs, asIs, asIs, asIs}},
	{"memberships", []string{"group_key", "member_type", "member_key"}, []convert{asIs, asIs, asIs}},
	{"external_ids", []string{"resource_type", "resource_key", "domain", "external_id"}, []convert{asIs, asIs, asIs, asIs}},
	{"activity", []string{"seq", "at", "door", "principal", "address", "action", "resource_type", "resource_id",
		"resource_key", "user_key", "user_id", "detail"},
		[]convert{asIs, asTime, asIs, asIs, asIs, asIs, asIs, asIs, asIs, asIs, asIs, asIs}},
	{"credentials", []string{"id", "kind", "name", "user_key", "identifier", "secret_hash", "scopes", "data",
		"created", "expires", "last_used"},
		[]convert{asIs, asIs, asIs, asIs, asIs, asIs, asScopes, asIs, asTime, asTimeOrNull, asTimeOrNull}},
	{"objects", []string{"kind", "name", "doc", "version", "updated"}, []convert{asIs, asIs, asIs, asIs, asTime}},
	// The write-back outbox: changes not yet delivered, in SQLite's
	// snapshot format, which store/postgres reads too.
	{"outbox", []string{"seq", "at", "door", "principal", "address", "action", "resource_type", "resource_id",
		"resource_key", "detail", "before", "after", "member", "attempts", "next_attempt", "last_error", "last_failed", "dead"},
		[]convert{asIs, asTime, asIs, asIs, asIs, asIs, asIs, asIs, asIs, asIs, asIs, asIs, asIs, asIs, asTimeOrNull, asIs,
			asTimeOrNull, asBool}},
}

// identities are the generated keys whose sequences must continue after
// the copied ones; autoincrement names the tables whose SQLite keys are
// never reused (sqlite_sequence remembers keys of deleted rows too).
var identities = []struct {
	table, col    string
	autoincrement bool
}{{"users", "key", true}, {"groups", "key", true}, {"activity", "seq", false}, {"credentials", "id", false},
	{"outbox", "seq", true}}

type convert func(v any) (any, error)

func asIs(v any) (any, error) {
	if b, ok := v.([]byte); ok {
		return string(b), nil
	}
	return v, nil
}

func asBool(v any) (any, error) {
	n, ok := v.(int64)
	if !ok {
		return nil, fmt.Errorf("want an integer boolean, have %T", v)
	}
	return n != 0, nil
}

// asTime reads SQLite's Unix microseconds.
func asTime(v any) (any, error) {
	n, ok := v.(int64)
	if !ok {
		return nil, fmt.Errorf("want a time in microseconds, have %T", v)
	}
	return time.UnixMicro(n).UTC(), nil
}

// asTimeOrNull reads a time where 0 means none.
func asTimeOrNull(v any) (any, error) {
	if n, ok := v.(int64); ok && n == 0 {
		return nil, nil
	}
	return asTime(v)
}

// asScopes reads a JSON array of strings.
func asScopes(v any) (any, error) {
	s, _ := asIs(v)
	text, ok := s.(string)
	if !ok {
		return nil, fmt.Errorf("want scopes as JSON text, have %T", v)
	}
	out := []string{}
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		return nil, err
	}
	return out, nil
}

// asUserNameKey carries a userName key over. SQLite parks a name that
// collided at its migration under key NUL number; PostgreSQL text cannot
// hold NUL and store/postgres parks under U+0001 instead (backfill.go).
func asUserNameKey(v any) (any, error) {
	s, _ := asIs(v)
	text, ok := s.(string)
	if !ok {
		return nil, fmt.Errorf("want a userName key, have %T", v)
	}
	return strings.ReplaceAll(text, "\x00", "\x01"), nil
}

func migrateDBCommand() *command {
	return &command{name: "migrate-db", summary: "copy a SQLite database into an empty PostgreSQL database",
		details: "Every table is copied with its keys, ids, versions and times, in one transaction that commits\n" +
			"only when each table's row count matches the source; a target that holds any row is refused.\n" +
			"The SQLite file is brought to this version's schema first and must not have a server running on it.",
		define: func(fs *flagSet, c *cli) runFunc {
			from, m := fs.text("from", "FILE", "the SQLite database to copy")
			m.required, m.files = true, true
			to, m := fs.text("to", "URL", "the empty PostgreSQL database to fill (postgres://…)")
			m.required = true
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				if !postgres.IsURL(*to) {
					return usagef("--to wants a postgres:// URL")
				}
				counts, err := migrateDB(ctx, *from, *to)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "copied %s into %s:\n", *from, dbLabel(*to))
				for _, t := range migrateTables {
					fmt.Fprintf(c.stdout, "  %-12s %d rows (counts match)\n", t.name, counts[t.name])
				}
				return nil
			}
		}}
}

// migrateDB copies the SQLite database at from into the PostgreSQL
// database at to and returns each table's row count.
func migrateDB(ctx context.Context, from, to string) (map[string]int64, error) {
	if _, err := os.Stat(from); err != nil {
		return nil, err
	}
	// A server writing to the file would write past the snapshot copied.
	unlock, err := lockDatabase(from)
	if err != nil {
		return nil, fmt.Errorf("refusing to copy: %w", err)
	}
	defer unlock()
	// Bring the source to the current schema first, as serve would.
	src, err := sqlite.Open(ctx, from, sqlite.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", from, err)
	}
	if err := src.Close(); err != nil {
		return nil, err
	}
	raw, err := sql.Open("sqlite3", "file:"+url.PathEscape(from)+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	dst, err := postgres.Open(ctx, to, postgres.Options{MaxConns: 2})
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	return copyDatabase(ctx, raw, dst.Pool())
}

// errNotEmpty: migrate-db fills only an empty database, so that it can
// never merge two identity stores or overwrite one.
var errNotEmpty = errors.New("the target database is not empty; migrate-db fills only an empty one")

// copyDatabase copies every table inside one read transaction of the
// source (a consistent snapshot) and one transaction of the target.
func copyDatabase(ctx context.Context, raw *sql.DB, pool interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}) (map[string]int64, error) {
	src, err := raw.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer src.Rollback()
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.Background())
	// Concurrent migrate-db runs into one database: the second waits here
	// and then finds the first's rows.
	if _, err := tx.Exec(ctx, `LOCK TABLE users, groups, activity, credentials, objects IN EXCLUSIVE MODE`); err != nil {
		return nil, err
	}
	for _, t := range migrateTables {
		var n int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+t.name).Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, fmt.Errorf("%w (%s holds %d rows)", errNotEmpty, t.name, n)
		}
	}
	counts := map[string]int64{}
	for _, t := range migrateTables {
		n, err := copyTable(ctx, src, tx, t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		var want, got int64
		if err := src.QueryRowContext(ctx, `SELECT count(*) FROM `+t.name).Scan(&want); err != nil {
			return nil, err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+t.name).Scan(&got); err != nil {
			return nil, err
		}
		if n != want || got != want {
			return nil, fmt.Errorf("%s: the source holds %d rows, %d were copied and the target holds %d", t.name, want, n, got)
		}
		counts[t.name] = got
	}
	for _, id := range identities {
		next := int64(0)
		if err := src.QueryRowContext(ctx, fmt.Sprintf(`SELECT coalesce(max(%s), 0) FROM %s`, id.col, id.table)).Scan(&next); err != nil {
			return nil, err
		}
		if id.autoincrement {
			var seq int64
			err := src.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = ?`, id.table).Scan(&seq)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, err
			}
			next = max(next, seq)
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', '%s'), $1, false)`, id.table, id.col), next+1); err != nil {
			return nil, err
		}
	}
	// Whether the outbox records: its one row exists on both sides.
	var recording bool
	if err := src.QueryRowContext(ctx, `SELECT enabled FROM outbox_state`).Scan(&recording); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `UPDATE outbox_state SET enabled = $1`, recording); err != nil {
		return nil, err
	}
	// The kept totals must equal the rows: unfiltered listings read them.
	for _, table := range []string{"users", "groups"} {
		var kept, rows int64
		if err := tx.QueryRow(ctx, `SELECT (SELECT sum(n) FROM counts WHERE name = $1), (SELECT count(*) FROM `+table+`)`, table).Scan(&kept, &rows); err != nil {
			return nil, err
		}
		if kept != rows {
			return nil, fmt.Errorf("%s: kept count %d, %d rows", table, kept, rows)
		}
	}
	return counts, tx.Commit(ctx)
}

// copyTable streams one table with COPY.
func copyTable(ctx context.Context, src *sql.Tx, dst pgx.Tx, t migrateTable) (int64, error) {
	rows, err := src.QueryContext(ctx, "SELECT "+strings.Join(t.cols, ", ")+" FROM "+t.name)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	return dst.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, &sqlRows{rows: rows, conv: t.conv})
}

// sqlRows is SQLite rows as a pgx.CopyFromSource.
type sqlRows struct {
	rows *sql.Rows
	conv []convert
	err  error
}

func (r *sqlRows) Next() bool { return r.err == nil && r.rows.Next() }

func (r *sqlRows) Values() ([]any, error) {
	raw := make([]any, len(r.conv))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	if err := r.rows.Scan(ptrs...); err != nil {
		r.err = err
		return nil, err
	}
	for i, c := range r.conv {
		v, err := c(raw[i])
		if err != nil {
			r.err = fmt.Errorf("column %d: %w", i+1, err)
			return nil, r.err
		}
		raw[i] = v
	}
	return raw, nil
}

func (r *sqlRows) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.rows.Err()
}
