package auth

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
)

func TestKeys(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	u := storetest.CreateUser(t, st, &store.User{UserName: "owner"})
	token := "ptla_" + RandomString(43)
	c, err := IssueKey(ctx, st, store.Actor{Door: "cli"}, "pterodactyl", token, 16, u.Key, "ci", []string{"users:read"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Identifier != token[:16] || c.SecretHash == token {
		t.Fatalf("credential %+v", c)
	}
	gotC, gotU, err := LookupKey(ctx, st, "pterodactyl", token)
	if err != nil || gotU.ID != u.ID || !HasScope(gotC, "users:read") || HasScope(gotC, "users:write") {
		t.Fatalf("lookup: %+v %+v %v", gotC, gotU, err)
	}
	if _, _, err := LookupKey(ctx, st, "xpdev", token); !store.IsNotFound(err) {
		t.Fatal("key valid for another dialect")
	}
	if _, _, err := LookupKey(ctx, st, "pterodactyl", token+"x"); !store.IsNotFound(err) {
		t.Fatal("wrong key accepted")
	}
}

func TestCredentialCache(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	u := storetest.CreateUser(t, st, &store.User{UserName: "owner", Active: true})
	token := "ptla_" + RandomString(43)
	c, err := IssueKey(ctx, st, store.Actor{Door: "test"}, "pterodactyl", token, 16, u.Key, "k", []string{"read"})
	if err != nil {
		t.Fatal(err)
	}
	if NewCredentialCache(0) != nil {
		t.Fatal("a zero TTL made a cache")
	}
	var none *CredentialCache
	if _, got, err := none.Lookup(ctx, st, KeyKind("pterodactyl"), token, time.Now()); err != nil || got.Key != u.Key {
		t.Fatalf("nil cache: %v %v", got, err)
	}
	cache := NewCredentialCache(time.Minute)
	now := time.Now()
	if _, _, err := cache.Lookup(ctx, st, KeyKind("pterodactyl"), token, now); err != nil {
		t.Fatal(err)
	}
	// Another dialect's lookup of the same token is not served from the cache.
	if _, _, err := cache.Lookup(ctx, st, KeyKind("xpdev"), token, now); !store.IsNotFound(err) {
		t.Fatalf("other dialect: %v", err)
	}
	// Revoke the key: the cache answers until its entry expires.
	if err := st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error { return tx.DeleteCredential(ctx, c.ID) }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cache.Lookup(ctx, st, KeyKind("pterodactyl"), token, now.Add(30*time.Second)); err != nil {
		t.Fatalf("within the TTL: %v", err)
	}
	if _, _, err := cache.Lookup(ctx, st, KeyKind("pterodactyl"), token, now.Add(61*time.Second)); !store.IsNotFound(err) {
		t.Fatalf("after the TTL: %v", err)
	}
}

// The user a cached credential is bound to is read on every use: its
// deactivation or deletion takes effect on the next lookup, within the TTL.
func TestCredentialCacheRereadsTheUser(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	u := storetest.CreateUser(t, st, &store.User{UserName: "bob", Active: true})
	token := "ptla_" + RandomString(43)
	if _, err := IssueKey(ctx, st, store.Actor{Door: "test"}, "pterodactyl", token, 16, u.Key, "k", []string{"read"}); err != nil {
		t.Fatal(err)
	}
	cache := NewCredentialCache(time.Minute)
	now := time.Now()
	if _, got, err := cache.Lookup(ctx, st, KeyKind("pterodactyl"), token, now); err != nil || !got.Active {
		t.Fatalf("first lookup: %+v %v", got, err)
	}
	write := func(fn func(tx store.Tx) error) {
		t.Helper()
		if err := st.Write(ctx, store.Actor{Door: "test"}, fn); err != nil {
			t.Fatal(err)
		}
	}
	write(func(tx store.Tx) error {
		_, err := tx.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Active = false; return nil })
		return err
	})
	if _, got, err := cache.Lookup(ctx, st, KeyKind("pterodactyl"), token, now.Add(time.Second)); err != nil || got.Active {
		t.Fatalf("after deactivation, within the TTL: %+v %v", got, err)
	}
	write(func(tx store.Tx) error { return tx.DeleteUser(ctx, u.ID) })
	if _, _, err := cache.Lookup(ctx, st, KeyKind("pterodactyl"), token, now.Add(2*time.Second)); !store.IsNotFound(err) {
		t.Fatalf("after deletion, within the TTL: %v", err)
	}
}

func TestTokenScopes(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	u := storetest.CreateUser(t, st, &store.User{UserName: "bob", Active: true})
	_, prov, err := IssueSCIMToken(ctx, st, store.Actor{Door: "test"}, "okta", 0)
	if err != nil {
		t.Fatal(err)
	}
	meToken, me, err := IssueSCIMToken(ctx, st, store.Actor{Door: "test"}, "bob", u.Key)
	if err != nil {
		t.Fatal(err)
	}
	_, adm, err := IssueAdminToken(ctx, st, store.Actor{Door: "test"}, "ops", 0)
	if err != nil {
		t.Fatal(err)
	}
	if SCIMScope(prov) != ScopeSCIMProvisioning || SCIMScope(me) != ScopeSCIMMe || !HasScope(me, ScopeSCIMMe) ||
		!HasScope(adm, ScopeAdmin) || HasScope(adm, ScopeSCIMProvisioning) {
		t.Fatalf("scopes: provisioning %v, /Me %v, admin %v", prov.Scopes, me.Scopes, adm.Scopes)
	}
	// A bound token stored without scopes (before they were kept) is a /Me token.
	if SCIMScope(&store.Credential{UserKey: u.Key}) != ScopeSCIMMe {
		t.Fatal("an unscoped bound token is not a /Me token")
	}
	// A bound token of a deactivated user has no holder.
	tokens := NewTokens(st, SCIMTokenKind, "", "")
	if h, err := tokens.Check(ctx, meToken, "token:"); err != nil || h == nil || h.User.Key != u.Key {
		t.Fatalf("active: %+v %v", h, err)
	}
	if err := st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
		_, err := tx.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Active = false; return nil })
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if h, err := tokens.Check(ctx, meToken, "token:"); err != nil || h != nil {
		t.Fatalf("deactivated: %+v %v", h, err)
	}
}

// BenchmarkCredentialCacheLookup is a cached key's lookup, as every
// Pterodactyl request makes it: the credential from the cache, its user
// read again.
func BenchmarkCredentialCacheLookup(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "k.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	u := storetest.CreateUser(b, st, &store.User{UserName: "owner", Active: true})
	token := "ptla_" + RandomString(43)
	if _, err := IssueKey(ctx, st, store.Actor{Door: "test"}, "pterodactyl", token, 16, u.Key, "k", []string{"read"}); err != nil {
		b.Fatal(err)
	}
	cache := NewCredentialCache(time.Hour)
	now := time.Now()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := cache.Lookup(ctx, st, KeyKind("pterodactyl"), token, now); err != nil {
			b.Fatal(err)
		}
	}
}

// openStore opens a store on a new SQLite file, closed when the test ends.
func openStore(t *testing.T) *sqlite.DB {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "auth.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
