package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// bulkUser is a user as a directory import creates it; i numbers it.
func bulkUser(i int) *store.User {
	return &store.User{UserName: fmt.Sprintf(" Bulk-%03d ", i), Active: i%7 != 0, DisplayName: fmt.Sprintf("Bulk %d", i),
		Name:   store.Name{GivenName: "Bulk", FamilyName: fmt.Sprint(i)},
		Emails: []store.Value{{Value: fmt.Sprintf("bulk-%03d@example.com", i), Type: "work", Primary: true}},
		Source: store.Source{Name: "corp", ID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), DN: fmt.Sprintf("uid=bulk-%03d,dc=example", i)}}
}

// createUsers runs CreateUsers in a transaction of its own.
func createUsers(s store.Store, a store.Actor, users []*store.User) error {
	return s.Write(ctx(), a, func(tx store.Tx) error { return tx.CreateUsers(ctx(), users) })
}

// CreateUsers stores each user as CreateUser does: the same normalised
// user, keys, e-mail lookups, directory links, externalIds and activity
// entries, in order, whatever the batch's size.
func testCreateUsers(t *testing.T, s store.Store) {
	const n = 150 // more than one statement's worth of rows in a batch
	users := make([]*store.User, n)
	for i := range users {
		users[i] = bulkUser(i)
	}
	users[3].ExternalID = "ext-3"
	users[4].Emails = append(users[4].Emails, store.Value{Value: "Bulk-004@Example.com", Type: "home"})
	users[5].Emails = nil
	users[6].PasswordHash = "$argon2id$fake"
	twin := bulkUser(999) // created one by one, for comparison
	twin.ExternalID, twin.UserName = "ext-999", " Twin "
	CreateUser(t, s, twin)
	if err := createUsers(s, actor, users); err != nil {
		t.Fatal(err)
	}
	for i, u := range users {
		if u.Key == 0 || u.ID == "" || u.Meta.Version != 1 || u.UserName != fmt.Sprintf("Bulk-%03d", i) {
			t.Fatalf("user %d as created: key %d id %q meta %+v userName %q", i, u.Key, u.ID, u.Meta, u.UserName)
		}
		got, err := s.GetUser(ctx(), u.ID)
		if err != nil {
			t.Fatalf("user %d: %v", i, err)
		}
		if got.Key != u.Key || !reflect.DeepEqual(got.Emails, u.Emails) || got.Source != u.Source || got.Active != u.Active ||
			got.DisplayName != u.DisplayName || got.ExternalID != u.ExternalID || got.PasswordHash != u.PasswordHash {
			t.Fatalf("user %d stored as %+v, created as %+v", i, got, u)
		}
		if bySource, err := s.GetUserBySource(ctx(), "corp", u.Source.ID); err != nil || bySource.ID != u.ID {
			t.Fatalf("user %d by its directory identity: %v %v", i, bySource, err)
		}
	}
	if keys := users[n-1].Key - users[0].Key; keys != n-1 || users[0].Key <= twin.Key {
		t.Fatalf("keys %d..%d after the twin's %d: not in order", users[0].Key, users[n-1].Key, twin.Key)
	}
	// The twin, created alone, is stored the same way.
	gotTwin, err := s.GetUser(ctx(), twin.ID)
	if err != nil || gotTwin.UserName != "Twin" || gotTwin.Meta.Version != 1 {
		t.Fatalf("twin: %+v %v", gotTwin, err)
	}
	for _, f := range []struct {
		attr, value string
		want        *store.User
	}{{"emails.value", "BULK-120@example.com", users[120]}, {"emails.value", "bulk-004@EXAMPLE.com", users[4]},
		{"externalId", "ext-3", users[3]}, {"userName", "bulk-077", users[77]}} {
		page, err := s.ListUsers(ctx(), store.Query{Filter: store.Compare{Attr: f.attr, Op: store.OpEq, Value: f.value}, Limit: 10})
		if err != nil || page.Total != 1 || page.Users[0].ID != f.want.ID {
			t.Fatalf("%s eq %q: %+v %v", f.attr, f.value, page, err)
		}
	}
	if all, err := s.ListUsers(ctx(), store.Query{Limit: 0}); err != nil || all.Total != n+1 {
		t.Fatalf("count after the batch: %+v %v", all, err)
	}
	acts, total, err := s.ListActivity(ctx(), store.ActivityQuery{Action: "user.create", Ascending: true, Limit: 1000})
	if err != nil || total != n+1 {
		t.Fatalf("activity: %d entries, %v", total, err)
	}
	for i, a := range acts[1:] {
		u := users[i]
		if a.ResourceID != u.ID || a.ResourceKey != u.Key || a.UserKey != u.Key || a.UserID != u.ID || a.ResourceType != "User" ||
			a.Detail != "userName="+u.UserName || a.Actor != actor {
			t.Fatalf("activity entry of user %d: %+v", i, a)
		}
	}
	if err := createUsers(s, actor, nil); err != nil {
		t.Fatalf("an empty batch: %v", err)
	}
}

