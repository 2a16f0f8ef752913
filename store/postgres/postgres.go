// Package postgres is the Store backend for several scimbridge nodes on one
// PostgreSQL database. It keeps the tables of store/sqlite (same columns,
// same indexes, same uniqueness rules) and passes the same store/storetest
// suite.
//
// # Transactions and concurrency
//
// Every Write is one READ COMMITTED transaction that locks what it changes:
// a user or group read inside a transaction is read FOR NO KEY UPDATE, so a
// read-modify-write (a SCIM PATCH that reads the resource, checks If-Match,
// and stores the change) holds the row until it commits, and a concurrent
// one waits and then reads the committed result. No update is lost, also
// across nodes, and a stale If-Match fails with PreconditionFailed. Members
// being added to a group are locked FOR KEY SHARE, so a concurrent delete
// of the member waits instead of leaving a dangling membership. Uniqueness
// (userName by store.UserNameKey, group displayName case-insensitively,
// the directory identity) is enforced by unique indexes, so concurrent
// creates of one name leave exactly one winner on any number of nodes.
// E-mail addresses are unique by policy (store.Policy), checked under a
// transaction-scoped advisory lock per address, which serialises the
// writers of one address across nodes.
//
// Row locks make hot rows (a group receiving members from several identity
// provider threads at once) queue rather than fail, which serialisable or
// repeatable-read isolation would turn into aborted transactions. fn runs
// once, except when PostgreSQL aborts the transaction to break a deadlock
// (two multi-row writes locking the same rows in opposite orders) or for a
// serialisation failure: then the transaction is rolled back and fn runs
// again, at most maxAttempts times. fn must therefore keep its effects in
// the transaction (or reset what it gathers at its start).
//
// A statement that may break a uniqueness rule runs inside a savepoint sent
// in the same round trip, so a conflict leaves the transaction usable, as a
// failed statement does in SQLite (the directory sync's dry run goes on past
// a conflicting entry).
//
// # Schema
//
// The embedded migrations (migrations/NNNN_*.sql) run at Open, each in its
// own transaction, under a PostgreSQL advisory lock: several nodes starting
// at once migrate once, and the others wait and then find the schema
// current. A node whose binary knows fewer migrations than the database has
// keeps running, so nodes can be upgraded one by one: from 0005 (the first
// schema a release opens) on, migrations only add. (0005 drops the
// externalId columns, which no released binary read.)
//
// Text that is compared, sorted or unique is stored COLLATE "C", and
// case-insensitive comparisons go through lower() on it, which folds ASCII
// letters only: exactly SQLite's NOCASE, whatever the server's locale.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimbridge/scimbridge/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the backend; the zero value is sane.
type Options struct {
	// Policy is the operator's choice of identity rules (shared e-mail
	// addresses); the zero value is the default.
	Policy store.Policy
	// MaxConns is the connection pool's size; 0 means 20. Each node holds
	// at most this many connections, so nodes × MaxConns must stay under
	// the server's max_connections.
	MaxConns int
	// ConnectTimeout bounds establishing one connection; 0 means 5 s.
	ConnectTimeout time.Duration
	// Now overrides the clock (tests).
	Now func() time.Time
	// Existing refuses a database that holds no scimbridge schema yet
	// (ErrNoSchema) instead of creating it: only serve creates one.
	Existing bool
}

// ErrNoSchema is Open's error, with Options.Existing, for a database that
// scimbridge has never migrated.
var ErrNoSchema = errors.New("postgres: the database holds no scimbridge schema; only serve creates one")

// DB is a Store on one PostgreSQL database.
type DB struct {
	reader
	pool   *pgxpool.Pool
	now    func() time.Time
	policy store.Policy

	// locks are the connections holding advisory locks (TryLock), closed
	// by Close: the pool waits for every connection it lent.
	mu    sync.Mutex
	locks map[*pgxpool.Conn]bool
}

var _ store.Store = (*DB)(nil)

