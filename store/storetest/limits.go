package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// The shared rules every backend must apply on every write: the userName
// and text rules, the limits of store/limits.go, and conflicts that name
// the attribute they concern. A rejected write leaves nothing behind.

// wantField fails unless err has the kind and names the field.
func wantField(t *testing.T, err error, kind store.Kind, field string) {
	t.Helper()
	if store.KindOf(err) != kind || store.FieldOf(err) != field {
		t.Fatalf("got error %v (kind %v, field %q), want kind %v about %q",
			err, store.KindOf(err), store.FieldOf(err), kind, field)
	}
}

func tryCreateUser(s store.Store, u *store.User) error {
	return s.Write(ctx(), actor, func(tx store.Tx) error { return tx.CreateUser(ctx(), u) })
}

func tryCreateGroup(s store.Store, g *store.Group) error {
	return s.Write(ctx(), actor, func(tx store.Tx) error { return tx.CreateGroup(ctx(), g) })
}

func tryUpdateGroup(s store.Store, id string, fn func(g *store.Group)) error {
	return s.Write(ctx(), actor, func(tx store.Tx) error {
		_, err := tx.UpdateGroup(ctx(), id, func(g *store.Group) error { fn(g); return nil })
		return err
	})
}

// wantNothingWritten fails if the store holds other users or groups than
// want, or more activity entries than acts.
func wantNothingWritten(t *testing.T, s store.Store, users, groups, acts int) {
	t.Helper()
	up, err := s.ListUsers(ctx(), store.Query{Limit: 0})
	if err != nil {
		t.Fatal(err)
	}
	gp, err := s.ListGroups(ctx(), store.Query{Limit: 0})
	if err != nil {
		t.Fatal(err)
	}
	_, n, err := s.ListActivity(ctx(), store.ActivityQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if up.Total != users || gp.Total != groups || n != acts {
		t.Fatalf("store holds %d users, %d groups, %d activity entries; want %d, %d, %d",
			up.Total, gp.Total, n, users, groups, acts)
	}
}

func testUserNameRules(t *testing.T, s store.Store) {
	for _, tc := range []struct{ name, userName string }{
		{"one character over the limit", strings.Repeat("é", store.MaxUserNameLen+1)},
		{"a megabyte", strings.Repeat("a", 1_000_004)},
		{"NUL", "ann\x00admin"},
		{"CR", "ann\radmin"},
		{"LF", "ann\nadmin"},
		{"TAB", "ann\tadmin"},
		{"DEL", "ann\x7f"},
		{"C1 control", "ann\u0085admin"},
		{"right-to-left override", "ann\u202Enimda"},
		{"left-to-right embedding", "\u202Aann"},
		{"first strong isolate", "ann\u2068x"},
		{"pop directional isolate", "ann\u2069"},
		{"zero-width space", "ad\u200Bmin"},
		{"byte order mark", "\uFEFFadmin"},
		{"line separator", "ann\u2028admin"},
		{"invalid UTF-8", "ann\xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantField(t, tryCreateUser(s, &store.User{UserName: tc.userName}), store.KindInvalid, "userName")
			wantNothingWritten(t, s, 0, 0, 0)
		})
	}
	// Exactly at the limit, in multi-byte characters; spaces, letters of
	// any script and ZWJ are fine; surrounding white space is trimmed.
	for _, ok := range []string{strings.Repeat("é", store.MaxUserNameLen), "Ann Smith", "ärne", "\u0915\u094D\u200D\u0937", " \t trimmed \r\n"} {
		CreateUser(t, s, &store.User{UserName: ok})
	}
	if _, err := s.GetUserByUserName(ctx(), "trimmed"); err != nil {
		t.Fatalf("trimmed userName: %v", err)
	}
}

