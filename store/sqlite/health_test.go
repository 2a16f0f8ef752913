package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/scimbridge/scimbridge/store"
)

// logBuffer collects a store's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func openLogged(t *testing.T, path string, opts Options) (*DB, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	opts.Log = slog.New(slog.NewTextHandler(logs, nil))
	db, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, logs
}

func createUser(db *DB, name string) error {
	ctx := context.Background()
	return db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
		return tx.CreateUser(ctx, &store.User{UserName: name})
	})
}

// TestRemovedDatabaseRefusesWrites: with its files removed under a running
// store, no write is acknowledged any more, Ping says why, the log says so
// once, and the next Open on the path refuses to start empty.
func TestRemovedDatabaseRefusesWrites(t *testing.T) {
	for _, removed := range [][]string{{"", "-wal", "-shm"}, {"-wal"}} {
		t.Run("remove"+strings.Join(removed, ","), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gone.db")
			db, logs := openLogged(t, path, Options{})
			if err := createUser(db, "before"); err != nil {
				t.Fatal(err)
			}
			if err := db.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, suffix := range removed {
				if err := os.Remove(path + suffix); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 5 {
				err := createUser(db, fmt.Sprintf("after-%d", i))
				if store.KindOf(err) != store.KindUnavailable {
					t.Fatalf("write %d after removal: %v, want an unavailable error", i, err)
				}
			}
			if err := db.Ping(context.Background()); store.KindOf(err) != store.KindUnavailable {
				t.Fatalf("Ping after removal: %v", err)
			}
			if n := logs.count("REMOVED OR REPLACED"); n != 1 {
				t.Fatalf("logged the removal %d times, want once:\n%s", n, logs)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if len(removed) == 1 {
				return // the database file is still there; it opens
			}
			if _, err := Open(context.Background(), path, Options{}); !errors.Is(err, ErrVanished) {
				t.Fatalf("reopen on the removed database: %v, want ErrVanished", err)
			}
			fresh, _ := openLogged(t, path, Options{Create: true})
			if _, err := fresh.GetUserByUserName(context.Background(), "before"); !store.IsNotFound(err) {
				t.Fatalf("a created database is not empty: %v", err)
			}
			if err := createUser(fresh, "new"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestReplacedDatabaseRefusesWrites: a file moved over the path is not the
// database the store has open.
func TestReplacedDatabaseRefusesWrites(t *testing.T) {
	dir := t.TempDir()
	path, other := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	db, _ := openLogged(t, path, Options{})
	o, _ := openLogged(t, other, Options{})
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	if err := createUser(db, "x"); store.KindOf(err) != store.KindUnavailable {
		t.Fatalf("write after the file was replaced: %v", err)
	}
}

// TestOpenRefusesToStartEmpty: where a database was in use, Open creates
// no new one unless told to, and never replays a stray WAL into one.
func TestOpenRefusesToStartEmpty(t *testing.T) {
	t.Run("new empty file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "e.db")
		db, _ := openLogged(t, path, Options{})
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o600); err != nil { // e.g. `sqlite3 e.db` after an rm
			t.Fatal(err)
		}
		if _, err := Open(context.Background(), path, Options{}); !errors.Is(err, ErrVanished) {
			t.Fatalf("open on a new empty file: %v", err)
		}
		openLogged(t, path, Options{Create: true})
	})
	t.Run("stray wal", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "w.db")
		if err := os.WriteFile(path+"-wal", []byte("not yours"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(context.Background(), path, Options{}); !errors.Is(err, ErrVanished) {
			t.Fatalf("open beside a stray WAL: %v", err)
		}
		db, _ := openLogged(t, path, Options{Create: true})
		if err := createUser(db, "x"); err != nil {
			t.Fatal(err)
		}
		aside, _ := filepath.Glob(path + "-wal.orphaned-*")
		if len(aside) != 1 {
			t.Fatalf("the stray WAL was not set aside: %v", aside)
		}
	})
	t.Run("first start and clean restart", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "f.db")
		for range 2 {
			db, _ := openLogged(t, path, Options{})
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
		data, err := os.ReadFile(markerPath(path))
		if err != nil || !strings.Contains(string(data), `"state":"closed"`) {
			t.Fatalf("marker after a clean close: %s %v", data, err)
		}
	})
}

// TestDiskFull: a database that cannot grow answers InsufficientStorage,
// logs it once, Ping reports it, and all of that ends once writes succeed.
func TestDiskFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.db")
	db, logs := openLogged(t, path, Options{})
	ctx := context.Background()
	var pages int
	if err := db.w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	// SQLite's own size limit fails a growing write with SQLITE_FULL, as
	// a full disk does.
	if _, err := db.w.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	// 64 KiB a user, within the store's limits on each value.
	big := strings.Repeat("x", 16<<10)
	photos := []store.Value{{Value: big}, {Value: big + "1"}, {Value: big + "2"}, {Value: big + "3"}}
	write := func(name string) error {
		return db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
			return tx.CreateUser(ctx, &store.User{UserName: name, Photos: photos})
		})
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = write(fmt.Sprintf("full-%d", i)) })
	}
	wg.Wait()
	for i, err := range errs {
		if store.KindOf(err) != store.KindInsufficientStorage {
			t.Fatalf("write %d on a full database: %v, want insufficient storage", i, err)
		}
	}
	if err := db.Ping(ctx); store.KindOf(err) != store.KindInsufficientStorage {
		t.Fatalf("Ping on a full database: %v", err)
	}
	if err := db.Ping(ctx); store.KindOf(err) != store.KindInsufficientStorage {
		t.Fatalf("second Ping on a full database: %v", err)
	}
	if n := logs.count("disk full"); n != 1 {
		t.Fatalf("logged the full disk %d times, want once:\n%s", n, logs)
	}
	// Space is freed; with no client writing, Ping's probe finds out.
	if _, err := db.w.ExecContext(ctx, `PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	db.health.mu.Lock()
	db.health.lastFailure, db.health.lastProbe = time.Time{}, time.Time{} // a second later
	db.health.mu.Unlock()
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping once space is back: %v", err)
	}
	if err := write("after"); err != nil {
		t.Fatal(err)
	}
	if n := logs.count("writes succeed again"); n != 1 {
		t.Fatalf("logged the recovery %d times, want once:\n%s", n, logs)
	}
	for i := range errs {
		if _, err := db.GetUserByUserName(ctx, fmt.Sprintf("full-%d", i)); !store.IsNotFound(err) {
			t.Fatalf("a failed write left data behind: %v", err)
		}
	}
}

// TestWALStaysBounded: under sustained concurrent writes the -wal file
// stays near Options.WALMaxBytes instead of growing with every write.
func TestWALStaysBounded(t *testing.T) {
	const bound = 1 << 20
	db, _ := openLogged(t, filepath.Join(t.TempDir(), "bounded.db"), Options{WALMaxBytes: bound})
	var peak int64
	createWatchingWAL(t, db, 16, 150, func(size int64) { peak = max(peak, size) })
	// 2,400 creates write ~20 MB of WAL; one batch past the bound may land
	// before the writer restarts the log.
	if peak > 3*bound {
		t.Fatalf("WAL peaked at %d bytes, bound %d", peak, bound)
	}
	t.Logf("WAL peak %d bytes with a bound of %d", peak, bound)
}

// TestWALRestartsInPlace: once the -wal file has reached its bound, a
// restart of the log rewrites the file from its start instead of cutting
// it back: writes into a file's existing blocks cost about half of writes
// that extend it (the WAL's frames were 17% of a create's CPU, and with the
// file cut to half its bound at each restart, half of them extended it).
func TestWALRestartsInPlace(t *testing.T) {
	const bound = 1 << 20
	db, _ := openLogged(t, filepath.Join(t.TempDir(), "inplace.db"), Options{WALMaxBytes: bound})
	var reached bool
	low := int64(-1) // the smallest size seen after the file reached the bound
	createWatchingWAL(t, db, 8, 300, func(size int64) {
		if reached && (low < 0 || size < low) {
			low = size
		}
		reached = reached || size >= bound
	})
	if !reached {
		t.Fatal("the WAL never reached its bound: the test wrote too little")
	}
	if low < bound {
		t.Fatalf("after reaching its bound of %d bytes the WAL file was cut to %d", bound, low)
	}
}

// createWatchingWAL creates writers×each users from concurrent writers and
// tells see (one call at a time) the -wal file's size after each create.
func createWatchingWAL(t *testing.T, db *DB, writers, each int, see func(size int64)) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := createUser(db, fmt.Sprintf("w-%02d-%04d@example.com", w, i)); err != nil {
					t.Error(err)
					return
				}
				if fi, err := os.Stat(db.path + "-wal"); err == nil {
					mu.Lock()
					see(fi.Size())
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
}

// TestStorageErrorKinds: SQLite's storage failures reach callers as the
// store's kinds; other errors stay what they are.
func TestStorageErrorKinds(t *testing.T) {
	for _, c := range []struct {
		err  error
		want store.Kind
	}{
		{sqlite3.Error{Code: sqlite3.ErrFull}, store.KindInsufficientStorage},
		{fmt.Errorf("sqlite: commit: %w", sqlite3.Error{Code: sqlite3.ErrFull}), store.KindInsufficientStorage},
		{sqlite3.Error{Code: sqlite3.ErrReadonly}, store.KindUnavailable},
		{sqlite3.Error{Code: sqlite3.ErrReadonly, ExtendedCode: sqlite3.ErrReadonlyDbMoved}, store.KindUnavailable},
		{sqlite3.Error{Code: sqlite3.ErrIoErr, ExtendedCode: sqlite3.ErrIoErrWrite}, store.KindUnavailable},
		{sqlite3.Error{Code: sqlite3.ErrCantOpen}, store.KindUnavailable},
	} {
		if got := store.KindOf(storageError(c.err)); got != c.want {
			t.Errorf("%v: kind %v, want %v", c.err, got, c.want)
		}
	}
	for _, err := range []error{nil, errors.New("boom"), sqlite3.Error{Code: sqlite3.ErrConstraint},
		store.Errorf(store.KindConflict, "taken"), context.Canceled} {
		if got := storageError(err); got != nil {
			t.Errorf("%v is no storage error, got %v", err, got)
		}
	}
}
