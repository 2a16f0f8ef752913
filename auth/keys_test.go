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
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
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
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
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
