package legacyapi

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
)

func TestEmailsAndNames(t *testing.T) {
	u := &store.User{UserName: "jdoe"}
	SetPrimaryEmail(u, "a@example.com")
	if u.PrimaryEmail() != "a@example.com" || len(u.Emails) != 1 || !u.Emails[0].Primary {
		t.Fatalf("emails %+v", u.Emails)
	}
	u.Emails = append([]store.Value{{Value: "home@example.com", Type: "home"}}, u.Emails...)
	SetPrimaryEmail(u, "b@example.com")
	if u.PrimaryEmail() != "b@example.com" || u.Emails[0].Value != "home@example.com" {
		t.Fatalf("emails %+v", u.Emails)
	}

	if FullName(u) != "jdoe" {
		t.Fatalf("fallback name %q", FullName(u))
	}
	SetGivenFamily(u, "John", "Doe")
	if FullName(u) != "John Doe" || u.Name.Formatted != "John Doe" {
		t.Fatalf("given/family: %+v %q", u.Name, u.DisplayName)
	}
	SetGivenFamily(u, "Johnny", "Doe")
	if u.DisplayName != "Johnny Doe" {
		t.Fatalf("derived displayName not kept in step: %q", u.DisplayName)
	}
	u.DisplayName = "JD"
	SetGivenFamily(u, "Jon", "Doe")
	if u.DisplayName != "JD" || u.Name.Formatted != "Jon Doe" {
		t.Fatalf("chosen displayName overwritten: %q %q", u.DisplayName, u.Name.Formatted)
	}
	SetFullName(u, "Mary Ann Smith")
	if u.Name.GivenName != "Mary" || u.Name.FamilyName != "Ann Smith" || FullName(u) != "Mary Ann Smith" {
		t.Fatalf("full name: %+v %q", u.Name, u.DisplayName)
	}
	// A name that already joins the same is not re-split.
	u.Name.GivenName, u.Name.FamilyName = "Mary Ann", "Smith"
	SetFullName(u, "Mary Ann Smith")
	if u.Name.GivenName != "Mary Ann" {
		t.Fatalf("re-split %+v", u.Name)
	}
}

func TestValidEmail(t *testing.T) {
	for s, want := range map[string]bool{
		"a@example.com": true, "first.last+tag@sub.example.org": true,
		"": false, "plain": false, "a@b": false, "A <a@example.com>": false, "a @example.com": false, "@example.com": false,
	} {
		if ValidEmail(s) != want {
			t.Errorf("ValidEmail(%q) = %v", s, !want)
		}
	}
}

func TestStoreViews(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "v.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := storetest.CreateUser(t, st, &store.User{UserName: "a", Emails: []store.Value{{Value: "Shared@Example.com"}, {Value: "a2@example.com"}}})
	for email, want := range map[string]bool{"shared@example.com": true, "a2@EXAMPLE.com": true, "other@example.com": false} {
		taken, err := EmailTaken(ctx, st, email, 0)
		if err != nil || taken != want {
			t.Errorf("EmailTaken(%q) = %v, %v", email, taken, err)
		}
		if taken, _ := EmailTaken(ctx, st, email, a.Key); taken {
			t.Errorf("EmailTaken(%q) counts the user itself", email)
		}
	}
	if last, err := LastLogin(ctx, st, a.ID); err != nil || !last.IsZero() {
		t.Fatalf("no login yet: %v %v", last, err)
	}
	if err := st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
		return tx.Record(ctx, store.Activity{Action: auth.ActionLogin, UserKey: a.Key})
	}); err != nil {
		t.Fatal(err)
	}
	if last, err := LastLogin(ctx, st, a.ID); err != nil || time.Since(last) > time.Minute {
		t.Fatalf("last login %v %v", last, err)
	}
	hash, err := auth.RandomPasswordHash()
	if err != nil || !strings.HasPrefix(hash, "$argon2id$") {
		t.Fatalf("%q %v", hash, err)
	}
	if ok, _ := auth.CheckPassword(hash, ""); ok {
		t.Fatal("empty password matches a random hash")
	}
}