func testTextRules(t *testing.T, s store.Store) {
	long := func(n int) string { return strings.Repeat("x", n) }
	over := store.MaxNameLen + 1
	for _, tc := range []struct {
		name  string
		u     store.User
		field string
	}{
		{"NUL in title", store.User{Title: "boss\x00"}, "title"},
		{"LF in displayName", store.User{DisplayName: "Ann\nSmith"}, "displayName"},
		{"control in a name part", store.User{Name: store.Name{GivenName: "A\x1b[31m"}}, "name.givenName"},
		{"NUL in a formatted address", store.User{Addresses: []store.Address{{Formatted: "1 Road\x00"}}}, "addresses.formatted"},
		{"invalid UTF-8 in an e-mail", store.User{Emails: []store.Value{{Value: "a@x\xc3"}}}, "emails.value"},
		{"externalId", store.User{ExternalID: long(over)}, "externalId"},
		{"displayName", store.User{DisplayName: strings.Repeat("ü", over)}, "displayName"},
		{"name part", store.User{Name: store.Name{FamilyName: long(over)}}, "name.familyName"},
		{"e-mail value", store.User{Emails: []store.Value{{Value: "ok@x"}, {Value: long(over)}}}, "emails.value"},
		{"entry type", store.User{PhoneNumbers: []store.Value{{Value: "1", Type: long(over)}}}, "phoneNumbers.type"},
		{"address part", store.User{Addresses: []store.Address{{Locality: long(over)}}}, "addresses.locality"},
		{"enterprise attribute", store.User{Enterprise: &store.Enterprise{Department: long(over)}}, "enterprise.department"},
		{"manager", store.User{Enterprise: &store.Enterprise{Manager: &store.Manager{Value: long(over)}}}, "enterprise.manager.value"},
		{"long text", store.User{Photos: []store.Value{{Value: long(store.MaxTextBytes + 1)}}}, "photos.value"},
		{"profileUrl", store.User{ProfileURL: long(store.MaxTextBytes + 1)}, "profileUrl"},
		{"too many entries", store.User{Roles: make([]store.Value, store.MaxValues+1)}, "roles"},
		{"too many addresses", store.User{Addresses: make([]store.Address, store.MaxValues+1)}, "addresses"},
		{"too large as a whole", store.User{X509Certificates: []store.Value{
			{Value: long(store.MaxTextBytes)}, {Value: long(store.MaxTextBytes)}, {Value: long(store.MaxTextBytes)},
			{Value: long(store.MaxTextBytes)}, {Value: long(store.MaxTextBytes)}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.u
			u.UserName = "texter"
			wantField(t, tryCreateUser(s, &u), store.KindInvalid, tc.field)
			wantNothingWritten(t, s, 0, 0, 0)
		})
	}
	// What free text may hold: TAB, bidirectional marks (right-to-left
	// names need them), line breaks in a formatted address, values at the
	// limits.
	u := CreateUser(t, s, &store.User{UserName: "texter", DisplayName: "Ann\tSmith", Title: "\u202Bמנהלת\u202C",
		Name:      store.Name{GivenName: strings.Repeat("ü", store.MaxNameLen)},
		Addresses: []store.Address{{Formatted: "100 Universal City Plaza\r\nHollywood, CA 91608 USA"}},
		Roles:     make([]store.Value, store.MaxValues),
		Photos:    []store.Value{{Value: long(store.MaxTextBytes)}},
	})
	got, err := s.GetUser(ctx(), u.ID)
	if err != nil || got.DisplayName != "Ann\tSmith" || len(got.Roles) != store.MaxValues ||
		got.Addresses[0].Formatted != "100 Universal City Plaza\r\nHollywood, CA 91608 USA" {
		t.Fatalf("read back %+v %v", got, err)
	}
}

func testLimitsOnUpdate(t *testing.T, s store.Store) {
	u := CreateUser(t, s, &store.User{UserName: "upd", Title: "t"})
	_, n, _ := s.ListActivity(ctx(), store.ActivityQuery{Limit: 1})
	for _, tc := range []struct {
		name  string
		fn    func(u *store.User)
		field string
	}{
		{"over-long userName", func(u *store.User) { u.UserName = strings.Repeat("a", 1_000_004) }, "userName"},
		{"NUL in userName", func(u *store.User) { u.UserName = "upd\x00" }, "userName"},
		{"U+202E in userName", func(u *store.User) { u.UserName = "\u202Eupd" }, "userName"},
		{"CR in title", func(u *store.User) { u.Title = "a\rb" }, "title"},
		{"over-long displayName", func(u *store.User) { u.DisplayName = strings.Repeat("d", store.MaxNameLen+1) }, "displayName"},
		{"too many e-mails", func(u *store.User) {
			for i := range store.MaxValues + 1 {
				u.Emails = append(u.Emails, store.Value{Value: fmt.Sprintf("a%d@example.com", i)})
			}
		}, "emails"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := update(t, s, u.ID, func(u *store.User) error { tc.fn(u); return nil })
			wantField(t, err, store.KindInvalid, tc.field)
			got, err := s.GetUser(ctx(), u.ID)
			if err != nil || got.Meta.Version != 1 || got.UserName != "upd" || got.Title != "t" {
				t.Fatalf("a refused update was written: %+v %v", got, err)
			}
			wantNothingWritten(t, s, 1, 0, n)
		})
	}
}

