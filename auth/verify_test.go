package auth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

type fakeDir struct {
	dn, pw string
	down   bool
}

func (f fakeDir) Bind(_ context.Context, _, dn, pw string) error {
	if f.down {
		return errors.New("connection refused")
	}
	if dn == f.dn && pw == f.pw {
		return nil
	}
	return ErrInvalidCredentials
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	h, _ := HashPassword("local-pw")
	local := &store.User{UserName: "l", PasswordHash: h}
	synced := &store.User{UserName: "s", Source: store.Source{Name: "ldap", ID: "x", DN: "uid=s"}}
	// Created over SCIM with a password, then linked to the directory.
	linked := &store.User{UserName: "s", PasswordHash: h, Source: synced.Source}
	v := &Verifier{Directory: fakeDir{dn: "uid=s", pw: "dir-pw"}}
	for _, tc := range []struct {
		u    *store.User
		pw   string
		want bool
	}{
		{local, "local-pw", true}, {local, "wrong", false}, {local, "", false},
		{synced, "dir-pw", true}, {synced, "local-pw", false},
		{linked, "dir-pw", true}, {linked, "local-pw", false},
	} {
		got, err := v.Check(ctx, tc.u, tc.pw)
		if err != nil || got != tc.want {
			t.Errorf("%s/%q: got %v %v", tc.u.UserName, tc.pw, got, err)
		}
	}
	down := &Verifier{Directory: fakeDir{down: true}}
	if ok, err := down.Check(ctx, synced, "dir-pw"); ok || err == nil {
		t.Fatal("directory down must be an error, not a yes")
	}
	// Every door maps the store's unavailable kind to its 503.
	if _, err := down.Check(ctx, synced, "dir-pw"); store.KindOf(err) != store.KindUnavailable ||
		!errors.Is(err, ErrDirectoryUnavailable) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("directory down: %v (kind %v), want ErrDirectoryUnavailable wrapping the cause", err, store.KindOf(err))
	}
}

func TestDirectoryManaged(t *testing.T) {
	h, _ := HashPassword("local-pw")
	src := store.Source{Name: "ldap", ID: "x", DN: "uid=s"}
	for _, tc := range []struct {
		u    *store.User
		want bool
	}{
		{&store.User{PasswordHash: h}, false},
		{&store.User{}, false},
		{&store.User{Source: src}, true},
		{&store.User{Source: src, PasswordHash: h}, false}, // linked after a local password was set
	} {
		if got := DirectoryManaged(tc.u); got != tc.want {
			t.Errorf("%+v: %v", tc.u, got)
		}
	}
	// With no directory to ask, a directory-managed user has no password.
	if ok, err := (&Verifier{}).Check(context.Background(), &store.User{Source: src}, "anything"); ok || err != nil {
		t.Fatalf("%v %v", ok, err)
	}
}