// A batch with a user CreateUser would refuse writes nothing and names
// the first one refused, with CreateUser's error for it; the transaction
// goes on without the batch.
func testCreateUsersRefused(t *testing.T, s store.Store) {
	taken := CreateUser(t, s, &store.User{UserName: "taken", Emails: []store.Value{{Value: "taken@example.com"}}})
	_, acts, err := s.ListActivity(ctx(), store.ActivityQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	batch := func(n int, change func(us []*store.User)) []*store.User {
		us := make([]*store.User, n)
		for i := range us {
			us[i] = bulkUser(i)
		}
		change(us)
		return us
	}
	for _, tc := range []struct {
		name  string
		users []*store.User
		index int
		kind  store.Kind
		field string
	}{
		{"userName in the store", batch(100, func(us []*store.User) { us[70].UserName = "TAKEN" }), 70, store.KindConflict, "userName"},
		{"userName twice in the batch", batch(100, func(us []*store.User) { us[90].UserName = "bulk-010" }), 90, store.KindConflict, "userName"},
		{"e-mail in the store", batch(10, func(us []*store.User) { us[4].Emails[0].Value = "Taken@example.com" }), 4, store.KindConflict, "emails"},
		{"e-mail twice in the batch", batch(10, func(us []*store.User) { us[8].Emails[0].Value = "BULK-002@example.com" }), 8, store.KindConflict, "emails"},
		{"no userName", batch(10, func(us []*store.User) { us[1].UserName = " " }), 1, store.KindInvalid, "userName"},
		{"the first of two", batch(10, func(us []*store.User) { us[6].UserName, us[3].Emails[0].Value = "taken", "taken@example.com" }), 3, store.KindConflict, "emails"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var bulkErr error
			err := s.Write(ctx(), actor, func(tx store.Tx) error {
				bulkErr = tx.CreateUsers(ctx(), tc.users)
				return tx.CreateUser(ctx(), &store.User{UserName: "after-" + tc.name})
			})
			if err != nil {
				t.Fatalf("the transaction after the refused batch: %v", err)
			}
			var ie *store.ItemError
			if !errors.As(bulkErr, &ie) || ie.Index != tc.index {
				t.Fatalf("error %v, want an ItemError for user %d", bulkErr, tc.index)
			}
			wantField(t, bulkErr, tc.kind, tc.field)
			// The one user after the batch, nothing of the batch.
			wantNothingWritten(t, s, 2, 0, acts+1)
			if _, err := s.GetUserBySource(ctx(), "corp", tc.users[0].Source.ID); !store.IsNotFound(err) {
				t.Fatalf("a user of the refused batch was stored: %v", err)
			}
			acts++
			page, err := s.ListUsers(ctx(), store.Query{Filter: store.Compare{Attr: "userName", Op: store.OpEq, Value: "after-" + tc.name}, Limit: 1})
			if err != nil || page.Total != 1 {
				t.Fatalf("the user after the batch: %+v %v", page, err)
			}
			if err := s.Write(ctx(), actor, func(tx store.Tx) error {
				u, err := tx.GetUserByUserName(ctx(), "after-"+tc.name)
				if err != nil {
					return err
				}
				return tx.DeleteUser(ctx(), u.ID)
			}); err != nil {
				t.Fatal(err)
			}
			acts++
		})
	}
	if _, err := s.GetUser(ctx(), taken.ID); err != nil {
		t.Fatal(err)
	}
}

// A door's batch goes to the outbox as its creates one by one would.
func testCreateUsersOutbox(t *testing.T, s store.Store) {
	write(t, s, actor, func(tx store.Tx) error { return tx.SetOutbox(ctx(), true) })
	scim := store.Actor{Door: "scim", Principal: "okta"}
	users := []*store.User{bulkUser(1), bulkUser(2), bulkUser(3)}
	users[2].ExternalID = "ext-3"
	if err := createUsers(s, scim, users); err != nil {
		t.Fatal(err)
	}
	es := outbox(t, s)
	if len(es) != len(users) {
		t.Fatalf("%d outbox entries, want %d", len(es), len(users))
	}
	for i, e := range es {
		u := users[i]
		if e.Action != "user.create" || e.ResourceID != u.ID || e.Actor != scim || e.UserBefore != nil || e.User == nil ||
			e.User.UserName != u.UserName || e.User.ExternalID != u.ExternalID || e.User.Source != u.Source {
			t.Fatalf("outbox entry %d: %+v", i, e)
		}
	}
	// The directory sync's own batch is not recorded.
	if err := createUsers(s, store.Actor{Door: "ldapsync", Principal: "corp"}, []*store.User{bulkUser(4)}); err != nil {
		t.Fatal(err)
	}
	if es := outbox(t, s); len(es) != len(users) {
		t.Fatalf("the sync's batch reached the outbox: %d entries", len(es))
	}
}

