package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// runWith runs a command line with stdin, as main does.
func runWith(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &cli{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut}
	err = c.run(context.Background(), args)
	return out.String(), errOut.String(), err
}

// TestUserCommands: create (with a role and a password from stdin), list,
// set-role, deactivate and activate; a change to several users is all or
// nothing; a Pterodactyl key for a non-admin warns that it will get 403.
func TestUserCommands(t *testing.T) {
	db := newDB(t, "ops@example.com")
	out, _, err := runWith(t, "s3cret-Passw0rd\n", "user", "create", "alice@example.com", "--db", db, "--email", "alice@example.com",
		"--given-name", "Alice", "--family-name", "Liddell", "--role", "admin", "--password-stdin")
	if err != nil || !strings.Contains(out, "user alice@example.com created") || !strings.Contains(out, "role admin") {
		t.Fatalf("user create: %q %v", out, err)
	}
	if _, _, err := runWith(t, "", "user", "create", "alice@example.com", "--db", db); err == nil || !strings.Contains(err.Error(), "alice@example.com") {
		t.Fatalf("duplicate user: %v", err)
	}
	if _, _, err := runWith(t, "", "user", "create", "bob", "--db", db, "--password-stdin"); err == nil || !strings.Contains(err.Error(), "no password") {
		t.Fatalf("empty password: %v", err)
	}

	st, err := sqlite.Open(context.Background(), db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := st.GetUserByUserName(context.Background(), "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := auth.CheckPassword(alice.PasswordHash, "s3cret-Passw0rd"); !ok || !store.IsAdmin(alice) || alice.PrimaryEmail() != "alice@example.com" {
		t.Fatalf("stored user: %+v", alice)
	}
	st.Close()

	out, _, err = runWith(t, "", "user", "list", "--db", db, "--json")
	var users []userView
	if err != nil || json.Unmarshal([]byte(out), &users) != nil || len(users) != 2 {
		t.Fatalf("user list --json: %q %v", out, err)
	}
	if users[1].UserName != "alice@example.com" || users[1].Role != "admin" || users[1].DisplayName != "Alice Liddell" || !users[1].Active {
		t.Fatalf("user list --json: %s", out)
	}

	// A key for a user who is no admin gets 403 from Pterodactyl: say so.
	_, errOut, err := runWith(t, "", "apikey", "create", "--db", db, "--api", "pterodactyl", "--user", "ops@example.com")
	if err != nil || !strings.Contains(errOut, "not an admin") || !strings.Contains(errOut, "user set-role ops@example.com admin") {
		t.Fatalf("pterodactyl key for a non-admin: %q %v", errOut, err)
	}
	if out, _, err := runWith(t, "", "user", "set-role", "ops@example.com", "owner", "--db", db); err != nil || !strings.Contains(out, "role owner") {
		t.Fatalf("set-role: %q %v", out, err)
	}
	if _, errOut, _ := runWith(t, "", "apikey", "create", "--db", db, "--api", "pterodactyl", "--user", "ops@example.com"); errOut != "" {
		t.Fatalf("warned for an owner: %q", errOut)
	}
	if out, _, err := runWith(t, "", "user", "set-role", "alice@example.com", "user", "--db", db); err != nil || !strings.Contains(out, "role user") {
		t.Fatalf("set-role user: %q %v", out, err)
	}

	// Unknown user among several: nobody is deactivated.
	if _, _, err := runWith(t, "", "user", "deactivate", "ops@example.com", "ghost", "--db", db); err == nil || !strings.Contains(err.Error(), `"ghost"`) {
		t.Fatalf("deactivate with an unknown user: %v", err)
	}
	out, _, _ = runWith(t, "", "user", "list", "--db", db)
	if strings.Contains(out, " no ") {
		t.Fatalf("a failed deactivate changed a user:\n%s", out)
	}
	if out, _, err := runWith(t, "", "user", "deactivate", "ops@example.com", "alice@example.com", "--db", db); err != nil || strings.Count(out, "deactivated") != 2 {
		t.Fatalf("deactivate: %q %v", out, err)
	}
	out, _, _ = runWith(t, "", "user", "list", "--db", db)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "USERNAME") || strings.Count(out, " no ") != 2 || !strings.Contains(lines[1], "owner") {
		t.Fatalf("user list after deactivate:\n%s", out)
	}
	assertAligned(t, lines, "ACTIVE")
	if out, _, err := runWith(t, "", "user", "activate", "alice@example.com", "--db", db); err != nil || !strings.Contains(out, "activated") {
		t.Fatalf("activate: %q %v", out, err)
	}
}

