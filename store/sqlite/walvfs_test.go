package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// writeCalls is how many write system calls this process has made, as the
// kernel counts them (/proc/self/io).
func writeCalls(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("/proc/self/io has no syscw")
	return 0
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// A commit of many pages reaches the WAL in one write system call, not two
// per page.
func TestCommitWritesTheWALOnce(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts system calls in /proc/self/io")
	}
	path := filepath.Join(t.TempDir(), "test.db")
	db, _ := openLogged(t, path, Options{}) // logs to memory: no write calls
	ctx := context.Background()
	create := func(name string) {
		t.Helper()
		if err := db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
			return tx.CreateUser(ctx, &store.User{UserName: name, Active: true, Emails: []store.Value{{Value: name + "@x.example"}}})
		}); err != nil {
			t.Fatal(err)
		}
	}
	create("warm-up") // the WAL's header and first frames
	const commits = 20
	wal0, calls0 := fileSize(t, path+"-wal"), writeCalls(t)
	for i := range commits {
		create(fmt.Sprintf("user%02d", i))
	}
	calls, frames := writeCalls(t)-calls0, (fileSize(t, path+"-wal")-wal0)/(4096+24)
	t.Logf("%d commits appended %d frames in %d write calls", commits, frames, calls)
	if frames < 5*commits {
		t.Fatalf("%d commits appended %d frames: too few to tell one write from one per frame", commits, frames)
	}
	if calls > commits+commits/4 {
		t.Errorf("%d commits of %d frames took %d write calls; want one each", commits, frames, calls)
	}
	// Each commit is in the file when its Write returns: the readers'
	// connections and a copy recovered from the WAL alone see all of them.
	for i := range commits {
		if _, err := db.GetUserByUserName(ctx, fmt.Sprintf("user%02d", i)); err != nil {
			t.Errorf("user%02d through the readers: %v", i, err)
		}
	}
	if got := columnText(t, recoveredCopy(t, path), 0, `SELECT count(*) FROM users`); len(got) != 1 || got[0] != strconv.Itoa(commits+1) {
		t.Errorf("a copy recovered from the WAL has %v users, want %d", got, commits+1)
	}
}

// recoveredCopy copies the database at path and its WAL, without the
// wal-index: opening the copy recovers every commit from the WAL file's
// frames, so it shows what the files themselves hold.
func recoveredCopy(t *testing.T, path string) *sql.DB {
	t.Helper()
	dir := t.TempDir()
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "copy.db"+suffix), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "copy.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Close() })
	return cp
}

