// Package storetest is the behaviour every store backend must show. A
// backend's tests call Run with a constructor for an empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Run runs the suite; newStore returns a fresh, empty store for each test.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"UserCreateGet", testUserCreateGet},
		{"CreateUsers", testCreateUsers},
		{"CreateUsersRefused", testCreateUsersRefused},
		{"CreateUsersOutbox", testCreateUsersOutbox},
		{"FillGroup", testFillGroup},
		{"UserUniqueness", testUserUniqueness},
		{"ConcurrentCreates", testConcurrentCreates},
		{"UserUpdate", testUserUpdate},
		{"UserDelete", testUserDelete},
		{"TransactionAtomic", testTransactionAtomic},
		{"Groups", testGroups},
		{"NestedGroups", testNestedGroups},
		{"Filters", testFilters},
		{"SortAndPage", testSortAndPage},
		{"Cursor", testCursor},
		{"Activity", testActivity},
		{"Credentials", testCredentials},
		{"Objects", testObjects},
		{"Sourced", testSourced},
		{"UserNameRules", testUserNameRules},
		{"TextRules", testTextRules},
		{"LimitsOnUpdate", testLimitsOnUpdate},
		{"GroupLimits", testGroupLimits},
		{"ConflictFields", testConflictFields},
		{"KeysNeverReused", testKeysNeverReused},
		{"ActivityAfterDelete", testActivityAfterDelete},
		{"UserNamePRECIS", testUserNamePRECIS},
		{"EmailsUnique", testEmailsUnique},
		{"ExternalIDNotUnique", testExternalIDNotUnique},
		{"ExternalIDDomains", testExternalIDDomains},
		{"GroupExternalIDDomains", testGroupExternalIDDomains},
		{"ExternalIDSortAndCursor", testExternalIDSortAndCursor},
		{"MemberTypeHint", testMemberTypeHint},
		{"PrimaryFlags", testPrimaryFlags},
		{"NoLostUpdate", testNoLostUpdate},
		{"FailedChangeKeepsTransaction", testFailedChangeKeepsTransaction},
		{"PasswordEndsSessions", testPasswordEndsSessions},
		{"ActivityByAddress", testActivityByAddress},
		{"Outbox", testOutbox},
		{"OutboxExternalID", testOutboxExternalID},
		{"OutboxDomains", testOutboxDomains},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

var actor = store.Actor{Door: "test", Principal: "storetest"}

func ctx() context.Context { return context.Background() }

// CreateUser writes one user in its own transaction.
func CreateUser(t testing.TB, s store.Store, u *store.User) *store.User {
	t.Helper()
	if err := s.Write(ctx(), actor, func(tx store.Tx) error { return tx.CreateUser(ctx(), u) }); err != nil {
		t.Fatalf("create user %q: %v", u.UserName, err)
	}
	return u
}

func createGroup(t testing.TB, s store.Store, g *store.Group) *store.Group {
	t.Helper()
	if err := s.Write(ctx(), actor, func(tx store.Tx) error { return tx.CreateGroup(ctx(), g) }); err != nil {
		t.Fatalf("create group %q: %v", g.DisplayName, err)
	}
	return g
}

func wantKind(t *testing.T, err error, kind store.Kind) {
	t.Helper()
	if store.KindOf(err) != kind {
		t.Fatalf("got error %v (kind %v), want kind %v", err, store.KindOf(err), kind)
	}
}

