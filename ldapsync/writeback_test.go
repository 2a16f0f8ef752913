package ldapsync

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store"
)

// A user created through a door reaches the directory with its password;
// the entry's entryUUID links the user, so the next inbound run sees the
// same user, and nothing echoes back.
func TestWriteBackCreatesAUserWithItsPassword(t *testing.T) {
	srv := writableServer(t, ldaptest.Options{})
	st := newStore(t)
	s := newSyncer(t, st, writeBackFor(t, srv))
	alice := createUser(t, s, st, &store.User{UserName: "alice", Active: true, DisplayName: "Alice Smith",
		Name: store.Name{GivenName: "Alice", FamilyName: "Smith"}, Title: "Engineer",
		Emails:       []store.Value{{Value: "alice@example.com", Primary: true}, {Value: "a.smith@example.com"}},
		PasswordHash: "$argon2id$stand-in", NewPassword: "wonderland"})
	if obj, err := st.GetObject(context.Background(), PasswordKind, alice.ID); err != nil || strings.Contains(string(obj.Doc), "wonderland") {
		t.Fatalf("sealed password: %v %s", err, obj.Doc)
	}

	ds, rep := deliver(t, s)
	if rep.Delivered != 1 || !slices.Equal(outcomes(ds), []string{"user.create:delivered"}) {
		t.Fatalf("deliveries: %+v", ds)
	}
	e := entry(t, srv, userDN("alice"), "*", "entryUUID")
	if e == nil || e.GetAttributeValue("cn") != "Alice Smith" || e.GetAttributeValue("sn") != "Smith" ||
		e.GetAttributeValue("givenName") != "Alice" || e.GetAttributeValue("title") != "Engineer" ||
		!slices.Equal(e.GetAttributeValues("mail"), []string{"alice@example.com", "a.smith@example.com"}) {
		t.Fatalf("entry: %+v", e)
	}
	if !canBind(t, srv, userDN("alice"), "wonderland") || canBind(t, srv, userDN("alice"), "wrong") {
		t.Fatal("the password did not reach the directory")
	}
	u := mustUser(t, st, "alice")
	if u.Source.Name != "corp" || u.Source.ID != e.GetAttributeValue("entryUUID") || !strings.EqualFold(u.Source.DN, userDN("alice")) {
		t.Fatalf("alice's link: %+v", u.Source)
	}
	if _, err := st.GetObject(context.Background(), PasswordKind, alice.ID); !store.IsNotFound(err) {
		t.Fatalf("the sealed password outlived its delivery: %v", err)
	}
	if es := pendingOutbox(t, st); len(es) != 0 {
		t.Fatalf("outbox after delivery: %+v", es)
	}

	// The inbound sync finds the entry it was linked to: the same user,
	// nothing to change, and nothing goes back out.
	rep2 := syncOnce(t, s, RunOptions{})
	if rep2.Users.Created != 0 || rep2.Users.Linked != 0 || rep2.Failed != 0 || countUsers(t, st) != 1 {
		t.Fatalf("inbound run after write-back: %s %+v", rep2.Summary(), rep2.Errors)
	}
	if got := mustUser(t, st, "alice"); got.ID != alice.ID || got.Title != "Engineer" {
		t.Fatalf("alice after the inbound run: %+v", got)
	}
	if es := pendingOutbox(t, st); len(es) != 0 {
		t.Fatalf("the inbound run echoed %d changes into the outbox", len(es))
	}
	if _, rep := deliver(t, s); rep.Delivered+rep.Failed != 0 {
		t.Fatalf("a second pass delivered again: %+v", rep)
	}
}