func TestSetPrimary(t *testing.T) {
	// The primary value is replaced, the others kept.
	vs := []store.Value{{Value: "a"}, {Value: "b", Primary: true}}
	vs = SetPrimary(vs, "c", "work")
	if len(vs) != 2 || vs[0].Value != "a" || vs[1].Value != "c" || !vs[1].Primary {
		t.Fatalf("%+v", vs)
	}
	// Without a primary, the first is replaced and becomes primary.
	vs = SetPrimary([]store.Value{{Value: "a", Type: "home"}, {Value: "b"}}, "c", "work")
	if vs[0].Value != "c" || !vs[0].Primary || vs[0].Type != "home" || vs[1].Primary {
		t.Fatalf("%+v", vs)
	}
	// A first value gets the type.
	if vs := SetPrimary(nil, "a", "work"); len(vs) != 1 || vs[0] != (store.Value{Value: "a", Type: "work", Primary: true}) {
		t.Fatalf("%+v", vs)
	}
	// "" removes the primary value and leaves the caller's array alone.
	orig := []store.Value{{Value: "a"}, {Value: "b", Primary: true}, {Value: "c"}}
	vs = SetPrimary(orig, "", "work")
	if len(vs) != 2 || vs[0].Value != "a" || vs[1].Value != "c" || orig[1].Value != "b" || orig[2].Value != "c" {
		t.Fatalf("removed: %+v, original now %+v", vs, orig)
	}
	if vs := SetPrimary(nil, "", "work"); len(vs) != 0 {
		t.Fatalf("%+v", vs)
	}
	u := &store.User{Emails: []store.Value{{Value: "a@example.com", Primary: true}}}
	SetPrimaryEmail(u, "")
	if len(u.Emails) != 0 {
		t.Fatalf("%+v", u.Emails)
	}
}

// TestViewsWriteBack: the parts of a one-string name are a view, and a
// value sent back as shown is recognised whatever JSON form it travels in.
func TestViewsWriteBack(t *testing.T) {
	for _, c := range []struct {
		u             store.User
		given, family string
	}{
		{store.User{Name: store.Name{GivenName: "Barbara", FamilyName: "Jensen"}, DisplayName: "Babs"}, "Barbara", "Jensen"},
		{store.User{DisplayName: "Grace Brewster Hopper"}, "Grace", "Brewster Hopper"},
		{store.User{Name: store.Name{Formatted: " Ada  Lovelace "}}, "Ada", "Lovelace"},
		{store.User{DisplayName: "Cher"}, "Cher", ""},
		{store.User{UserName: "nobody"}, "", ""},
	} {
		if g, f := GivenFamily(&c.u); g != c.given || f != c.family {
			t.Errorf("GivenFamily(%+v) = %q %q, want %q %q", c.u, g, f, c.given, c.family)
		}
	}
	for _, c := range []struct {
		shown, sent any
		same        bool
	}{
		{"a", "a", true}, {"", nil, true}, {nil, "", true}, {float64(12), json.RawMessage(`12`), true},
		{int64(12), "12", true}, {true, json.RawMessage(`true`), true}, {map[string]any{"admin": 1}, map[string]any{"admin": float64(1)}, true},
		{"a", "b", false}, {"", "x", false}, {true, false, false}, {int64(12), "13", false},
	} {
		if SameAsShown(c.shown, c.sent) != c.same {
			t.Errorf("SameAsShown(%#v, %#v) != %v", c.shown, c.sent, c.same)
		}
	}
}

// TestActivityText: entries in words, the door named when it is not the
// viewer's, never the stored detail's raw form.
func TestActivityText(t *testing.T) {
	login := store.Activity{Action: auth.ActionLogin, Detail: `{"door":"xyops","session":"abc","user_agent":"curl/8"}`}
	for _, c := range []struct {
		a      store.Activity
		viewer string
		want   string
	}{
		{login, "usersapi", "User logged in via xyOps"},
		{login, "xyops", "User logged in"},
		{store.Activity{Action: "user.update", Detail: "changed: displayName, emails", Actor: store.Actor{Door: "scim"}}, "usersapi", "User updated: displayName, emails via SCIM"},
		{store.Activity{Action: "user.create", Detail: "userName=bob", Actor: store.Actor{Door: "usersapi"}}, "usersapi", "User created"},
		{store.Activity{Action: auth.ActionLoginFailure, Detail: "xstudio", Actor: store.Actor{Door: "xstudio"}}, "usersapi", "Failed login attempt via XStudio"},
		{store.Activity{Action: "password.reset.request", Actor: store.Actor{Door: "xstudio"}}, "xstudio", "Password reset request"},
	} {
		if got := ActivityText(c.a, c.viewer); got != c.want {
			t.Errorf("ActivityText(%s, %s) = %q, want %q", c.a.Action, c.viewer, got, c.want)
		}
	}
	if d, ok := Login(login); !ok || d.UserAgent != "curl/8" {
		t.Errorf("Login: %+v %v", d, ok)
	}
}