func testUserCreateGet(t *testing.T, s store.Store) {
	u := CreateUser(t, s, &store.User{
		UserName: " bjensen@example.com ", ExternalID: "ext-1", Active: true,
		Name:       store.Name{GivenName: "Barbara", FamilyName: "Jensen"},
		Emails:     []store.Value{{Value: "bjensen@example.com", Type: "work", Primary: true}},
		Enterprise: &store.Enterprise{Department: "Tour Operations", Manager: &store.Manager{Value: "m-1"}},
	})
	if u.ID == "" || u.Key == 0 || u.Meta.Version != 1 || u.Meta.Created.IsZero() {
		t.Fatalf("create did not assign identity and meta: %+v", u)
	}
	if u.UserName != "bjensen@example.com" {
		t.Fatalf("userName not trimmed: %q", u.UserName)
	}
	for _, get := range []func() (*store.User, error){
		func() (*store.User, error) { return s.GetUser(ctx(), u.ID) },
		func() (*store.User, error) { return s.GetUserByKey(ctx(), u.Key) },
		func() (*store.User, error) { return s.GetUserByUserName(ctx(), "BJENSEN@example.com") },
	} {
		got, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != u.ID || got.Name.GivenName != "Barbara" || got.Enterprise == nil ||
			got.Enterprise.Manager.Value != "m-1" || got.ExternalID != "ext-1" || !got.Active ||
			!got.Meta.Created.Equal(u.Meta.Created) {
			t.Fatalf("read back %+v", got)
		}
	}
	_, err := s.GetUser(ctx(), "no-such-id")
	wantKind(t, err, store.KindNotFound)
	err = s.Write(ctx(), actor, func(tx store.Tx) error { return tx.CreateUser(ctx(), &store.User{UserName: "  "}) })
	wantKind(t, err, store.KindInvalid)
	err = s.Write(ctx(), actor, func(tx store.Tx) error {
		return tx.CreateUser(ctx(), &store.User{UserName: "two-primaries", Emails: []store.Value{
			{Value: "a@x", Primary: true}, {Value: "b@x", Primary: true}}})
	})
	wantKind(t, err, store.KindInvalid)
}

func testUserUniqueness(t *testing.T, s store.Store) {
	CreateUser(t, s, &store.User{UserName: "Alice", ExternalID: "A1"})
	// userName is case-insensitive. (externalId is not unique: see
	// testExternalIDNotUnique.)
	err := s.Write(ctx(), actor, func(tx store.Tx) error { return tx.CreateUser(ctx(), &store.User{UserName: "alice"}) })
	wantKind(t, err, store.KindConflict)
	CreateUser(t, s, &store.User{UserName: "other", ExternalID: "a1"})
	CreateUser(t, s, &store.User{UserName: "no-external-1"})
	CreateUser(t, s, &store.User{UserName: "no-external-2"})

	createGroup(t, s, &store.Group{DisplayName: "Admins"})
	err = s.Write(ctx(), actor, func(tx store.Tx) error { return tx.CreateGroup(ctx(), &store.Group{DisplayName: "admins"}) })
	wantKind(t, err, store.KindConflict)
}

func testConcurrentCreates(t *testing.T, s store.Store) {
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Write(ctx(), actor, func(tx store.Tx) error {
				return tx.CreateUser(ctx(), &store.User{UserName: "racer"})
			})
		}()
	}
	wg.Wait()
	ok, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case store.KindOf(err) == store.KindConflict:
			conflicts++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok != 1 || conflicts != 7 {
		t.Fatalf("%d created, %d conflicts; want 1 and 7", ok, conflicts)
	}
}

func update(t *testing.T, s store.Store, id string, fn func(u *store.User) error) (*store.User, error) {
	t.Helper()
	var out *store.User
	err := s.Write(ctx(), actor, func(tx store.Tx) error {
		var err error
		out, err = tx.UpdateUser(ctx(), id, fn)
		return err
	})
	return out, err
}

