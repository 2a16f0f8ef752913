package storetest

import (
	"slices"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// Identity integrity: keys are never handed to another user or group, a
// deleted user's history stays its own, userNames compare under RFC 8265
// and e-mail addresses belong to one user unless the policy shares them.

func deleteUser(t *testing.T, s store.Store, id string) {
	t.Helper()
	if err := s.Write(ctx(), actor, func(tx store.Tx) error { return tx.DeleteUser(ctx(), id) }); err != nil {
		t.Fatal(err)
	}
}

// testKeysNeverReused: the newest user and group deleted, the next ones
// get new keys, and the deleted user's history does not become theirs.
func testKeysNeverReused(t *testing.T, s store.Store) {
	CreateUser(t, s, &store.User{UserName: "first"})
	gone := CreateUser(t, s, &store.User{UserName: "gone"})
	deleteUser(t, s, gone.ID)
	next := CreateUser(t, s, &store.User{UserName: "next"})
	if next.Key <= gone.Key {
		t.Fatalf("a new user got key %d after user key %d was deleted", next.Key, gone.Key)
	}
	acts, _, err := s.ListActivity(ctx(), store.ActivityQuery{UserID: next.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 1 || acts[0].Action != "user.create" || acts[0].ResourceID != next.ID {
		t.Fatalf("the new user's history holds another user's entries: %+v", acts)
	}

	createGroup(t, s, &store.Group{DisplayName: "first"})
	g := createGroup(t, s, &store.Group{DisplayName: "gone"})
	if err := s.Write(ctx(), actor, func(tx store.Tx) error { return tx.DeleteGroup(ctx(), g.ID) }); err != nil {
		t.Fatal(err)
	}
	if h := createGroup(t, s, &store.Group{DisplayName: "next"}); h.Key <= g.Key {
		t.Fatalf("a new group got key %d after group key %d was deleted", h.Key, g.Key)
	}
}

// testActivityAfterDelete: a deleted user's entries, its memberships'
// included, are found by its SCIM id and name it.
func testActivityAfterDelete(t *testing.T, s store.Store) {
	u := CreateUser(t, s, &store.User{UserName: "leaver"})
	createGroup(t, s, &store.Group{DisplayName: "staff", Members: []store.Member{{ID: u.ID}}})
	if err := s.Write(ctx(), actor, func(tx store.Tx) error {
		return tx.Record(ctx(), store.Activity{Action: "login", ResourceType: "User", ResourceID: u.ID,
			ResourceKey: u.Key, UserKey: u.Key, Detail: "test"})
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx(), actor, func(tx store.Tx) error {
		// Named by key alone, as API key entries are.
		return tx.Record(ctx(), store.Activity{Action: "apikey.create", ResourceType: "User", UserKey: u.Key})
	}); err != nil {
		t.Fatal(err)
	}
	deleteUser(t, s, u.ID)
	CreateUser(t, s, &store.User{UserName: "leaver"}) // the name taken again
	acts, total, err := s.ListActivity(ctx(), store.ActivityQuery{UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range acts {
		if a.UserID != u.ID || a.UserKey != u.Key {
			t.Fatalf("entry of the deleted user names another: %+v", a)
		}
		actions = append(actions, a.Action)
	}
	want := []string{"user.delete", "apikey.create", "login", "group.members.add", "user.create"}
	if !slices.Equal(actions, want) || total != len(want) {
		t.Fatalf("the deleted user's history by id: %v (total %d), want %v", actions, total, want)
	}
}

// testUserNamePRECIS: userNames equal under RFC 8265 UsernameCaseMapped
// (width, case, NFC) are one name, for uniqueness and every lookup; the
// name is kept as sent.
func testUserNamePRECIS(t *testing.T, s store.Store) {
	pairs := []struct{ stored, other string }{
		{"ÄRNE", "ärne"},
		{"kim", "\u212Aim"},           // KELVIN SIGN
		{"ｂｏｂ", "Bob"},                // full width
		{"Ren\u00e9e", "rene\u0301e"}, // precomposed, decomposed
		{"Mary Ann", "MARY ANN"},      // a space: outside PRECIS, same mappings
	}
	for _, p := range pairs {
		u := CreateUser(t, s, &store.User{UserName: p.stored})
		if got, err := s.GetUser(ctx(), u.ID); err != nil || got.UserName != p.stored {
			t.Fatalf("%q stored as %q (%v), want it as sent", p.stored, got.UserName, err)
		}
		wantField(t, tryCreateUser(s, &store.User{UserName: p.other}), store.KindConflict, "userName")
		for _, name := range []string{p.stored, p.other} {
			got, err := s.GetUserByUserName(ctx(), name)
			if err != nil || got.ID != u.ID {
				t.Fatalf("GetUserByUserName(%q): %+v %v, want %q", name, got, err, p.stored)
			}
			page, err := s.ListUsers(ctx(), store.Query{Filter: store.Compare{Attr: "userName", Op: store.OpEq, Value: name}, Limit: 10})
			if err != nil || len(page.Users) != 1 || page.Users[0].ID != u.ID || page.Total != 1 {
				t.Fatalf("userName eq %q: %+v %v", name, page, err)
			}
			page, err = s.ListUsers(ctx(), store.Query{Filter: store.Compare{Attr: "userName", Op: store.OpNe, Value: name}, Limit: 10})
			if err != nil || slices.ContainsFunc(page.Users, func(o *store.User) bool { return o.ID == u.ID }) {
				t.Fatalf("userName ne %q finds %q: %v", name, p.stored, err)
			}
		}
	}
	other := CreateUser(t, s, &store.User{UserName: "other"})
	_, err := update(t, s, other.ID, func(u *store.User) error { u.UserName = "ärne"; return nil })
	wantField(t, err, store.KindConflict, "userName")
	// A user may change the case or width of its own name.
	if got, err := update(t, s, other.ID, func(u *store.User) error { u.UserName = "ＯＴＨＥＲ"; return nil }); err != nil || got.UserName != "ＯＴＨＥＲ" {
		t.Fatalf("renaming a user to another form of its own name: %+v %v", got, err)
	}
	// Names that only look alike stay apart: PRECIS maps width, not
	// compatibility forms, and "ß" is not "ss".
	CreateUser(t, s, &store.User{UserName: "straße"})
	CreateUser(t, s, &store.User{UserName: "strasse"})
}

// testEmailsUnique: by default an address belongs to one user, whatever
// its type and the case of its ASCII letters, on create and update, in one
// transaction too; the user's own addresses and a deleted user's are free.
func testEmailsUnique(t *testing.T, s store.Store) {
	a := CreateUser(t, s, &store.User{UserName: "anna", Emails: []store.Value{{Value: "Anna@Example.com", Type: "work"}}})
	wantField(t, tryCreateUser(s, &store.User{UserName: "anna2", Emails: []store.Value{{Value: "anna@example.COM", Type: "home"}}}),
		store.KindConflict, "emails")
	b := CreateUser(t, s, &store.User{UserName: "ben", Emails: []store.Value{{Value: "ben@example.com"}}})
	_, err := update(t, s, b.ID, func(u *store.User) error {
		u.Emails = append(u.Emails, store.Value{Value: "ANNA@example.com", Type: "other"})
		return nil
	})
	wantField(t, err, store.KindConflict, "emails")
	err = s.Write(ctx(), actor, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx(), &store.User{UserName: "c1", Emails: []store.Value{{Value: "same@example.com"}}}); err != nil {
			return err
		}
		return tx.CreateUser(ctx(), &store.User{UserName: "c2", Emails: []store.Value{{Value: "Same@example.com"}}})
	})
	wantField(t, err, store.KindConflict, "emails")
	wantNothingWritten(t, s, 2, 0, 2)

	// One user may list an address twice, keep it, or change its case.
	if _, err := update(t, s, a.ID, func(u *store.User) error {
		u.Emails = []store.Value{{Value: "anna@example.com", Type: "work", Primary: true}, {Value: "ANNA@example.com", Type: "home"}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	page, err := s.ListUsers(ctx(), store.Query{Filter: store.Compare{Attr: "emails.value", Op: store.OpEq, Value: "anna@EXAMPLE.com"}, Limit: 10})
	if err != nil || page.Total != 1 {
		t.Fatalf("one user per address: %+v %v", page, err)
	}
	// An address given up, or whose user is deleted, is free again.
	if _, err := update(t, s, a.ID, func(u *store.User) error { u.Emails = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := update(t, s, b.ID, func(u *store.User) error {
		u.Emails = append(u.Emails, store.Value{Value: "anna@example.com"})
		return nil
	}); err != nil {
		t.Fatalf("an address no one holds any more: %v", err)
	}
	deleteUser(t, s, b.ID)
	CreateUser(t, s, &store.User{UserName: "ben2", Emails: []store.Value{{Value: "ben@example.com"}}})
}

// RunSharedEmails checks a store opened with store.Policy{SharedEmails:
// true}: users may share addresses, and lookups by address find them all.
func RunSharedEmails(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	a := CreateUser(t, s, &store.User{UserName: "desk1", Emails: []store.Value{{Value: "desk@example.com"}}})
	b := CreateUser(t, s, &store.User{UserName: "desk2", Emails: []store.Value{{Value: "DESK@example.com"}}})
	c := CreateUser(t, s, &store.User{UserName: "desk3"})
	if _, err := update(t, s, c.ID, func(u *store.User) error {
		u.Emails = []store.Value{{Value: "desk@example.com"}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	page, err := s.ListUsers(ctx(), store.Query{Filter: store.Compare{Attr: "emails.value", Op: store.OpEq, Value: "desk@example.com"}, Limit: 10})
	if err != nil || page.Total != 3 || page.Users[0].ID != a.ID || page.Users[1].ID != b.ID {
		t.Fatalf("shared address: %+v %v", page, err)
	}
	// The other rules stay.
	wantField(t, tryCreateUser(s, &store.User{UserName: "DESK1"}), store.KindConflict, "userName")
}