// IsURL reports whether dsn names a PostgreSQL database (a postgres:// or
// postgresql:// URL) rather than a file.
func IsURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open connects to the database at url (postgres://user:pass@host/db) and
// migrates it.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = 20
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("postgres: the database URL is not valid")
	}
	cfg.MaxConns = int32(opts.MaxConns)
	cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	params := cfg.ConnConfig.RuntimeParams
	if params["application_name"] == "" {
		params["application_name"] = "scimbridge"
	}
	// Every query here is small and planned once per connection: JIT
	// compilation (tens of milliseconds) would only add to it.
	if params["jit"] == "" {
		params["jit"] = "off"
	}
	// The server notices a node that vanished (power, network) within
	// about half a minute and releases its locks, the sync lock included.
	for k, v := range map[string]string{"tcp_keepalives_idle": "15", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"} {
		if params[k] == "" {
			params[k] = v
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, pool, opts.Existing); err != nil {
		pool.Close()
		if errors.Is(err, ErrNoSchema) {
			return nil, err
		}
		return nil, fmt.Errorf("postgres: open %s@%s/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	db := &DB{pool: pool, now: opts.Now, policy: opts.Policy, locks: map[*pgxpool.Conn]bool{}}
	db.reader = reader{q: pool, clock: opts.Now}
	return db, nil
}

// Pool returns the connection pool (for tools such as migrate-db).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping checks that the database answers and is migrated.
func (db *DB) Ping(ctx context.Context) error {
	var v int
	if err := db.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return mapErr(err)
	}
	if v < latestMigration() {
		return fmt.Errorf("postgres: schema at version %d, want %d", v, latestMigration())
	}
	return nil
}

// Close closes the pool, releasing any advisory lock this node still
// holds. Safe to call twice.
func (db *DB) Close() error {
	db.mu.Lock()
	for conn := range db.locks {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = conn.Conn().Close(ctx)
		cancel()
		conn.Release()
	}
	clear(db.locks)
	db.mu.Unlock()
	db.pool.Close()
	return nil
}

// Checkpoint does nothing: PostgreSQL's durability needs no help from a
// node that shuts down.
func (db *DB) Checkpoint(context.Context) error { return nil }

// lockKey is the advisory lock key of a name: all of scimbridge's advisory
// locks live in one 64-bit space, hashed from "scimbridge:" + name.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("scimbridge:" + name))
	return int64(h.Sum64())
}

// TryLock takes the advisory lock called name for this node if no session
// anywhere holds it, on a connection kept until unlock is called. The lock
// goes with the connection: if the node dies, the server releases it (at
// once for a killed process, within the keepalive time for a lost host).
func (db *DB) TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, false, mapErr(err)
	}
	key := lockKey(name)
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil || !ok {
		conn.Release()
		return nil, false, mapErr(err)
	}
	db.mu.Lock()
	db.locks[conn] = true
	db.mu.Unlock()
	return func() {
		db.mu.Lock()
		defer db.mu.Unlock()
		if !db.locks[conn] {
			return // released by Close
		}
		delete(db.locks, conn)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			// Closing the connection releases the lock for certain.
			_ = conn.Conn().Close(ctx)
		}
		conn.Release()
	}, true, nil
}

func migrate(ctx context.Context, pool *pgxpool.Pool, existing bool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	// Nodes starting together queue here; the first migrates, the others
	// find nothing left to do.
	key := lockKey("migrate")
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			_ = conn.Conn().Close(ctx)
		}
	}()
	if existing {
		var found bool
		if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&found); err != nil {
			return err
		}
		if !found {
			return ErrNoSchema
		}
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied timestamptz NOT NULL)`); err != nil {
		return err
	}
	var current int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return err
	}
	for _, m := range migrationFiles() {
		if m.version <= current {
			continue
		}
		body, err := fs.ReadFile(migrations, "migrations/"+m.name)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if fill := backfill(m.version); fill != nil {
				if err := fill(ctx, tx); err != nil {
					return fmt.Errorf("%s: %w", m.name, err)
				}
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, now())`, m.version)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