func testGroupLimits(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name  string
		g     store.Group
		field string
	}{
		{"displayName over the limit", store.Group{DisplayName: strings.Repeat("g", store.MaxNameLen+1)}, "displayName"},
		{"displayName of a megabyte", store.Group{DisplayName: strings.Repeat("g", 1_000_004)}, "displayName"},
		{"NUL in displayName", store.Group{DisplayName: "ops\x00"}, "displayName"},
		{"LF in displayName", store.Group{DisplayName: "ops\nadmins"}, "displayName"},
		{"externalId over the limit", store.Group{DisplayName: "ops", ExternalID: strings.Repeat("e", store.MaxNameLen+1)}, "externalId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.g
			wantField(t, tryCreateGroup(s, &g), store.KindInvalid, tc.field)
			wantNothingWritten(t, s, 0, 0, 0)
		})
	}
	g := createGroup(t, s, &store.Group{DisplayName: strings.Repeat("g", store.MaxNameLen)})
	err := tryUpdateGroup(s, g.ID, func(g *store.Group) { g.DisplayName = strings.Repeat("h", store.MaxNameLen+1) })
	wantField(t, err, store.KindInvalid, "displayName")
	if got, _ := s.GetGroup(ctx(), g.ID, false); got.DisplayName != g.DisplayName || got.Meta.Version != 1 {
		t.Fatalf("a refused rename was written: %+v", got)
	}
}

// testConflictFields: every uniqueness conflict names its attribute, so
// that a door can answer it in its own words without checking first.
// (externalId is no longer unique: testExternalIDNotUnique.)
func testConflictFields(t *testing.T, s store.Store) {
	CreateUser(t, s, &store.User{UserName: "Ann", ExternalID: "ext-ann"})
	b := CreateUser(t, s, &store.User{UserName: "bob"})
	wantField(t, tryCreateUser(s, &store.User{UserName: "ANN"}), store.KindConflict, "userName")
	_, err := update(t, s, b.ID, func(u *store.User) error { u.UserName = "ann"; return nil })
	wantField(t, err, store.KindConflict, "userName")
	// Two creates in one transaction conflict with each other too.
	err = s.Write(ctx(), actor, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx(), &store.User{UserName: "twin"}); err != nil {
			return err
		}
		return tx.CreateUser(ctx(), &store.User{UserName: "Twin"})
	})
	wantField(t, err, store.KindConflict, "userName")

	createGroup(t, s, &store.Group{DisplayName: "Admins", ExternalID: "ext-g"})
	h := createGroup(t, s, &store.Group{DisplayName: "Users"})
	wantField(t, tryCreateGroup(s, &store.Group{DisplayName: "admins"}), store.KindConflict, "displayName")
	wantField(t, tryUpdateGroup(s, h.ID, func(g *store.Group) { g.DisplayName = "ADMINS" }), store.KindConflict, "displayName")
	wantNothingWritten(t, s, 2, 2, 4)

	// Concurrent creates of one name: every loser learns which attribute.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = tryCreateUser(s, &store.User{UserName: "racer"}) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		wantField(t, err, store.KindConflict, "userName")
	}
	if won != 1 {
		t.Fatalf("%d of 8 concurrent creates of one userName won", won)
	}
}