// Filling a group that has no members (what an import does, for every
// group) stores each member, an activity entry per member in order, and a
// new version of the group and of each member user, whatever the number
// of members; a member that does not exist, or the group itself, is
// refused, the first one given named, and nothing is written.
func testFillGroup(t *testing.T, s store.Store) {
	const n = 150
	users := make([]*store.User, n)
	for i := range users {
		users[i] = bulkUser(i)
	}
	if err := createUsers(s, actor, users); err != nil {
		t.Fatal(err)
	}
	sub := createGroup(t, s, &store.Group{DisplayName: "sub"})
	g := createGroup(t, s, &store.Group{DisplayName: "all"})
	refs := []store.MemberRef{{ID: sub.ID}}
	for i, u := range users {
		typ := store.MemberUser
		if i%10 == 3 {
			typ = store.MemberGroup // a wrong hint is corrected
		}
		refs = append(refs, store.MemberRef{ID: u.ID, Type: typ})
	}
	refs = append(refs, store.MemberRef{ID: users[5].ID}) // listed twice
	for _, bad := range []struct {
		refs []store.MemberRef
		msg  string
	}{
		{append(append([]store.MemberRef{}, refs[:100]...), store.MemberRef{ID: "nobody"}, store.MemberRef{ID: g.ID}), `"nobody"`},
		{append(append([]store.MemberRef{}, refs[:100]...), store.MemberRef{ID: g.ID}, store.MemberRef{ID: "nobody"}), "itself"},
	} {
		err := s.Write(ctx(), actor, func(tx store.Tx) error { return tx.SetMembers(ctx(), g.ID, bad.refs) })
		wantField(t, err, store.KindInvalid, "members")
		if !strings.Contains(err.Error(), bad.msg) {
			t.Fatalf("error %q, want the first bad member (%s)", err, bad.msg)
		}
	}
	_, before, err := s.ListActivity(ctx(), store.ActivityQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, actor, func(tx store.Tx) error { return tx.SetMembers(ctx(), g.ID, refs) })
	got, err := s.GetGroup(ctx(), g.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Members) != n+1 || got.Meta.Version != g.Meta.Version+1 {
		t.Fatalf("%d members (want %d), version %d after %d", len(got.Members), n+1, got.Meta.Version, g.Meta.Version)
	}
	types := map[string]store.MemberType{}
	for _, m := range got.Members {
		types[m.ID] = m.Type
	}
	if types[sub.ID] != store.MemberGroup || types[users[3].ID] != store.MemberUser || types[users[149].ID] != store.MemberUser {
		t.Fatalf("member types %v", types)
	}
	acts, total, err := s.ListActivity(ctx(), store.ActivityQuery{ResourceID: g.ID, Action: "group.members.add", Ascending: true, Limit: 1000})
	if err != nil || total != n+1 || len(acts) != n+1 {
		t.Fatalf("%d membership entries, %v", total, err)
	}
	if a := acts[0]; a.Detail != "member="+sub.ID || a.UserKey != 0 {
		t.Fatalf("the sub-group's entry: %+v", a)
	}
	for i, a := range acts[1:] {
		if u := users[i]; a.Detail != "member="+u.ID || a.UserKey != u.Key || a.UserID != u.ID || a.ResourceKey != g.Key {
			t.Fatalf("entry of member %d: %+v", i, a)
		}
	}
	if _, after, _ := s.ListActivity(ctx(), store.ActivityQuery{Limit: 1}); after != before+n+1 {
		t.Fatalf("%d activity entries written, want %d", after-before, n+1)
	}
	for _, i := range []int{0, 64, 149} {
		u, err := s.GetUser(ctx(), users[i].ID)
		if err != nil || u.Meta.Version != 2 || len(u.Groups) != 1 || u.Groups[0].ID != g.ID {
			t.Fatalf("member %d after the fill: %+v %v", i, u, err)
		}
	}
}
