package storetest

import (
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// testPrimaryFlags: a value's primary flag is kept as given, true, false
// or unsaid, and so is a removed active.
func testPrimaryFlags(t *testing.T, s store.Store) {
	u := CreateUser(t, s, &store.User{UserName: "ann",
		Emails: []store.Value{{Value: "a@x", Primary: true}, {Value: "b@x", NotPrimary: true}, {Value: "c@x"}},
		Roles:  []store.Value{{Value: "admin", NotPrimary: true}},
		Addresses: []store.Address{{Locality: "Oslo", NotPrimary: true}, {Locality: "Bergen", Primary: true},
			{Locality: "Tromsø"}},
	})
	got, err := s.GetUser(ctx(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Value{{Value: "a@x", Primary: true}, {Value: "b@x", NotPrimary: true}, {Value: "c@x"}}
	for i := range want {
		if got.Emails[i] != want[i] {
			t.Errorf("email %d: %+v, want %+v", i, got.Emails[i], want[i])
		}
	}
	if got.Roles[0] != (store.Value{Value: "admin", NotPrimary: true}) {
		t.Errorf("role %+v", got.Roles[0])
	}
	if a := got.Addresses; !a[0].NotPrimary || a[0].Primary || !a[1].Primary || a[2].Primary || a[2].NotPrimary {
		t.Errorf("addresses %+v", a)
	}
	if got.PrimaryEmail() != "a@x" {
		t.Errorf("primary e-mail %q", got.PrimaryEmail())
	}
	// Only one primary per attribute, whatever the other flags say.
	err = s.Write(ctx(), actor, func(tx store.Tx) error {
		_, err := tx.UpdateUser(ctx(), u.ID, func(u *store.User) error { u.Emails[1].Primary = true; return nil })
		return err
	})
	wantKind(t, err, store.KindInvalid)

	out, err := update(t, s, u.ID, func(u *store.User) error { u.Active, u.ActiveRemoved = false, true; return nil })
	if err != nil || out.Active || !out.ActiveRemoved {
		t.Fatalf("removing active: %+v, %v", out, err)
	}
	if got, _ := s.GetUser(ctx(), u.ID); got.Active || !got.ActiveRemoved {
		t.Errorf("a removed active reads back as %v/%v", got.Active, got.ActiveRemoved)
	}
}
