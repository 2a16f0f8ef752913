package ldapsync

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store"
)

// credentials creates credentials of the kinds given for a user, and
// reports which of them are still stored.
type credentials struct {
	t  *testing.T
	st store.Store
	n  int
}

func (c *credentials) add(kind string, user *store.User) *store.Credential {
	c.t.Helper()
	c.n++
	cred := &store.Credential{Kind: kind, UserKey: user.Key, SecretHash: fmt.Sprintf("%064x", 7000+c.n)}
	err := c.st.Write(context.Background(), store.Actor{Door: "test"}, func(tx store.Tx) error {
		return tx.CreateCredential(context.Background(), cred)
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return cred
}

func (c *credentials) stored(cred *store.Credential) bool {
	c.t.Helper()
	_, err := c.st.FindCredential(context.Background(), cred.Kind, cred.SecretHash)
	if err != nil && !store.IsNotFound(err) {
		c.t.Fatal(err)
	}
	return err == nil
}

// changePassword sets a password with the Password Modify extended
// operation, as a user's or an administrator's tool does, so that the
// password policy overlay stamps pwdChangedTime.
func changePassword(t *testing.T, srv *ldaptest.Server, dn, password string) {
	t.Helper()
	if _, err := srv.Conn(t).PasswordModify(ldap.NewPasswordModifyRequest(dn, "", password)); err != nil {
		t.Fatalf("password modify %s: %v", dn, err)
	}
}

// A password changed in the directory ends that user's sessions and
// refresh tokens in every door, in the transaction of the sync run that
// sees the entry's pwdChangedTime move (issue 11: "a password change or
// reset through any door or the directory"), whichever way the run reads
// the directory; API keys and other users' sessions stay. The entry's
// only change is the operational pwdChangedTime (and its entryCSN). A
// session created after the run survives the next, unchanged run, which
// opens no write transaction.
func TestDirectoryPasswordChangeEndsSessions(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts ldaptest.Options
		run  RunOptions
	}{
		{"incremental, content sync", ldaptest.Options{}, RunOptions{}},
		{"incremental, paged search", ldaptest.Options{NoContentSync: true}, RunOptions{}},
		{"full", ldaptest.Options{}, RunOptions{Full: true}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			opts := mode.opts
			opts.PasswordPolicy, opts.LDIF = true, directoryLDIF()
			srv := ldaptest.Start(t, opts)
			st := &writeCounter{Store: newStore(t)}
			s := newSyncer(t, st, sourceFor(srv))
			syncOnce(t, s, RunOptions{})
			syncOnce(t, s, RunOptions{}) // learns the cookies
			alice, bob := mustUser(t, st, "alice"), mustUser(t, st, "bob")
			if alice.SourcePasswordChanged != noPasswordChange {
				t.Fatalf("alice's password-change time before any change = %q", alice.SourcePasswordChanged)
			}
			creds := &credentials{t: t, st: st}
			ended := []*store.Credential{creds.add("session:xyops", alice), creds.add("refresh:usersapi", alice),
				creds.add("session:usersapi", alice)}
			kept := []*store.Credential{creds.add("apikey:xpdev", alice), creds.add("session:xyops", bob),
				creds.add("refresh:usersapi", bob)}

			changePassword(t, srv, userDN("alice"), "new-secret")
			var changes []Change
			run := mode.run
			run.OnChange = func(c Change) { changes = append(changes, c) }
			rep := syncOnce(t, s, run)
			if rep.Users.Updated != 1 || rep.Failed != 0 {
				t.Fatalf("run after alice's password change: %s", rep.Summary())
			}
			if len(changes) != 1 || changes[0].Name != "alice" ||
				!strings.Contains(changes[0].Detail, "password changed in the directory: 3 sessions ended") {
				t.Fatalf("changes reported: %+v", changes)
			}
			for _, c := range ended {
				if creds.stored(c) {
					t.Errorf("alice's %s survived her password change in the directory", c.Kind)
				}
			}
			for _, c := range kept {
				if !creds.stored(c) {
					t.Errorf("%s of user %d ended with alice's password change", c.Kind, c.UserKey)
				}
			}
			if got := mustUser(t, st, "alice").SourcePasswordChanged; got == noPasswordChange || got == "" {
				t.Fatalf("alice's password-change time after the change = %q", got)
			}

			// The new session proves the new password: an unchanged run
			// keeps it and writes nothing.
			fresh := creds.add("session:xyops", alice)
			before := st.writes.Load()
			rep = syncOnce(t, s, mode.run)
			if n := st.writes.Load() - before; n != 0 || rep.Users.Updated != 0 {
				t.Fatalf("unchanged run after the change: %s, %d write transactions", rep.Summary(), n)
			}
			if !creds.stored(fresh) {
				t.Fatal("an unchanged run ended a session")
			}
		})
	}
}