func testUserUpdate(t *testing.T, s store.Store) {
	u := CreateUser(t, s, &store.User{UserName: "carol", Emails: []store.Value{{Value: "carol@old.example"}}})
	time.Sleep(2 * time.Millisecond)
	got, err := update(t, s, u.ID, func(u *store.User) error {
		u.Emails = []store.Value{{Value: "carol@new.example", Primary: true}}
		u.Key, u.ID = 999, "hijack" // identity changes are ignored
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Meta.Version != 2 || got.ID != u.ID || got.Key != u.Key || !got.Meta.LastModified.After(u.Meta.LastModified) {
		t.Fatalf("update meta wrong: %+v", got.Meta)
	}
	// A change that changes nothing stores nothing.
	same, err := update(t, s, u.ID, func(u *store.User) error { return nil })
	if err != nil || same.Meta.Version != 2 {
		t.Fatalf("no-op update bumped the version: %v %v", same.Meta.Version, err)
	}
	// The e-mail index follows the update.
	page, err := s.ListUsers(ctx(), store.Query{Limit: 10, Filter: store.Compare{Attr: "emails.value", Op: store.OpEq, Value: "CAROL@new.example"}})
	if err != nil || page.Total != 1 {
		t.Fatalf("new email not found: %+v %v", page, err)
	}
	page, _ = s.ListUsers(ctx(), store.Query{Limit: 10, Filter: store.Compare{Attr: "emails.value", Op: store.OpEq, Value: "carol@old.example"}})
	if page.Total != 0 {
		t.Fatal("old email still indexed")
	}
	// An error from fn aborts.
	_, err = update(t, s, u.ID, func(u *store.User) error {
		u.UserName = "changed"
		return store.Errorf(store.KindInvalid, "no")
	})
	wantKind(t, err, store.KindInvalid)
	if cur, _ := s.GetUser(ctx(), u.ID); cur.UserName != "carol" {
		t.Fatal("failed update was written")
	}
	_, err = update(t, s, "missing", func(u *store.User) error { return nil })
	wantKind(t, err, store.KindNotFound)
	CreateUser(t, s, &store.User{UserName: "dave"})
	_, err = update(t, s, u.ID, func(u *store.User) error { u.UserName = "DAVE"; return nil })
	wantKind(t, err, store.KindConflict)
}

func testUserDelete(t *testing.T, s store.Store) {
	u := CreateUser(t, s, &store.User{UserName: "erin"})
	g := createGroup(t, s, &store.Group{DisplayName: "team", Members: []store.Member{{ID: u.ID}}})
	if err := s.Write(ctx(), actor, func(tx store.Tx) error {
		return tx.CreateCredential(ctx(), &store.Credential{Kind: "k", UserKey: u.Key, SecretHash: fmt.Sprintf("%064d", 1)})
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx(), actor, func(tx store.Tx) error { return tx.DeleteUser(ctx(), u.ID) }); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetUser(ctx(), u.ID)
	wantKind(t, err, store.KindNotFound)
	got, err := s.GetGroup(ctx(), g.ID, true)
	if err != nil || len(got.Members) != 0 || got.Meta.Version != g.Meta.Version+1 {
		t.Fatalf("deleted user still a member, or group version not bumped: %+v %v", got, err)
	}
	if _, err := s.FindCredential(ctx(), "k", fmt.Sprintf("%064d", 1)); !store.IsNotFound(err) {
		t.Fatal("credential of deleted user kept")
	}
	err = s.Write(ctx(), actor, func(tx store.Tx) error { return tx.DeleteUser(ctx(), u.ID) })
	wantKind(t, err, store.KindNotFound)
}

func testTransactionAtomic(t *testing.T, s store.Store) {
	boom := errors.New("boom")
	err := s.Write(ctx(), actor, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx(), &store.User{UserName: "ghost"}); err != nil {
			return err
		}
		if err := tx.CreateGroup(ctx(), &store.Group{DisplayName: "ghosts"}); err != nil {
			return err
		}
		// Reads inside see the writes.
		if _, err := tx.GetUserByUserName(ctx(), "ghost"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if _, err := s.GetUserByUserName(ctx(), "ghost"); !store.IsNotFound(err) {
		t.Fatal("rolled-back user is visible")
	}
	if p, _ := s.ListGroups(ctx(), store.Query{Limit: 10}); p.Total != 0 {
		t.Fatal("rolled-back group is visible")
	}
	acts, _, _ := s.ListActivity(ctx(), store.ActivityQuery{})
	if len(acts) != 0 {
		t.Fatal("rolled-back activity is visible")
	}
}

func testGroups(t *testing.T, s store.Store) {
	a := CreateUser(t, s, &store.User{UserName: "a", DisplayName: "Alice A"})
	b := CreateUser(t, s, &store.User{UserName: "b"})
	c := CreateUser(t, s, &store.User{UserName: "c"})
	g := createGroup(t, s, &store.Group{DisplayName: "Eng", Members: []store.Member{{ID: a.ID}, {ID: b.ID}}})
	if len(g.Members) != 2 || g.Members[0].Display != "Alice A" || g.Members[1].Display != "b" {
		t.Fatalf("members %+v", g.Members)
	}
	// Read without members does not load them.
	bare, err := s.GetGroup(ctx(), g.ID, false)
	if err != nil || bare.Members != nil {
		t.Fatalf("members loaded without asking: %+v", bare)
	}
	ua, _ := s.GetUser(ctx(), a.ID)
	if len(ua.Groups) != 1 || ua.Groups[0].ID != g.ID || !ua.Groups[0].Direct || ua.Groups[0].Display != "Eng" {
		t.Fatalf("user groups %+v", ua.Groups)
	}
	write := func(fn func(tx store.Tx) error) error { return s.Write(ctx(), actor, fn) }
	var n int
	if err := write(func(tx store.Tx) (err error) {
		n, err = tx.AddMembers(ctx(), g.ID, []store.MemberRef{{ID: b.ID}, {ID: c.ID}})
		return err
	}); err != nil || n != 1 {
		t.Fatalf("add: n=%d err=%v (adding a present member is a no-op)", n, err)
	}
	err = write(func(tx store.Tx) error {
		_, err := tx.AddMembers(ctx(), g.ID, []store.MemberRef{{ID: "nobody"}})
		return err
	})
	wantKind(t, err, store.KindInvalid)
	err = write(func(tx store.Tx) error {
		_, err := tx.AddMembers(ctx(), g.ID, []store.MemberRef{{ID: g.ID}})
		return err
	})
	wantKind(t, err, store.KindInvalid)
	if err := write(func(tx store.Tx) (err error) {
		n, err = tx.RemoveMembers(ctx(), g.ID, []string{a.ID, "nobody"})
		return err
	}); err != nil || n != 1 {
		t.Fatalf("remove: n=%d err=%v", n, err)
	}
	if err := write(func(tx store.Tx) error {
		return tx.SetMembers(ctx(), g.ID, []store.MemberRef{{ID: a.ID}, {ID: c.ID}})
	}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetGroup(ctx(), g.ID, true)
	ids := map[string]bool{}
	for _, m := range got.Members {
		ids[m.ID] = true
	}
	if len(got.Members) != 2 || !ids[a.ID] || !ids[c.ID] {
		t.Fatalf("after set: %+v", got.Members)
	}
	if got.Meta.Version <= g.Meta.Version {
		t.Fatal("membership changes did not bump the group version")
	}
	if ub, _ := s.GetUser(ctx(), b.ID); ub.Meta.Version < 2 {
		t.Fatal("removing a member did not bump its version")
	}
	if ok, _ := s.HasMember(ctx(), g.Key, store.MemberUser, c.Key); !ok {
		t.Fatal("HasMember false for a member")
	}
	// Rename keeps the id and members.
	renamed, err := func() (*store.Group, error) {
		var out *store.Group
		err := write(func(tx store.Tx) (err error) {
			out, err = tx.UpdateGroup(ctx(), g.ID, func(g *store.Group) error { g.DisplayName = "Engineering"; return nil })
			return err
		})
		return out, err
	}()
	if err != nil || renamed.DisplayName != "Engineering" || renamed.ID != g.ID {
		t.Fatalf("rename: %+v %v", renamed, err)
	}
	page, err := s.ListGroups(ctx(), store.Query{Limit: 10, Filter: store.Compare{Attr: "members.value", Op: store.OpEq, Value: c.ID}})
	if err != nil || page.Total != 1 || page.Groups[0].ID != g.ID {
		t.Fatalf("members.value filter: %+v %v", page, err)
	}
	page, err = s.ListGroups(ctx(), store.Query{Limit: 10, Filter: store.Compare{Attr: "members", Op: store.OpEq, Value: c.ID}})
	if err != nil || page.Total != 1 || page.Groups[0].ID != g.ID {
		t.Fatalf("members eq (the values of members): %+v %v", page, err)
	}
	if err := write(func(tx store.Tx) error { return tx.DeleteGroup(ctx(), g.ID) }); err != nil {
		t.Fatal(err)
	}
	if uc, _ := s.GetUser(ctx(), c.ID); len(uc.Groups) != 0 {
		t.Fatal("deleted group still listed on its member")
	}
}

func testNestedGroups(t *testing.T, s store.Store) {
	u := CreateUser(t, s, &store.User{UserName: "nested"})
	inner := createGroup(t, s, &store.Group{DisplayName: "inner", Members: []store.Member{{ID: u.ID}}})
	outer := createGroup(t, s, &store.Group{DisplayName: "outer", Members: []store.Member{{ID: inner.ID, Type: store.MemberGroup}}})
	// A cycle must not hang the walk.
	if err := s.Write(ctx(), actor, func(tx store.Tx) error {
		_, err := tx.AddMembers(ctx(), inner.ID, []store.MemberRef{{ID: outer.ID}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetUser(ctx(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	direct := map[string]bool{}
	for _, g := range got.Groups {
		direct[g.ID] = g.Direct
	}
	if len(got.Groups) != 2 || !direct[inner.ID] || direct[outer.ID] {
		t.Fatalf("groups %+v", got.Groups)
	}
}

func seedFilterUsers(t *testing.T, s store.Store) map[string]*store.User {
	t.Helper()
	users := map[string]*store.User{}
	for _, u := range []*store.User{
		{UserName: "bjensen", ExternalID: "E1", Active: true, Title: "Tour Guide", DisplayName: "Babs Jensen",
			Name:       store.Name{FamilyName: "Jensen", GivenName: "Barbara"},
			Emails:     []store.Value{{Value: "bjensen@example.com", Type: "work", Primary: true}, {Value: "babs@jensen.org", Type: "home"}},
			Enterprise: &store.Enterprise{Department: "Tours", EmployeeNumber: "701984"}},
		{UserName: "jsmith", ExternalID: "E2", Active: false, DisplayName: "John Smith",
			Name:         store.Name{FamilyName: "Smith", GivenName: "John"},
			Emails:       []store.Value{{Value: "jsmith@example.org", Type: "work"}},
			PhoneNumbers: []store.Value{{Value: "555-1234", Type: "mobile"}}},
		{UserName: "Zoe_100%", Active: true, Name: store.Name{FamilyName: "Zed"}},
	} {
		users[u.UserName] = CreateUser(t, s, u)
	}
	return users
}

func testFilters(t *testing.T, s store.Store) {
	users := seedFilterUsers(t, s)
	cmp := func(attr string, op store.Op, v any) store.Expr { return store.Compare{Attr: attr, Op: op, Value: v} }
	cases := []struct {
		name string
		f    store.Expr
		want []string
	}{
		{"eq ci", cmp("userName", store.OpEq, "BJENSEN"), []string{"bjensen"}},
		{"ne", cmp("userName", store.OpNe, "bjensen"), []string{"jsmith", "Zoe_100%"}},
		{"co", cmp("name.familyName", store.OpCo, "ENS"), []string{"bjensen"}},
		{"co escapes %", cmp("userName", store.OpCo, "100%"), []string{"Zoe_100%"}},
		{"co escapes _", cmp("userName", store.OpCo, "e_1"), []string{"Zoe_100%"}},
		{"sw", cmp("userName", store.OpSw, "j"), []string{"jsmith"}},
		{"ew", cmp("emails.value", store.OpEw, "example.org"), []string{"jsmith"}},
		{"gt string", cmp("userName", store.OpGt, "k"), []string{"Zoe_100%"}},
		{"externalId case-exact", cmp("externalId", store.OpEq, "e1"), nil},
		{"externalId", cmp("externalId", store.OpEq, "E1"), []string{"bjensen"}},
		{"id", cmp("id", store.OpEq, users["jsmith"].ID), []string{"jsmith"}},
		{"boolean", cmp("active", store.OpEq, false), []string{"jsmith"}},
		{"boolean string", cmp("active", store.OpEq, "True"), []string{"bjensen", "Zoe_100%"}},
		{"pr", cmp("title", store.OpPr, nil), []string{"bjensen"}},
		{"pr multi", cmp("phoneNumbers", store.OpPr, nil), []string{"jsmith"}},
		{"not", store.Not{X: cmp("title", store.OpEq, "Tour Guide")}, []string{"jsmith", "Zoe_100%"}},
		{"and/or", store.Or{Left: store.And{Left: cmp("active", store.OpEq, true), Right: cmp("name.familyName", store.OpSw, "z")},
			Right: cmp("userName", store.OpEq, "jsmith")}, []string{"jsmith", "Zoe_100%"}},
		{"value filter", store.ValueFilter{Attr: "emails", Filter: store.And{
			Left: cmp("type", store.OpEq, "work"), Right: cmp("value", store.OpCo, "@example.com")}}, []string{"bjensen"}},
		{"value filter no cross-match", store.ValueFilter{Attr: "emails", Filter: store.And{
			Left: cmp("type", store.OpEq, "home"), Right: cmp("value", store.OpCo, "@example.com")}}, nil},
		{"value filter json", store.ValueFilter{Attr: "phoneNumbers", Filter: cmp("type", store.OpEq, "MOBILE")}, []string{"jsmith"}},
		{"primary", store.ValueFilter{Attr: "emails", Filter: cmp("primary", store.OpEq, true)}, []string{"bjensen"}},
		{"multi-valued complex compares its values", cmp("emails", store.OpCo, "jensen.org"), []string{"bjensen"}},
		{"enterprise urn", cmp(store.EnterpriseSchema+":department", store.OpEq, "tours"), []string{"bjensen"}},
		{"core urn", cmp(store.UserSchema+":userName", store.OpEq, "jsmith"), []string{"jsmith"}},
		{"created gt", cmp("meta.created", store.OpGt, "2000-01-01T00:00:00Z"), []string{"bjensen", "jsmith", "Zoe_100%"}},
		{"lastModified lt", cmp("meta.lastModified", store.OpLt, "2000-01-01T00:00:00Z"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.ListUsers(ctx(), store.Query{Filter: tc.f, Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range page.Users {
				got = append(got, u.UserName)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || page.Total != len(tc.want) {
				t.Fatalf("got %v (total %d), want %v", got, page.Total, tc.want)
			}
		})
	}
	for _, bad := range []store.Expr{
		cmp("noSuchAttr", store.OpEq, "x"),
		cmp("active", store.OpGt, true),
		cmp("meta.created", store.OpGt, "yesterday"),
		cmp("name", store.OpEq, "x"),
		store.ValueFilter{Attr: "userName", Filter: cmp("value", store.OpEq, "x")},
	} {
		if _, err := s.ListUsers(ctx(), store.Query{Filter: bad, Limit: 5}); store.KindOf(err) != store.KindInvalid {
			t.Errorf("filter %+v: got %v, want invalid", bad, err)
		}
	}
}

func testSortAndPage(t *testing.T, s store.Store) {
	for i := 0; i < 25; i++ {
		CreateUser(t, s, &store.User{UserName: fmt.Sprintf("user%02d", 24-i), Title: fmt.Sprint(i % 3)})
	}
	page, err := s.ListUsers(ctx(), store.Query{Offset: 20, Limit: 10})
	if err != nil || page.Total != 25 || len(page.Users) != 5 || page.Users[0].UserName != "user04" {
		t.Fatalf("page: %+v %v", page, err)
	}
	page, _ = s.ListUsers(ctx(), store.Query{SortBy: "userName", Limit: 3})
	if page.Users[0].UserName != "user00" || page.Users[2].UserName != "user02" || page.Total != 25 {
		t.Fatalf("sorted asc: %v", names(page.Users))
	}
	page, _ = s.ListUsers(ctx(), store.Query{SortBy: "USERNAME", Descending: true, Limit: 2})
	if page.Users[0].UserName != "user24" {
		t.Fatalf("sorted desc: %v", names(page.Users))
	}
	page, _ = s.ListUsers(ctx(), store.Query{Limit: 0})
	if page.Total != 25 || len(page.Users) != 0 {
		t.Fatalf("count only: %+v", page)
	}
	page, _ = s.ListUsers(ctx(), store.Query{Limit: 100, Filter: store.Compare{Attr: "title", Op: store.OpEq, Value: "0"}, Offset: 5})
	if page.Total != 9 || len(page.Users) != 4 {
		t.Fatalf("filtered page total %d len %d", page.Total, len(page.Users))
	}
	if _, err := s.ListUsers(ctx(), store.Query{SortBy: "name", Limit: 1}); store.KindOf(err) != store.KindInvalid {
		t.Fatalf("sort by complex attribute: %v", err)
	}
}

func names(us []*store.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.UserName)
	}
	return out
}

func testCursor(t *testing.T, s store.Store) {
	for i := 0; i < 23; i++ {
		title := ""
		if i%4 != 0 {
			title = fmt.Sprintf("t%d", i%5)
		}
		CreateUser(t, s, &store.User{UserName: fmt.Sprintf("c%02d", i), Title: title})
	}
	for _, q := range []store.Query{
		{Limit: 5},
		{Limit: 4, SortBy: "title"},
		{Limit: 6, SortBy: "title", Descending: true},
		{Limit: 3, SortBy: "userName", Descending: true, Filter: store.Compare{Attr: "userName", Op: store.OpSw, Value: "c1"}},
	} {
		q.UseCursor = true
		seen := map[string]bool{}
		pages := 0
		for {
			page, err := s.ListUsers(ctx(), q)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, u := range page.Users {
				if seen[u.UserName] {
					t.Fatalf("%+v: %s returned twice", q, u.UserName)
				}
				seen[u.UserName] = true
			}
			if page.NextCursor == "" {
				break
			}
			q.Cursor = page.NextCursor
			if pages > 30 {
				t.Fatal("cursor never ends")
			}
		}
		want := 23
		if q.Filter != nil {
			want = 10
		}
		if len(seen) != want {
			t.Fatalf("%+v: saw %d users, want %d", q, len(seen), want)
		}
	}
	_, err := s.ListUsers(ctx(), store.Query{UseCursor: true, Cursor: "garbage", Limit: 5})
	wantKind(t, err, store.KindInvalid)
	first, _ := s.ListUsers(ctx(), store.Query{UseCursor: true, Limit: 5})
	_, err = s.ListUsers(ctx(), store.Query{UseCursor: true, Cursor: first.NextCursor, Limit: 5, SortBy: "title"})
	wantKind(t, err, store.KindInvalid)
}

func testActivity(t *testing.T, s store.Store) {
	u := CreateUser(t, s, &store.User{UserName: "frank"})
	if _, err := update(t, s, u.ID, func(u *store.User) error { u.Active = true; return nil }); err != nil {
		t.Fatal(err)
	}
	createGroup(t, s, &store.Group{DisplayName: "g", Members: []store.Member{{ID: u.ID}}})
	acts, total, err := s.ListActivity(ctx(), store.ActivityQuery{UserID: u.ID})
	if err != nil || total != 3 {
		t.Fatalf("activity: %+v %d %v", acts, total, err)
	}
	wantActions := []string{"group.members.add", "user.activate", "user.create"}
	for i, a := range acts {
		if a.Action != wantActions[i] || a.Actor.Door != "test" || a.At.IsZero() {
			t.Fatalf("entry %d: %+v", i, a)
		}
	}
	acts, _, _ = s.ListActivity(ctx(), store.ActivityQuery{UserID: u.ID, Limit: 1, Offset: 1})
	if len(acts) != 1 || acts[0].Action != "user.activate" {
		t.Fatalf("paged activity: %+v", acts)
	}
	if _, err := update(t, s, u.ID, func(u *store.User) error { u.PasswordHash = "$argon2id$new"; return nil }); err != nil {
		t.Fatal(err)
	}
	acts, _, _ = s.ListActivity(ctx(), store.ActivityQuery{UserID: u.ID, Action: store.ActionPasswordChange})
	if len(acts) != 1 || acts[0].Detail != "test" {
		t.Fatalf("a password change is recorded once, naming the door: %+v", acts)
	}
	acts, _, _ = s.ListActivity(ctx(), store.ActivityQuery{Until: time.Now().Add(-time.Hour)})
	if len(acts) != 0 {
		t.Fatal("until filter ignored")
	}
}

func testCredentials(t *testing.T, s store.Store) {
	hash := fmt.Sprintf("%064x", 42)
	c := &store.Credential{Kind: "scim-token", Name: "okta", SecretHash: hash, Scopes: []string{"read", "write"}}
	if err := s.Write(ctx(), actor, func(tx store.Tx) error { return tx.CreateCredential(ctx(), c) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindCredential(ctx(), "scim-token", hash)
	if err != nil || got.Name != "okta" || len(got.Scopes) != 2 {
		t.Fatalf("find: %+v %v", got, err)
	}
	if _, err := s.FindCredential(ctx(), "other-kind", hash); !store.IsNotFound(err) {
		t.Fatal("kind not respected")
	}
	expired := &store.Credential{Kind: "session", SecretHash: fmt.Sprintf("%064x", 7), Expires: time.Now().Add(-time.Minute)}
	if err := s.Write(ctx(), actor, func(tx store.Tx) error { return tx.CreateCredential(ctx(), expired) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindCredential(ctx(), "session", expired.SecretHash); !store.IsNotFound(err) {
		t.Fatal("expired credential found")
	}
	err = s.Write(ctx(), actor, func(tx store.Tx) error {
		return tx.CreateCredential(ctx(), &store.Credential{Kind: "x", SecretHash: "plaintext"})
	})
	wantKind(t, err, store.KindInvalid)
	list, _ := s.ListCredentials(ctx(), "scim-token")
	if len(list) != 1 {
		t.Fatalf("list: %+v", list)
	}
	if err := s.Write(ctx(), actor, func(tx store.Tx) error { return tx.DeleteCredential(ctx(), c.ID) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindCredential(ctx(), "scim-token", hash); !store.IsNotFound(err) {
		t.Fatal("revoked credential found")
	}
}

func testObjects(t *testing.T, s store.Store) {
	put := func(o *store.Object, ifVersion int64) error {
		return s.Write(ctx(), actor, func(tx store.Tx) error { return tx.PutObject(ctx(), o, ifVersion) })
	}
	o := &store.Object{Kind: "sync.state", Name: "ldap1", Doc: []byte(`{"cookie":"abc"}`)}
	if err := put(o, 0); err != nil || o.Version != 1 {
		t.Fatalf("put: %v %d", err, o.Version)
	}
	wantKind(t, put(&store.Object{Kind: "sync.state", Name: "ldap1", Doc: []byte(`{}`)}, 5), store.KindPreconditionFailed)
	wantKind(t, put(&store.Object{Kind: "sync.state", Name: "x", Doc: []byte(`not json`)}, 0), store.KindInvalid)
	if err := put(&store.Object{Kind: "sync.state", Name: "ldap1", Doc: []byte(`{"cookie":"def"}`)}, 1); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetObject(ctx(), "sync.state", "ldap1")
	if err != nil || string(got.Doc) != `{"cookie":"def"}` || got.Version != 2 {
		t.Fatalf("get: %+v %v", got, err)
	}
	list, _ := s.ListObjects(ctx(), "sync.state")
	if len(list) != 1 {
		t.Fatalf("list %+v", list)
	}
	if err := s.Write(ctx(), actor, func(tx store.Tx) error { return tx.DeleteObject(ctx(), "sync.state", "ldap1") }); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetObject(ctx(), "sync.state", "ldap1")
	wantKind(t, err, store.KindNotFound)
}

func testSourced(t *testing.T, s store.Store) {
	src := store.Source{Name: "corp-ldap", ID: "5f1c-uuid", DN: "uid=ann,ou=People,dc=example,dc=com"}
	u := CreateUser(t, s, &store.User{UserName: "ann", Active: true, Source: src, SourcePasswordChanged: "20261202070718Z"})
	CreateUser(t, s, &store.User{UserName: "local"})
	g := createGroup(t, s, &store.Group{DisplayName: "staff", Source: store.Source{Name: "corp-ldap", ID: "g-uuid", DN: "cn=staff,ou=Groups,dc=example,dc=com"}})
	got, err := s.GetUserBySource(ctx(), "corp-ldap", "5f1c-uuid")
	if err != nil || got.ID != u.ID || got.Source != src || got.SourcePasswordChanged != "20261202070718Z" {
		t.Fatalf("by source: %+v %v", got, err)
	}
	// The password-change time the sync watches is a change of its own.
	if up, err := update(t, s, u.ID, func(u *store.User) error { u.SourcePasswordChanged = "20261202080000Z"; return nil }); err != nil ||
		up.Meta.Version != u.Meta.Version+1 {
		t.Fatalf("password-change time update: %+v %v", up, err)
	}
	if got, err := s.GetUser(ctx(), u.ID); err != nil || got.SourcePasswordChanged != "20261202080000Z" {
		t.Fatalf("password-change time after update: %+v %v", got, err)
	}
	got, err = s.GetUserBySourceDN(ctx(), "corp-ldap", "UID=ann,ou=people,dc=example,dc=com")
	if err != nil || got.ID != u.ID {
		t.Fatalf("by DN: %+v %v", got, err)
	}
	if _, err := s.GetUserBySourceDN(ctx(), "other", src.DN); !store.IsNotFound(err) {
		t.Fatal("source name not respected")
	}
	if gg, err := s.GetGroupBySourceDN(ctx(), "corp-ldap", "cn=STAFF,ou=Groups,dc=example,dc=com"); err != nil || gg.ID != g.ID {
		t.Fatalf("group by DN: %+v %v", gg, err)
	}
	if gg, err := s.GetGroupBySource(ctx(), "corp-ldap", "g-uuid"); err != nil || gg.ID != g.ID {
		t.Fatalf("group by source: %+v %v", gg, err)
	}
	var refs []store.SourcedRef
	if err := s.EachSourced(ctx(), "User", "corp-ldap", func(r store.SourcedRef) error { refs = append(refs, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0].ID != u.ID || refs[0].SourceID != "5f1c-uuid" || !refs[0].Active || refs[0].DN != src.DN {
		t.Fatalf("EachSourced: %+v", refs)
	}
	err = s.Write(ctx(), actor, func(tx store.Tx) error {
		return tx.CreateUser(ctx(), &store.User{UserName: "ann2", Source: store.Source{Name: "corp-ldap", ID: "5f1c-uuid"}})
	})
	wantKind(t, err, store.KindConflict)
}
