package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

func wantPrivate(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s has mode %#o, want 0600", filepath.Base(path), perm)
	}
}

// TestDatabaseFilesArePrivate: the database, its WAL and its shared memory
// file are created readable by their owner alone (before: 0644).
func TestDatabaseFilesArePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "private.db")
	db, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.CreateUser(t, db, &store.User{UserName: "secretive", PasswordHash: "$argon2id$x"})
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		wantPrivate(t, p)
	}
}

// TestBackupIsPrivateAndRefusesLinks: a backup is a new 0600 file; a path
// where anything exists is refused, a symbolic link even when it points
// nowhere (before: the copy was written 0644 through it).
func TestBackupIsPrivateAndRefusesLinks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openTemp(t)
	storetest.CreateUser(t, db, &store.User{UserName: "backed-up"})
	out := filepath.Join(dir, "backup.db")
	if err := db.BackupTo(ctx, out); err != nil {
		t.Fatal(err)
	}
	wantPrivate(t, out)
	if err := db.BackupTo(ctx, out); err == nil {
		t.Fatal("a backup overwrote an existing file")
	}

	target := filepath.Join(dir, "elsewhere.db")
	dangling := filepath.Join(dir, "dangling.db")
	if err := os.Symlink(target, dangling); err != nil {
		t.Fatal(err)
	}
	if err := db.BackupTo(ctx, dangling); err == nil {
		t.Fatal("a backup was written through a dangling symbolic link")
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Fatalf("the link's target was created: %v", err)
	}
	// A path that cannot be created is an error.
	if err := db.BackupTo(ctx, filepath.Join(dir, "no-such-dir", "b.db")); err == nil {
		t.Fatal("a backup into a missing directory")
	}
}
