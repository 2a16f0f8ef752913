package sqlite

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/scimbridge/scimbridge/store"
)

// Health. A store that cannot write must say so: to each caller with an
// error of a clear kind, to the operator with one log line when the trouble
// starts and one when it ends (never one per request), and to /readyz
// through Ping. Two things are watched:
//
//   - the outcome of the writes: a full disk, or a read-only or failing
//     file, fails every write until someone fixes it;
//   - the identity of the files SQLite holds open: when the database or its
//     WAL is removed or replaced under a running store, SQLite goes on
//     writing into the unlinked file and every write it acknowledges is
//     gone at the next start. So after each commit, before any caller hears
//     of it, the paths are compared with the files opened.

// The errors callers see. They name no path: clients read them.
var (
	errGone = store.Errorf(store.KindUnavailable,
		"the store cannot write: its database file was removed or replaced while in use")
	errFull     = store.Errorf(store.KindInsufficientStorage, "the store is full: there is no space left to write")
	errReadOnly = store.Errorf(store.KindUnavailable, "the store cannot write: its database is read-only")
	errIO       = store.Errorf(store.KindUnavailable, "the store cannot write: reading or writing its database file failed")
)

// probeEvery bounds how often Ping tries a write while writes fail, and
// how soon after a failed one.
const probeEvery = time.Second

// probeKind is the store object Ping rewrites to learn whether writes work.
const probeKind = "sqlite.health"

type health struct {
	log  *slog.Logger
	path string
	// db and wal are the files as opened; wal is nil if there was none.
	db, wal os.FileInfo

	// gone is set once the files are no longer the ones opened; it stays.
	// Every Write looks at it, so it is not behind mu.
	gone atomic.Bool

	mu sync.Mutex
	// failing is the last write's storage error, nil once a write succeeds.
	failing error
	// lastFailure is when a write last failed for failing's reason.
	lastFailure, lastProbe time.Time
}

func newHealth(log *slog.Logger, path string) (*health, error) {
	h := &health{log: log, path: path}
	var err error
	if h.db, err = os.Stat(path); err != nil {
		return nil, err
	}
	if h.wal, err = os.Stat(path + "-wal"); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		h.wal = nil
	}
	return h, nil
}

// check compares the paths with the files opened. It returns errGone once
// they differ, and otherwise the WAL's size (for the writer's bound).
func (h *health) check() (walSize int64, err error) {
	if h.isGone() {
		return 0, errGone
	}
	db, dbErr := os.Stat(h.path)
	var wal os.FileInfo
	var walErr error
	if h.wal != nil {
		wal, walErr = os.Stat(h.path + "-wal")
	}
	switch {
	case dbErr != nil && !errors.Is(dbErr, os.ErrNotExist):
		return 0, nil // cannot tell (a permission change on the directory): writes decide
	case dbErr != nil || !os.SameFile(db, h.db):
		h.markGone("database")
		return 0, errGone
	case h.wal != nil && (walErr != nil || !os.SameFile(wal, h.wal)):
		h.markGone("write-ahead log")
		return 0, errGone
	}
	if wal != nil {
		walSize = wal.Size()
	}
	return walSize, nil
}

func (h *health) isGone() bool { return h.gone.Load() }

func (h *health) markGone(what string) {
	if !h.gone.CompareAndSwap(false, true) {
		return
	}
	h.log.Error("sqlite: THE DATABASE FILES WERE REMOVED OR REPLACED while the store had them open; "+
		"every write is refused from now on. Restore the files from a backup and restart.",
		"path", h.path, "file", what)
}

// wrote records a write batch's outcome: nil when a commit succeeded, else
// the storage error it met (see storageError).
func (h *health) wrote(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil && h.failing != nil:
		h.log.Info("sqlite: writes succeed again", "path", h.path, "after", h.failing.Error())
		h.failing = nil
	case err != nil:
		h.lastFailure = time.Now()
		if h.failing != nil && h.failing.Error() == err.Error() {
			return // said already
		}
		h.failing = err
		msg := "sqlite: writes fail"
		if store.KindOf(err) == store.KindInsufficientStorage {
			msg = "sqlite: disk full: writes fail until space is freed"
		}
		h.log.Error(msg, "path", h.path, "err", err.Error())
	}
}

// state returns the reason writes fail now, or nil; probe reports whether
// Ping should try a write to learn whether the reason is still there: not
// within probeEvery of a failed write (a small probe may fit where the
// clients' writes do not), nor more often than that.
func (h *health) state(now time.Time) (probe bool, err error) {
	if h.gone.Load() {
		return false, errGone
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failing == nil {
		return false, nil
	}
	if now.Sub(h.lastFailure) < probeEvery || now.Sub(h.lastProbe) < probeEvery {
		return false, h.failing
	}
	h.lastProbe = now
	return true, h.failing
}

// probe writes a small object, so that a store whose writes failed learns
// when they work again even if no client writes meanwhile (a load balancer
// sends none to a store that is not ready).
func (db *DB) probe(ctx context.Context) error {
	return db.Write(ctx, store.Actor{Door: "sqlite", Principal: "health probe"}, func(tx store.Tx) error {
		return tx.PutObject(ctx, &store.Object{Kind: probeKind, Name: "probe", Doc: []byte(`{}`)}, 0)
	})
}

// storageError maps an error that is about the storage rather than the
// request (SQLITE_FULL, SQLITE_READONLY, I/O errors) to the store error
// callers see, or returns nil.
func storageError(err error) error {
	if err == nil {
		return nil
	}
	switch store.KindOf(err) {
	case store.KindUnavailable, store.KindInsufficientStorage:
		return err
	}
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Code {
	case sqlite3.ErrFull:
		return errFull
	case sqlite3.ErrReadonly:
		if se.ExtendedCode == sqlite3.ErrReadonlyDbMoved {
			return errGone
		}
		return errReadOnly
	case sqlite3.ErrIoErr, sqlite3.ErrCantOpen, sqlite3.ErrCorrupt, sqlite3.ErrNotADB:
		return errIO
	}
	return nil
}
