package storetest

import (
	"context"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// Provisioning domains: externalId belongs to the client that set it
// (RFC 7643 §3.1), is not unique, and each domain sees its own.

func in(domain string) context.Context { return store.WithDomain(ctx(), domain) }

func externalIDEq(v string) store.Query {
	return store.Query{Filter: store.Compare{Attr: "externalId", Op: store.OpEq, Value: v}, Limit: 10}
}

// usersWhere lists the user names a query finds in a domain.
func usersWhere(t *testing.T, s store.Reader, domain string, q store.Query) []string {
	t.Helper()
	page, err := s.ListUsers(in(domain), q)
	if err != nil {
		t.Fatal(err)
	}
	return names(page.Users)
}

func createUserIn(t *testing.T, s store.Store, domain string, u *store.User) *store.User {
	t.Helper()
	if err := s.Write(in(domain), actor, func(tx store.Tx) error { return tx.CreateUser(in(domain), u) }); err != nil {
		t.Fatalf("create user %q in %s: %v", u.UserName, domain, err)
	}
	return u
}

func setExternalIDIn(t *testing.T, s store.Store, domain, id, ext string) *store.User {
	t.Helper()
	var out *store.User
	err := s.Write(in(domain), actor, func(tx store.Tx) (err error) {
		out, err = tx.UpdateUser(in(domain), id, func(u *store.User) error { u.ExternalID = ext; return nil })
		return err
	})
	if err != nil {
		t.Fatalf("set externalId of %s in %s: %v", id, domain, err)
	}
	return out
}

func externalIDOf(t *testing.T, s store.Reader, domain, id string) string {
	t.Helper()
	u, err := s.GetUser(in(domain), id)
	if err != nil {
		t.Fatal(err)
	}
	return u.ExternalID
}

func testExternalIDNotUnique(t *testing.T, s store.Store) {
	CreateUser(t, s, &store.User{UserName: "ann", ExternalID: "shared"})
	b := CreateUser(t, s, &store.User{UserName: "bob"})
	CreateUser(t, s, &store.User{UserName: "cat", ExternalID: "shared"})
	setExternalIDIn(t, s, store.DefaultDomain, b.ID, "shared")
	if got := usersWhere(t, s, store.DefaultDomain, externalIDEq("shared")); len(got) != 3 {
		t.Fatalf("externalId eq shared found %v, want all three", got)
	}
	createGroup(t, s, &store.Group{DisplayName: "one", ExternalID: "g"})
	createGroup(t, s, &store.Group{DisplayName: "two", ExternalID: "g"})
	page, err := s.ListGroups(ctx(), externalIDEq("g"))
	if err != nil || page.Total != 2 {
		t.Fatalf("groups with externalId g: %+v, %v", page, err)
	}
}

func testExternalIDDomains(t *testing.T, s store.Store) {
	// Two identity providers give different people the same externalId.
	okta := createUserIn(t, s, "okta", &store.User{UserName: "ann", ExternalID: "00u1"})
	entra := createUserIn(t, s, "entra", &store.User{UserName: "bob", ExternalID: "00u1"})
	for domain, want := range map[string]string{"okta": "[ann]", "entra": "[bob]", store.DefaultDomain: "[]"} {
		if got := usersWhere(t, s, domain, externalIDEq("00u1")); fmtNames(got) != want {
			t.Errorf("%s: externalId eq 00u1 found %v, want %s", domain, got, want)
		}
	}
	if got := externalIDOf(t, s, "entra", okta.ID); got != "" {
		t.Errorf("entra sees okta's externalId %q", got)
	}

	// One user, provisioned by both: each domain keeps its own value.
	u := setExternalIDIn(t, s, "entra", okta.ID, "8aa1-entra")
	if u.ExternalID != "8aa1-entra" || u.Meta.Version != 2 {
		t.Fatalf("after the entra write: %+v", u)
	}
	if got := externalIDOf(t, s, "okta", okta.ID); got != "00u1" {
		t.Errorf("okta's externalId after entra's write: %q", got)
	}
	if got := usersWhere(t, s, "entra", externalIDEq("8aa1-entra")); fmtNames(got) != "[ann]" {
		t.Errorf("entra finds %v by its own externalId", got)
	}
	if got := usersWhere(t, s, "okta", externalIDEq("8aa1-entra")); len(got) != 0 {
		t.Errorf("okta finds %v by entra's externalId", got)
	}
	// Other operators and presence see the domain's values only.
	cases := map[store.Expr]string{
		store.Compare{Attr: "externalId", Op: store.OpPr}:                              "[ann bob]",
		store.Compare{Attr: "externalId", Op: store.OpNe, Value: "8aa1-entra"}:         "[bob]",
		store.Compare{Attr: "externalId", Op: store.OpSw, Value: "8aa1"}:               "[ann]",
		store.Not{X: store.Compare{Attr: "externalId", Op: store.OpEq, Value: "00u1"}}: "[ann]",
	}
	for f, want := range cases {
		if got := usersWhere(t, s, "entra", store.Query{Filter: f, Limit: 10}); fmtNames(got) != want {
			t.Errorf("entra %v: %v, want %s", f, got, want)
		}
	}
	if got := usersWhere(t, s, store.DefaultDomain, store.Query{Filter: store.Compare{Attr: "externalId", Op: store.OpPr}, Limit: 10}); len(got) != 0 {
		t.Errorf("default domain sees externalIds %v", got)
	}

	// Clearing one domain's value leaves the other's.
	setExternalIDIn(t, s, "okta", okta.ID, "")
	if got := externalIDOf(t, s, "entra", okta.ID); got != "8aa1-entra" {
		t.Errorf("entra's externalId after okta cleared its own: %q", got)
	}
	if got := usersWhere(t, s, "okta", externalIDEq("00u1")); len(got) != 0 {
		t.Errorf("okta still finds %v", got)
	}
	// A write that does not touch externalId keeps it.
	err := s.Write(in("okta"), actor, func(tx store.Tx) error {
		_, err := tx.UpdateUser(in("okta"), entra.ID, func(u *store.User) error { u.Title = "Eng"; return nil })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := externalIDOf(t, s, "entra", entra.ID); got != "00u1" {
		t.Errorf("entra's externalId after okta's unrelated write: %q", got)
	}
	// Deleting a user frees its values in every domain.
	if err := s.Write(ctx(), actor, func(tx store.Tx) error { return tx.DeleteUser(ctx(), okta.ID) }); err != nil {
		t.Fatal(err)
	}
	if got := usersWhere(t, s, "entra", externalIDEq("8aa1-entra")); len(got) != 0 {
		t.Errorf("a deleted user is still found: %v", got)
	}
}

func testGroupExternalIDDomains(t *testing.T, s store.Store) {
	var g store.Group
	err := s.Write(in("okta"), actor, func(tx store.Tx) error {
		g = store.Group{DisplayName: "Eng", ExternalID: "okta-g"}
		return tx.CreateGroup(in("okta"), &g)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(in("entra"), actor, func(tx store.Tx) error {
		_, err := tx.UpdateGroup(in("entra"), g.ID, func(g *store.Group) error { g.ExternalID = "entra-g"; return nil })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for domain, want := range map[string]string{"okta": "okta-g", "entra": "entra-g", store.DefaultDomain: ""} {
		got, err := s.GetGroup(in(domain), g.ID, false)
		if err != nil || got.ExternalID != want {
			t.Errorf("%s: group externalId %q (%v), want %q", domain, got.ExternalID, err, want)
		}
		page, err := s.ListGroups(in(domain), externalIDEq(want))
		if want != "" && (err != nil || page.Total != 1) {
			t.Errorf("%s: groups with externalId %q: %+v, %v", domain, want, page, err)
		}
	}
	page, err := s.ListGroups(in("okta"), externalIDEq("entra-g"))
	if err != nil || page.Total != 0 {
		t.Errorf("okta finds entra's group externalId: %+v, %v", page, err)
	}
}

func testExternalIDSortAndCursor(t *testing.T, s store.Store) {
	for _, n := range []struct{ name, okta, entra string }{{"a", "3", "x"}, {"b", "1", "z"}, {"c", "2", "y"}, {"d", "", "w"}} {
		u := createUserIn(t, s, "okta", &store.User{UserName: n.name, ExternalID: n.okta})
		setExternalIDIn(t, s, "entra", u.ID, n.entra)
	}
	for domain, want := range map[string]string{"okta": "[b c a d]", "entra": "[d a c b]"} {
		var all []string
		q := store.Query{SortBy: "externalId", Limit: 1, UseCursor: true}
		for range 10 {
			page, err := s.ListUsers(in(domain), q)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, names(page.Users)...)
			if page.NextCursor == "" {
				break
			}
			q.Cursor = page.NextCursor
		}
		if fmtNames(all) != want {
			t.Errorf("%s: sorted by externalId, paged by cursor: %v, want %s", domain, all, want)
		}
	}
	// A cursor belongs to its domain's query.
	page, err := s.ListUsers(in("okta"), store.Query{SortBy: "externalId", Limit: 1, UseCursor: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ListUsers(in("entra"), store.Query{SortBy: "externalId", Limit: 1, UseCursor: true, Cursor: page.NextCursor})
	wantKind(t, err, store.KindInvalid)
}

// testMemberTypeHint: a member's type is a hint; the id decides.
func testMemberTypeHint(t *testing.T, s store.Store) {
	u := CreateUser(t, s, &store.User{UserName: "ann"})
	sub := createGroup(t, s, &store.Group{DisplayName: "sub"})
	g := createGroup(t, s, &store.Group{DisplayName: "top", Members: []store.Member{{ID: u.ID, Type: store.MemberGroup}}})
	err := s.Write(ctx(), actor, func(tx store.Tx) error {
		_, err := tx.AddMembers(ctx(), g.ID, []store.MemberRef{{ID: sub.ID, Type: store.MemberUser}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetGroup(ctx(), g.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Members) != 2 || got.Members[0].Type != store.MemberUser || got.Members[0].ID != u.ID ||
		got.Members[1].Type != store.MemberGroup || got.Members[1].ID != sub.ID {
		t.Fatalf("members %+v", got.Members)
	}
	err = s.Write(ctx(), actor, func(tx store.Tx) error {
		return tx.SetMembers(ctx(), g.ID, []store.MemberRef{{ID: "nobody", Type: store.MemberGroup}})
	})
	wantKind(t, err, store.KindInvalid)
}

func fmtNames(ns []string) string {
	out := "["
	for i, n := range ns {
		if i > 0 {
			out += " "
		}
		out += n
	}
	return out + "]"
}
