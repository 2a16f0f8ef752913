package storetest

import (
	"fmt"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// testPasswordEndsSessions: a password change ends the user's sessions and
// refresh tokens of every kind in its own transaction, except the session
// the context keeps; API keys, tokens and other users' sessions stay.
func testPasswordEndsSessions(t *testing.T, s store.Store) {
	bob := CreateUser(t, s, &store.User{UserName: "bob", Active: true, PasswordHash: "$argon2id$old"})
	eve := CreateUser(t, s, &store.User{UserName: "eve", Active: true})
	n := 0
	cred := func(kind string, userKey int64) *store.Credential {
		t.Helper()
		n++
		c := &store.Credential{Kind: kind, UserKey: userKey, SecretHash: fmt.Sprintf("%064x", 1000+n)}
		if err := s.Write(ctx(), actor, func(tx store.Tx) error { return tx.CreateCredential(ctx(), c) }); err != nil {
			t.Fatal(err)
		}
		return c
	}
	current := cred("session:xstudio", bob.Key)
	ended := []*store.Credential{cred("session:xyops", bob.Key), cred("session:usersapi", bob.Key),
		cred("refresh:usersapi", bob.Key), cred("session:xstudio", bob.Key)}
	kept := []*store.Credential{current, cred("apikey:xpdev", bob.Key), cred("scim-token", bob.Key),
		cred("session:xyops", eve.Key), cred("refresh:usersapi", eve.Key)}
	err := s.Write(store.KeepSession(ctx(), current.ID), actor, func(tx store.Tx) error {
		_, err := tx.UpdateUser(store.KeepSession(ctx(), current.ID), bob.ID, func(u *store.User) error {
			u.PasswordHash = "$argon2id$new"
			return nil
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ended {
		if _, err := s.FindCredential(ctx(), c.Kind, c.SecretHash); !store.IsNotFound(err) {
			t.Errorf("%s of bob survived his password change: %v", c.Kind, err)
		}
	}
	for _, c := range kept {
		if _, err := s.FindCredential(ctx(), c.Kind, c.SecretHash); err != nil {
			t.Errorf("%s (user %d) ended with bob's password change: %v", c.Kind, c.UserKey, err)
		}
	}
	// A change that leaves the password alone ends nothing.
	if _, err := update(t, s, bob.ID, func(u *store.User) error { u.DisplayName = "Bob"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindCredential(ctx(), current.Kind, current.SecretHash); err != nil {
		t.Fatal("a profile change ended a session")
	}
	// Logging out everywhere ends the rest but keep.
	again := cred("session:xyops", bob.Key)
	var got int
	err = s.Write(ctx(), actor, func(tx store.Tx) error {
		var err error
		got, err = tx.EndSessions(ctx(), bob.Key, again.ID)
		return err
	})
	if err != nil || got != 1 {
		t.Fatalf("EndSessions: %d, %v; want 1 (the kept one stays)", got, err)
	}
	if _, err := s.FindCredential(ctx(), current.Kind, current.SecretHash); !store.IsNotFound(err) {
		t.Fatal("EndSessions left a session")
	}
	if _, err := s.FindCredential(ctx(), again.Kind, again.SecretHash); err != nil {
		t.Fatal("EndSessions ended the session it keeps")
	}
}

// testActivityByAddress: the activity log is filtered by the actor's
// client address (the lockout counts failed logins per address).
func testActivityByAddress(t *testing.T, s store.Store) {
	for i, addr := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.1"} {
		a := store.Actor{Door: "test", Address: addr}
		err := s.Write(ctx(), a, func(tx store.Tx) error {
			return tx.Record(ctx(), store.Activity{Action: store.ActionLoginFailure, Detail: fmt.Sprint(i)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	got, total, err := s.ListActivity(ctx(), store.ActivityQuery{Action: store.ActionLoginFailure, Address: "192.0.2.1"})
	if err != nil || total != 2 || len(got) != 2 || got[0].Actor.Address != "192.0.2.1" {
		t.Fatalf("by address: %d %+v %v", total, got, err)
	}
}