type migration struct {
	version int
	name    string
}

// migrationFiles lists the embedded migrations in order; each file is named
// NNNN_description.sql.
func migrationFiles() []migration {
	entries, _ := fs.ReadDir(migrations, "migrations")
	var out []migration
	for _, e := range entries {
		n, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			panic("postgres: migration without a number: " + e.Name())
		}
		out = append(out, migration{n, e.Name()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out
}

func latestMigration() int {
	m := migrationFiles()
	return m[len(m)-1].version
}

// querier is what both *pgxpool.Pool and pgx.Tx offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// reader implements store.Reader on the pool or inside a transaction.
type reader struct {
	q querier
	// tx is set inside a write transaction: single-resource reads then
	// lock the row (see the package comment).
	tx    *txn
	clock func() time.Time
}

func (r *reader) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := r.q.Exec(ctx, sql, args...)
	return tag, mapErr(err)
}

func (r *reader) query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := r.q.Query(ctx, sql, args...)
	return rows, mapErr(err)
}

func (r *reader) queryRow(ctx context.Context, dest []any, sql string, args ...any) error {
	err := r.q.QueryRow(ctx, sql, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	return mapErr(err)
}

// SQLSTATE codes the backend acts on.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlock             = "40P01"
)

// mapErr turns PostgreSQL errors into store errors: unique violations into
// conflicts naming the attribute (as store/sqlite names them), text the
// server cannot store into Invalid, a lost or refusing server into
// Unavailable, a full disk into InsufficientStorage.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == codeUniqueViolation:
			return conflict(pe.ConstraintName)
		case pe.Code == "22021", pe.Code == "22P05", pe.Code == "54000":
			// Invalid UTF-8, NUL, a value over PostgreSQL's own limits.
			return store.Errorf(store.KindInvalid, "a value holds a character or size the database cannot store")
		case pe.Code == "53100":
			return store.Errorf(store.KindInsufficientStorage, "the database is out of disk space")
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"), pe.Code == "53300", pe.Code == "25006":
			return unavailableErr(err)
		}
		return err
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) {
		return unavailableErr(err)
	}
	return err
}

// unavailable is a KindUnavailable error that keeps its cause for logs.
type unavailable struct {
	kind  store.Error
	cause error
}

func (e *unavailable) Unwrap() []error { return []error{&e.kind, e.cause} }
func (e *unavailable) Error() string   { return e.kind.Message + ": " + e.cause.Error() }

func unavailableErr(err error) error {
	return &unavailable{store.Error{Kind: store.KindUnavailable, Message: "the database is unavailable"}, err}
}

func conflict(constraint string) error {
	switch constraint {
	case "users_user_name":
		return store.FieldErrorf(store.KindConflict, "userName", "userName is already taken")
	case "groups_display_name":
		return store.FieldErrorf(store.KindConflict, "displayName", "a group with this displayName exists")
	case "users_source", "groups_source":
		return store.Errorf(store.KindConflict, "a resource with this directory identity exists")
	case "users_id", "groups_id":
		return store.FieldErrorf(store.KindConflict, "id", "id is already taken")
	}
	return store.Errorf(store.KindConflict, "constraint violated")
}

// retryable reports whether PostgreSQL aborted the transaction for another
// one (deadlock, serialisation failure), so that it may simply run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeDeadlock || pe.Code == codeSerializationFailure)
}

func jitter(attempt int) time.Duration {
	base := time.Duration(attempt) * 5 * time.Millisecond
	return base + time.Duration(rand.Int64N(int64(base)+1))
}

// newID returns a SCIM id: a version 7 UUID, whose time-ordered prefix puts
// new rows at the right edge of the id index instead of on random pages.
func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// fold is the case-insensitive comparison key: ASCII letters lowered, as
// lower() does to COLLATE "C" text and SQLite's NOCASE does.
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// storable reports whether PostgreSQL can hold s as text: valid UTF-8
// without NUL. A lookup by a string it cannot hold finds nothing.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

func nullStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
