package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// The first administrator is created explicitly, with a role, never by a
// magic name.
func TestUserCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "u.db")
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("Owner-Password-1\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCmd(t, "user", "create", "--db", db, "--name", "root", "--password-file", pwFile,
		"--role", "owner", "--email", "root@example.com"); err != nil || !strings.Contains(out, "owner") {
		t.Fatalf("create owner: %q %v", out, err)
	}
	// No account but an owner can take the name XStudio gives every right.
	if _, err := runCmd(t, "user", "create", "--db", db, "--name", "Admin", "--role", "admin"); err == nil ||
		!strings.Contains(err.Error(), "reserved") {
		t.Fatalf("admin named admin: %v", err)
	}
	if _, err := runCmd(t, "user", "create", "--db", db, "--name", "kim"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCmd(t, "user", "set-role", "--db", db, "--name", "kim", "--role", "moderator"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{
		{"user"}, {"user", "create", "--db", db}, {"user", "create", "--db", db, "--name", "x", "--role", "root"},
		{"user", "create", "--db", db, "--name", "x", "--password-file", filepath.Join(dir, "missing")},
		{"user", "set-role", "--db", db, "--name", "ghost", "--role", "admin"}, {"user", "rename", "--db", db, "--name", "kim"},
	} {
		if _, err := runCmd(t, bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}

	ctx := context.Background()
	st, err := sqlite.Open(ctx, db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	root, err := st.GetUserByUserName(ctx, "root")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := auth.CheckPassword(root.PasswordHash, "Owner-Password-1"); !ok || store.PrivilegeOf(root) != store.PrivilegeOwner ||
		root.PrimaryEmail() != "root@example.com" || !root.Active {
		t.Fatalf("owner: %+v", root)
	}
	kim, err := st.GetUserByUserName(ctx, "kim")
	if err != nil || store.PrivilegeOf(kim) != store.PrivilegeModerator || kim.PasswordHash != "" {
		t.Fatalf("kim: %+v %v", kim, err)
	}
	if top, err := store.Top(ctx, st); err != nil || top.Key != root.Key {
		t.Fatalf("top account: %+v %v", top, err)
	}
}
