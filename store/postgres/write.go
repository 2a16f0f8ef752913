package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/scimbridge/scimbridge/store"
)

// maxAttempts bounds how often Write runs fn when PostgreSQL aborts the
// transaction for a deadlock or serialisation failure.
const maxAttempts = 5

// txn is one write transaction.
type txn struct {
	reader
	pg    pgx.Tx
	actor store.Actor
	now   time.Time
	// policy is the operator's choice of identity rules (Options.Policy).
	policy store.Policy
	// pending activity entries, inserted together before the commit (and
	// before the transaction reads the log itself).
	pending []activityRow
}

var _ store.Tx = (*txn)(nil)

// Write runs fn in one transaction (see the package comment for locking
// and when fn may run again).
func (db *DB) Write(ctx context.Context, actor store.Actor, fn func(tx store.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := db.writeOnce(ctx, actor, fn)
		if attempt < maxAttempts && retryable(err) && ctx.Err() == nil {
			time.Sleep(jitter(attempt))
			continue
		}
		return mapErr(err)
	}
}

func (db *DB) writeOnce(ctx context.Context, actor store.Actor, fn func(tx store.Tx) error) error {
	pg, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	// Runs on every return and on a panic in fn, which then goes on up.
	defer pg.Rollback(context.Background())
	t := &txn{pg: pg, actor: actor, now: db.now().UTC().Truncate(time.Microsecond), policy: db.policy}
	t.reader = reader{q: pg, tx: t, clock: db.now}
	if err := fn(t); err != nil {
		// A retryable abort inside fn surfaces as fn's error.
		return err
	}
	if err := t.flushActivity(ctx); err != nil {
		return err
	}
	if err := pg.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// guarded runs one statement that may break a uniqueness rule inside a
// savepoint, in one round trip with it: a conflict rolls back that
// statement alone and leaves the transaction usable. dest receives the
// statement's one row when it returns rows (nil: none).
func (t *txn) guarded(ctx context.Context, dest []any, sql string, args ...any) error {
	b := &pgx.Batch{}
	b.Queue(`SAVEPOINT guard`)
	b.Queue(sql, args...)
	b.Queue(`RELEASE SAVEPOINT guard`)
	br := t.pg.SendBatch(ctx, b)
	_, err := br.Exec()
	if err == nil {
		if dest != nil {
			err = br.QueryRow().Scan(dest...)
		} else {
			_, err = br.Exec()
		}
	}
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		// A client-side error (no row to scan): the server ran the whole
		// batch, savepoint release included.
		return err
	}
	// The server skipped the rest of the batch after the error.
	// Without arguments, Exec uses the simple protocol: an aborted
	// transaction refuses to prepare even a ROLLBACK TO.
	if _, rerr := t.pg.Exec(ctx, `ROLLBACK TO SAVEPOINT guard; RELEASE SAVEPOINT guard`); rerr != nil {
		return errors.Join(mapErr(err), rerr)
	}
	return mapErr(err)
}