// TestUserLogoutAndSetPassword: `user logout` ends every session and
// refresh token of the named users in every door and leaves other users'
// and API keys alone; `user set-password` sets the password and, by the
// store's rule, ends the user's sessions too; an unknown name changes
// nothing.
func TestUserLogoutAndSetPassword(t *testing.T) {
	db := newDB(t, "alice", "bob")
	ctx := context.Background()
	open := func() *sqlite.DB {
		st, err := sqlite.Open(ctx, db, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// Sessions of two dialects and a refresh token for alice, a session
	// for bob, an API key for alice.
	kinds := []string{auth.SessionKind("xyops"), auth.SessionKind("xstudio"), "refresh:usersapi", "apikey:xpdev"}
	seed := func() {
		st := open()
		defer st.Close()
		err := st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
			for _, name := range []string{"alice", "bob"} {
				u, err := tx.GetUserByUserName(ctx, name)
				if err != nil {
					return err
				}
				for _, k := range kinds {
					if name == "bob" && k != auth.SessionKind("xyops") {
						continue
					}
					c := &store.Credential{Kind: k, Name: name + " " + k, SecretHash: auth.HashToken(name + k + t.Name()),
						UserKey: u.Key, Expires: time.Now().Add(time.Hour)}
					if err := tx.CreateCredential(ctx, c); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	held := func(name string) []string {
		st := open()
		defer st.Close()
		u, err := st.GetUserByUserName(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range kinds {
			cs, err := st.ListCredentials(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				if c.UserKey == u.Key {
					out = append(out, k)
				}
			}
		}
		return out
	}
	seed()

	if _, _, err := runWith(t, "", "user", "logout", "alice", "nobody", "--db", db); err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Fatalf("logout of an unknown user: %v", err)
	}
	if got := held("alice"); len(got) != 4 {
		t.Fatalf("a refused logout ended credentials: alice holds %v", got)
	}
	out, _, err := runWith(t, "", "user", "logout", "alice", "--db", db)
	if err != nil || !strings.Contains(out, "user alice: logged out everywhere (3 ") {
		t.Fatalf("user logout: %q %v", out, err)
	}
	if got := held("alice"); len(got) != 1 || got[0] != "apikey:xpdev" {
		t.Errorf("after logout alice holds %v, want only her API key", got)
	}
	if got := held("bob"); len(got) != 1 {
		t.Errorf("alice's logout touched bob: %v", got)
	}

	bobKinds := held("bob")
	out, _, err = runWith(t, "N3w-Passw0rd-for-bob\n", "user", "set-password", "bob", "--db", db)
	if err != nil || !strings.Contains(out, "user bob: password set") {
		t.Fatalf("user set-password: %q %v", out, err)
	}
	if got := held("bob"); len(got) != 0 {
		t.Errorf("a password set by the CLI left bob's sessions %v (before: %v)", got, bobKinds)
	}
	st := open()
	bob, err := st.GetUserByUserName(ctx, "bob")
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := auth.CheckPassword(bob.PasswordHash, "N3w-Passw0rd-for-bob"); !ok {
		t.Error("the password set by the CLI does not check")
	}
	if _, _, err := runWith(t, "", "user", "set-password", "bob", "--db", db); err == nil || !strings.Contains(err.Error(), "no password") {
		t.Errorf("set-password without a password: %v", err)
	}
}