// The pages SQLite spills from a small cache before a commit stay buffered
// across calls. Whatever a transaction does with them (commits, rolls back
// whole, rolls back to a savepoint after spilling, rewrites a spilled page),
// what the WAL file holds is what was committed: a copy of the files, which
// SQLite recovers from the WAL alone, agrees with the store.
func TestSpilledFramesReachTheWAL(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "test.db")
	// 16 KiB a connection: the writer's cache holds 16 pages.
	db, _ := openLogged(t, path, Options{CacheKiB: 16})
	ctx := context.Background()
	actor := store.Actor{Door: "test"}
	user := func(prefix string, i int) *store.User {
		name := fmt.Sprintf("%s%04d", prefix, i)
		return &store.User{UserName: name, DisplayName: strings.Repeat("d", 200), Active: true,
			Emails: []store.Value{{Value: name + "@x.example"}}}
	}
	before := walWrites()
	// Committed: 400 users, then the first 100 changed again after their
	// pages were spilled (SQLite overwrites those frames in place).
	if err := db.Write(ctx, actor, func(tx store.Tx) error {
		ids := make([]string, 0, 400)
		for i := range 400 {
			u := user("kept", i)
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			ids = append(ids, u.ID)
		}
		for _, id := range ids[:100] {
			if _, err := tx.UpdateUser(ctx, id, func(u *store.User) error { u.DisplayName = "changed"; return nil }); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if walWrites() == before {
		t.Fatal("the writer's WAL did not go through the buffering VFS")
	}
	// Rolled back whole, after spilling.
	errAbort := errors.New("abort")
	if err := db.Write(ctx, actor, func(tx store.Tx) error {
		for i := range 300 {
			if err := tx.CreateUser(ctx, user("dropped", i)); err != nil {
				return err
			}
		}
		return errAbort
	}); !errors.Is(err, errAbort) {
		t.Fatalf("aborted write: %v", err)
	}
	// Concurrent writes share a transaction; the ones that fail after
	// spilling roll back to their savepoints inside it.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = db.Write(ctx, actor, func(tx store.Tx) error {
				for i := range 60 {
					if err := tx.CreateUser(ctx, user(fmt.Sprintf("batch%d-", w), i)); err != nil {
						return err
					}
				}
				if w%2 == 1 {
					return errAbort
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for w, err := range errs {
		if want := w%2 == 1; errors.Is(err, errAbort) != want || (!want && err != nil) {
			t.Fatalf("batch write %d: %v", w, err)
		}
	}

	want := map[string]string{}
	for i := range 400 {
		want[fmt.Sprintf("kept%04d", i)] = strings.Repeat("d", 200)
		if i < 100 {
			want[fmt.Sprintf("kept%04d", i)] = "changed"
		}
	}
	for w := 0; w < 8; w += 2 {
		for i := range 60 {
			want[fmt.Sprintf("batch%d-%04d", w, i)] = strings.Repeat("d", 200)
		}
	}
	check := func(where string, q *sql.DB) {
		t.Helper()
		wantIntact(t, where, q)
		names := columnText(t, q, 0, `SELECT user_name FROM users ORDER BY user_name`)
		shown := columnText(t, q, 0, `SELECT display_name FROM users ORDER BY user_name`)
		if len(names) != len(want) {
			t.Fatalf("%s: %d users, want %d", where, len(names), len(want))
		}
		for i, name := range names {
			if d, ok := want[name]; !ok || shown[i] != d {
				t.Fatalf("%s: user %q with displayName %.20q: not what was committed", where, name, shown[i])
			}
		}
	}
	check("the store's readers", db.r)

	check("a copy recovered from the WAL", recoveredCopy(t, path))
}

// A commit whose buffered frames cannot be written fails as a whole and
// leaves nothing: not in the store, not in the WAL file. The frames stay
// buffered, and the next commit writes them out before its own.
func TestWALWriteFailureLeavesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	db, _ := openLogged(t, path, Options{})
	ctx := context.Background()
	create := func(name string) error {
		return db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
			return tx.CreateUser(ctx, &store.User{UserName: name, Emails: []store.Value{{Value: name + "@x.example"}}})
		})
	}
	if err := create("before"); err != nil {
		t.Fatal(err)
	}
	const sqliteFull = 13
	t.Cleanup(func() { failWALWrites(0, 0) })
	failWALWrites(1, sqliteFull)
	if err := create("lost"); store.KindOf(err) != store.KindInsufficientStorage {
		t.Fatalf("a commit whose WAL write failed: %v, want insufficient storage", err)
	}
	failWALWrites(0, 0)
	if err := create("after"); err != nil {
		t.Fatalf("the next commit: %v", err)
	}
	for _, q := range []struct {
		where string
		db    *sql.DB
	}{{"the store's readers", db.r}, {"a copy recovered from the WAL", recoveredCopy(t, path)}} {
		wantIntact(t, q.where, q.db)
		if got := strings.Join(columnText(t, q.db, 0, `SELECT user_name FROM users ORDER BY user_name`), ","); got != "after,before" {
			t.Errorf("%s: users %s, want after,before", q.where, got)
		}
	}
}

// Frames a rolled-back transaction left buffered are never written: by
// then another writer on the same file (the CLI beside the server, another
// process) may have committed frames where they would land. A rollback
// whose pages have no older frame in the WAL reads nothing back from it,
// so nothing before the write lock's release writes the buffer out.
func TestRolledBackSpillIsDropped(t *testing.T) {
	if err := registerWALVFS(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "raw.db")
	open := func(vfs string) *sql.DB {
		t.Helper()
		db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_cache_size=10"+vfs)
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open("&vfs="+walVFS), open("")
	exec := func(db *sql.DB, q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(b, `CREATE TABLE t (who TEXT, body BLOB)`)
	exec(b, `PRAGMA wal_checkpoint(TRUNCATE)`)
	before := walWrites()
	exec(a, `BEGIN`)
	for range 100 { // a page each: most of them spill from a cache of 10
		exec(a, `INSERT INTO t VALUES ('rolled back', zeroblob(3000))`)
	}
	exec(a, `ROLLBACK`)
	if walWrites() == before {
		t.Fatal("the rolled-back transaction spilled nothing through the VFS")
	}
	exec(b, `BEGIN`)
	for range 200 {
		exec(b, `INSERT INTO t VALUES ('b', randomblob(3000))`)
	}
	exec(b, `COMMIT`)
	exec(a, `INSERT INTO t VALUES ('a', randomblob(3000))`)

	for _, q := range []struct {
		where string
		db    *sql.DB
	}{{"a third connection", open("")}, {"a copy recovered from the WAL", recoveredCopy(t, path)}} {
		wantIntact(t, q.where, q.db)
		if got := strings.Join(columnText(t, q.db, 0, `SELECT who || ':' || count(*) FROM t GROUP BY who ORDER BY who`), ","); got != "a:1,b:200" {
			t.Errorf("%s: rows %s, want a:1,b:200", q.where, got)
		}
	}
}