// Attribute changes are one modify of what changed, a rename is a modrdn
// (the entry and its entryUUID stay), a new password goes through the
// Password Modify operation, a deactivation sets the configured attribute,
// a delete removes the entry and its member values.
func TestWriteBackUpdatesRenamesDeactivatesAndDeletes(t *testing.T) {
	srv := writableServer(t, ldaptest.Options{LDIF: groupOfNames("staff", "cn=admin,dc=example,dc=com")})
	st := newStore(t)
	cfg := writeBackFor(t, srv)
	cfg.Attributes = map[string]string{"active": "employeeType"}
	s := newSyncer(t, st, cfg)
	bob := createUser(t, s, st, &store.User{UserName: "bob", Active: true, Name: store.Name{GivenName: "Bob", FamilyName: "Jones"},
		Emails: []store.Value{{Value: "bob@example.com", Primary: true}}})
	syncOnce(t, s, RunOptions{}) // links the group staff
	deliver(t, s)
	uuid := entryUUID(t, srv, userDN("bob"))
	if e := entry(t, srv, userDN("bob"), "employeeType"); e.GetAttributeValue("employeeType") != "TRUE" {
		t.Fatalf("active bob's employeeType: %v", e.GetAttributeValues("employeeType"))
	}

	updateUser(t, s, st, bob.ID, func(u *store.User) {
		u.Title, u.Name.FamilyName, u.Emails = "Manager", "Brown", nil
	})
	ds, _ := deliver(t, s)
	if len(ds) != 1 || len(ds[0].Ops) != 1 || !strings.HasPrefix(ds[0].Ops[0], "modify uid=bob,") {
		t.Fatalf("update: %+v", ds)
	}
	for _, want := range []string{"replace sn: Brown", "replace title: Manager", "replace mail: (none)"} {
		if !strings.Contains(ds[0].Ops[0], want) {
			t.Errorf("update's modify lacks %q: %s", want, ds[0].Ops[0])
		}
	}
	if strings.Contains(ds[0].Ops[0], "givenName") {
		t.Errorf("an unchanged attribute was written: %s", ds[0].Ops[0])
	}
	e := entry(t, srv, userDN("bob"), "sn", "title", "mail")
	if e.GetAttributeValue("sn") != "Brown" || e.GetAttributeValue("title") != "Manager" || len(e.GetAttributeValues("mail")) != 0 {
		t.Fatalf("entry after the update: %+v", e)
	}

	// A rename keeps the entry: same entryUUID, new DN, and the link follows.
	updateUser(t, s, st, bob.ID, func(u *store.User) { u.UserName = "robert" })
	ds, _ = deliver(t, s)
	if len(ds) != 1 || ds[0].Outcome != outcomeDelivered || entry(t, srv, userDN("bob")) != nil {
		t.Fatalf("rename: %+v", ds)
	}
	if got := entryUUID(t, srv, userDN("robert")); got != uuid {
		t.Fatalf("rename made a new entry: %s, was %s", got, uuid)
	}
	if u := mustUser(t, st, "robert"); !strings.EqualFold(u.Source.DN, userDN("robert")) || u.Source.ID != uuid {
		t.Fatalf("link after the rename: %+v", u.Source)
	}

	// A new password, given in clear by the door, is written and then gone.
	updateUser(t, s, st, bob.ID, func(u *store.User) { u.PasswordHash, u.NewPassword = "$argon2id$x", "s3cret" })
	ds, _ = deliver(t, s)
	if !slices.Equal(outcomes(ds), []string{"user.update:skipped", "password.change:delivered"}) || !canBind(t, srv, userDN("robert"), "s3cret") {
		t.Fatalf("password change: %+v", ds)
	}

	// Membership: adding one member is one modify of one value.
	staff := mustGroup(t, st, "staff")
	door(t, s, st, func(tx store.Tx) error {
		_, err := tx.AddMembers(context.Background(), staff.ID, []store.MemberRef{{ID: bob.ID}})
		return err
	})
	ds, _ = deliver(t, s)
	if len(ds) != 1 || len(ds[0].Ops) != 1 || ds[0].Ops[0] != "modify "+groupDN("staff")+" add member: uid=robert,"+ldaptest.PeopleDN {
		t.Fatalf("member add: %+v", ds)
	}
	if got := members(t, srv, groupDN("staff")); !slices.Contains(got, "uid=robert,"+ldaptest.PeopleDN) {
		t.Fatalf("staff members: %v", got)
	}

	// Deactivation writes the attribute active is read from.
	updateUser(t, s, st, bob.ID, func(u *store.User) { u.Active = false })
	deliver(t, s)
	if e := entry(t, srv, userDN("robert"), "employeeType"); e.GetAttributeValue("employeeType") != "FALSE" {
		t.Fatalf("deactivated robert's employeeType: %v", e.GetAttributeValues("employeeType"))
	}
	if rep := syncOnce(t, s, RunOptions{}); mustUser(t, st, "robert").Active || rep.Failed != 0 {
		t.Fatalf("inbound run after the deactivation: %s", rep.Summary())
	}

	// A delete removes the entry and the member values naming it.
	door(t, s, st, func(tx store.Tx) error { return tx.DeleteUser(context.Background(), bob.ID) })
	ds, _ = deliver(t, s)
	if !slices.Equal(outcomes(ds), []string{"user.delete:delivered"}) || entry(t, srv, userDN("robert")) != nil {
		t.Fatalf("delete: %+v", ds)
	}
	if got := members(t, srv, groupDN("staff")); slices.Contains(got, "uid=robert,"+ldaptest.PeopleDN) {
		t.Fatalf("staff still lists the deleted user: %v", got)
	}
	if es := pendingOutbox(t, st); len(es) != 0 {
		t.Fatalf("outbox after everything: %+v", es)
	}
}
