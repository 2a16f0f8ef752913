package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// TestBackupFileIsPrivateAndNoLink: backup --out writes a 0600 file and
// refuses a symbolic link, even a dangling one (before: it wrote the copy,
// 0644, to wherever the link pointed).
func TestBackupFileIsPrivateAndNoLink(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "live.db")
	st, err := sqlite.Open(context.Background(), db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	storetest.CreateUser(t, st, &store.User{UserName: "ops", PasswordHash: "$argon2id$x"})
	st.Close()

	target := filepath.Join(dir, "stolen.db")
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	out, err := runCmd(t, "backup", "--db", db, "--out", link)
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("backup through a dangling link: %q %v", out, err)
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Fatalf("the link's target was written: %v", err)
	}

	backup := filepath.Join(dir, "backup.db")
	if out, err := runCmd(t, "backup", "--db", db, "--out", backup); err != nil {
		t.Fatalf("backup: %q %v", out, err)
	}
	for _, p := range []string{db, backup} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(p), perm)
		}
	}
}