// The first time a run reads a user's password-change time (the users of
// a store synced before the attribute was mapped) nothing ends: the sync
// cannot tell whether the password changed since. From then on a change
// ends the sessions.
func TestFirstReadOfPasswordChangeEndsNothing(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{PasswordPolicy: true, LDIF: directoryLDIF()})
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.Attributes = map[string]string{attrPasswordChanged: ""}
	syncOnce(t, newSyncer(t, st, cfg), RunOptions{Full: true})
	alice := mustUser(t, st, "alice")
	if alice.SourcePasswordChanged != "" {
		t.Fatalf("unmapped, the password-change time was stored: %q", alice.SourcePasswordChanged)
	}
	creds := &credentials{t: t, st: st}
	first := creds.add("session:xyops", alice)
	changePassword(t, srv, userDN("alice"), "new-secret")

	s := newSyncer(t, st, sourceFor(srv))
	if rep := syncOnce(t, s, RunOptions{Full: true}); rep.Users.Updated != 4 {
		t.Fatalf("run that maps passwordChanged: %s", rep.Summary())
	}
	if !creds.stored(first) {
		t.Fatal("the first read of the password-change time ended a session")
	}
}

// Active Directory's pwdLastSet, which AD sets on every password change
// or reset, is read by the AD preset and ends the sessions the same way.
func TestActiveDirectoryPwdLastSetEndsSessions(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{ADSchema: true, LDIF: adUser("Alice Adams", "alice", 512, 100, 0, "pwdLastSet: 133000000000000000") +
		adUser("Bob Brown", "bob", 512, 101, 1, "pwdLastSet: 133000000000000000")})
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.Preset, cfg.Groups.BaseDN = PresetActiveDirectory, ""
	s := newSyncer(t, st, cfg)
	syncOnce(t, s, RunOptions{})
	creds := &credentials{t: t, st: st}
	alices, bobs := creds.add("session:xyops", mustUser(t, st, "alice")), creds.add("session:xyops", mustUser(t, st, "bob"))

	srv.Modify(t, "dn: cn=Alice Adams,"+ldaptest.PeopleDN+"\nchangetype: modify\nreplace: pwdLastSet\npwdLastSet: 134000000000000000\n-\nreplace: uSNChanged\nuSNChanged: 200\n")
	if rep := syncOnce(t, s, RunOptions{}); rep.Mode != "incremental" || rep.Users.Updated != 1 {
		t.Fatalf("run after alice's password reset: %s", rep.Summary())
	}
	if creds.stored(alices) {
		t.Error("alice's session survived her password reset in AD")
	}
	if !creds.stored(bobs) {
		t.Error("bob's session ended with alice's password reset")
	}
}

// A password a door changed and write-back wrote to the directory moves
// the entry's pwdChangedTime too; the door already ended the sessions of
// the old password, so the inbound run must not take it for a change made
// in the directory and end the sessions of the new one: write-back reads
// the time back and stores it with the user.
func TestWrittenBackPasswordEndsNoSessionAgain(t *testing.T) {
	srv := writableServer(t, ldaptest.Options{PasswordPolicy: true})
	st := newStore(t)
	s := newSyncer(t, st, writeBackFor(t, srv))
	alice := createUser(t, s, st, &store.User{UserName: "alice", Active: true, DisplayName: "Alice Smith",
		Name: store.Name{GivenName: "Alice", FamilyName: "Smith"}, PasswordHash: "$argon2id$stand-in", NewPassword: "wonderland"})
	if _, rep := deliver(t, s); rep.Delivered != 1 {
		t.Fatalf("create: %+v", rep)
	}
	syncOnce(t, s, RunOptions{})
	// pwdChangedTime counts seconds: the next change must fall in another.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))

	updateUser(t, s, st, alice.ID, func(u *store.User) { u.PasswordHash, u.NewPassword = "$argon2id$stand-in-2", "looking-glass" })
	creds := &credentials{t: t, st: st}
	login := creds.add("session:xyops", alice) // with the new password
	if _, rep := deliver(t, s); rep.Delivered != 1 || !canBind(t, srv, userDN("alice"), "looking-glass") {
		t.Fatalf("password change: %+v", rep)
	}
	if rep := syncOnce(t, s, RunOptions{}); rep.Users.Updated != 0 {
		t.Fatalf("inbound run after the written-back password: %s", rep.Summary())
	}
	if !creds.stored(login) {
		t.Fatal("the inbound run ended a session of the password write-back wrote")
	}
	if es := pendingOutbox(t, st); len(es) != 0 {
		t.Fatalf("storing the time read back echoed %d changes into the outbox", len(es))
	}
}
