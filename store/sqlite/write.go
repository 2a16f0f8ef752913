package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Group commit. SQLite has one writer, and most of a small change's cost is
// the commit (appending and checksumming WAL frames) and preparing its
// statements. So one goroutine takes every Write waiting at the moment, runs
// each in a SAVEPOINT of one shared transaction, commits once and answers
// all of them. A call whose fn fails is rolled back to its savepoint alone;
// each call stays atomic, and none is acknowledged before the commit. A
// caller's cancellation never interrupts a statement (reader.stmtCtx): an
// interrupted statement can make SQLite roll back the whole transaction,
// every other caller's work with it.

// maxBatch bounds how many calls share a transaction.
const maxBatch = 64

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("sqlite: store is closed")

type writeReq struct {
	ctx   context.Context
	actor store.Actor
	fn    func(tx store.Tx) error
	done  chan writeResult
}

type writeResult struct {
	err error
	// panicked carries a panic from fn back to the caller's goroutine.
	panicked any
}

// Write runs fn in a transaction (shared with other calls waiting at the
// same moment, each isolated by its own savepoint).
func (db *DB) Write(ctx context.Context, actor store.Actor, fn func(tx store.Tx) error) error {
	if db.health.isGone() {
		return errGone
	}
	req := &writeReq{ctx: ctx, actor: actor, fn: fn, done: make(chan writeResult, 1)}
	select {
	case db.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.stop:
		return ErrClosed
	}
	res := <-req.done
	if res.panicked != nil {
		panic(res.panicked)
	}
	return res.err
}

// writer is the single goroutine that owns the write connection.
func (db *DB) writer() {
	defer close(db.writerDone)
	for {
		var first *writeReq
		select {
		case first = <-db.writes:
		case <-db.stop:
			return
		}
		batch := []*writeReq{first}
		yielded := false
	collect:
		for len(batch) < maxBatch {
			select {
			case r := <-db.writes:
				batch = append(batch, r)
			default:
				if yielded {
					break collect
				}
				// Once, let the goroutines that can run do so before the
				// batch closes: requests a moment from their write join
				// this commit instead of waiting for the next. A commit
				// costs about the same for one change as for several (its
				// pages are written once), so on a busy server this makes
				// fewer, fuller commits; on an idle one nothing is waiting
				// and the yield returns at once.
				yielded = true
				runtime.Gosched()
			}
		}
		walSize := db.runBatch(batch)
		db.wstmts.ended()
		if walSize > db.walMax {
			db.restartWAL(walSize)
		}
	}
}

// runBatch runs a batch in one transaction and answers each caller. It
// returns the WAL's size after the commit, or 0 when it does not know it.
func (db *DB) runBatch(batch []*writeReq) (walSize int64) {
	results := make([]writeResult, len(batch))
	defer func() {
		for i, req := range batch {
			req.done <- results[i]
		}
	}()
	fail := func(err error) {
		for i := range results {
			if results[i].err == nil && results[i].panicked == nil {
				results[i].err = err
			}
		}
	}
	// storageErr is the first storage error met in the batch (a full disk,
	// a read-only file): the store's state, not any one caller's fault.
	var storageErr error
	classify := func(err error) error {
		if se := storageError(err); se != nil {
			if storageErr == nil {
				storageErr = se
			}
			return se
		}
		return err
	}
	defer func() {
		if errors.Is(storageErr, errGone) {
			db.health.markGone("database")
		} else if storageErr != nil {
			db.health.wrote(storageErr)
		}
	}()
	sqlTx, err := db.w.BeginTx(context.Background(), nil)
	if err != nil {
		fail(classify(fmt.Errorf("sqlite: begin: %w", err)))
		return 0
	}
	// The savepoint statements are prepared once, like the callers'.
	bt := &reader{q: sqlTx, tx: sqlTx, txStmts: db.wstmts, clock: db.now}
	bg := context.Background()
	shared := len(batch) > 1
	ok := 0
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			results[i].err = err
			continue
		}
		if shared {
			if _, err := bt.exec(bg, `SAVEPOINT w`); err != nil {
				results[i].err = classify(err)
				continue
			}
		}
		t := &txn{
			reader: reader{q: sqlTx, tx: sqlTx, txStmts: db.wstmts, clock: db.now},
			actor:  req.actor,
			now:    db.now().UTC().Truncate(time.Microsecond),
			policy: db.policy,
		}
		results[i] = runFn(req.fn, t)
		results[i].err = classify(results[i].err)
		switch {
		case results[i].err != nil || results[i].panicked != nil:
			if !shared {
				_ = sqlTx.Rollback()
				return 0
			}
			if _, err := sqlTx.Exec(`ROLLBACK TO w; RELEASE w`); err != nil {
				// SQLite rolled the whole transaction back (it may on a full
				// disk or an I/O error): nothing of the batch is kept.
				_ = sqlTx.Rollback()
				if storageErr != nil {
					fail(storageErr)
				} else {
					fail(fmt.Errorf("sqlite: rollback to savepoint: %w", err))
				}
				return 0
			}
		case shared:
			if _, err := bt.exec(bg, `RELEASE w`); err != nil {
				_ = sqlTx.Rollback()
				fail(classify(fmt.Errorf("sqlite: release savepoint: %w", err)))
				return 0
			}
			ok++
		default:
			ok++
		}
	}
	if ok == 0 {
		_ = sqlTx.Rollback()
		return 0
	}
	if err := sqlTx.Commit(); err != nil {
		fail(classify(mapErr(fmt.Errorf("sqlite: commit: %w", err))))
		return 0
	}
	// Before anyone hears of the commit: did it reach the file at the path?
	walSize, err = db.health.check()
	if err != nil {
		fail(err)
		return 0
	}
	if storageErr == nil {
		db.health.wrote(nil)
	}
	return walSize
}

// runFn calls fn, turning a panic into a result so the batch can go on.
func runFn(fn func(store.Tx) error, t *txn) (res writeResult) {
	defer func() {
		if v := recover(); v != nil {
			res = writeResult{panicked: v}
		}
	}()
	return writeResult{err: fn(t)}
}
