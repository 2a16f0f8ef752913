package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

func userNames(t *testing.T, db string) []string {
	t.Helper()
	st, err := sqlite.Open(context.Background(), db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.ListUsers(context.Background(), store.Query{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range page.Users {
		out = append(out, u.UserName)
	}
	return out
}

// TestRestore: restore refuses while a server runs on the database, and a
// backup that is damaged or no scimbridge database; otherwise it replaces
// the database (its -wal and -shm gone, the old one kept beside it), and
// serve starts on the result without --create.
func TestRestore(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "scimbridge.db")
	p := startServe(t, db)
	for _, u := range []string{"kept@example.com"} {
		resp, err := p.createUser(strings.NewReader(userJSON(u)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	backup := filepath.Join(dir, "backup.db")
	if out, err := runCmd(t, "backup", "--db", db, "--out", backup); err != nil {
		t.Fatalf("backup: %q %v", out, err)
	}
	resp, err := p.createUser(strings.NewReader(userJSON("after-backup@example.com")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	_, err = runCmd(t, "restore", "--db", db, "--from", backup)
	if err == nil || !strings.Contains(err.Error(), "refusing to restore") || !strings.Contains(err.Error(), "stop it first") {
		t.Fatalf("restore under a running server: %v", err)
	}
	p.stop()
	if err := p.wait(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	// A damaged backup and a foreign database change nothing.
	damaged := filepath.Join(dir, "damaged.db")
	raw, _ := os.ReadFile(backup)
	for page := 4096; page+8 <= len(raw); page += 4096 { // every b-tree page header but the first
		copy(raw[page:], []byte{0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5})
	}
	os.WriteFile(damaged, raw, 0o600)
	foreign := filepath.Join(dir, "foreign.db")
	fdb, _ := sql.Open("sqlite3", foreign)
	fdb.Exec("CREATE TABLE t (x)")
	fdb.Close()
	for _, bad := range []struct{ file, want string }{
		{damaged, "integrity"}, {foreign, "not scimbridge's"}, {filepath.Join(dir, "missing.db"), "no such file"}, {db, "the database itself"},
	} {
		_, err := runCmd(t, "restore", "--db", db, "--from", bad.file)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("restore from %s: %v, want %q", filepath.Base(bad.file), err, bad.want)
		}
	}
	if got := userNames(t, db); len(got) != 2 {
		t.Fatalf("a refused restore changed the database: %v", got)
	}

	out, err := runCmd(t, "restore", "--db", db, "--from", backup)
	if err != nil || !strings.Contains(out, "integrity ok; 1 users") || !strings.Contains(out, "kept as") {
		t.Fatalf("restore: %q %v", out, err)
	}
	for _, f := range []string{db + "-wal", db + "-shm"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s left beside the restored database", filepath.Base(f))
		}
	}
	if kept, _ := filepath.Glob(db + ".replaced-*"); len(kept) != 1 {
		t.Errorf("the replaced database is not kept: %v", kept)
	}
	if fi, err := os.Stat(db); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("restored database: %v %v", fi.Mode(), err)
	}
	// serve accepts the restored file as the database in use (no
	// --create), and it holds what the backup held.
	p = startServe(t, db)
	select {
	case <-p.done:
		t.Fatalf("serve on the restored database: %v\n%s", p.err, p.logs)
	default:
	}
	p.stop()
	p.wait(t, 10*time.Second)
	if got := userNames(t, db); len(got) != 1 || got[0] != "kept@example.com" {
		t.Fatalf("after restore: %v", got)
	}
}
