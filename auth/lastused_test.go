package auth

import (
	"context"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// TestLookupRecordsLastUse: a credential's use is recorded, at most once
// per lastUseEvery (before: LastUsed stayed zero for tokens and keys).
func TestLookupRecordsLastUse(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	token, c, err := IssueSCIMToken(ctx, st, store.Actor{Door: "test"}, "okta", 0)
	if err != nil {
		t.Fatal(err)
	}
	lastUsed := func() time.Time {
		creds, err := st.ListCredentials(ctx, SCIMTokenKind)
		if err != nil || len(creds) != 1 || creds[0].ID != c.ID {
			t.Fatalf("%v %v", creds, err)
		}
		return creds[0].LastUsed
	}
	cache := NewCredentialCache(time.Nanosecond)
	t0 := time.Now().Truncate(time.Microsecond)
	if _, _, err := cache.Lookup(ctx, st, SCIMTokenKind, token, t0); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); !got.Equal(t0) {
		t.Fatalf("last use %v, want %v", got, t0)
	}
	if _, _, err := cache.Lookup(ctx, st, SCIMTokenKind, token, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); !got.Equal(t0) {
		t.Fatalf("rewritten within lastUseEvery: %v", got)
	}
	var none *CredentialCache
	if _, _, err := none.Lookup(ctx, st, SCIMTokenKind, token, t0.Add(2*lastUseEvery)); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); !got.Equal(t0.Add(2 * lastUseEvery)) {
		t.Fatalf("last use %v after a minute", got)
	}
}

// TestCacheKeepsNoCredentialPastItsExpiry: a credential that expires within
// the cache's TTL stops working when it expires (before: up to the TTL
// later).
func TestCacheKeepsNoCredentialPastItsExpiry(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	token, c, err := IssueSCIMToken(ctx, st, store.Actor{Door: "test"}, "short", 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c.Expires = now.Add(time.Second)
	if err := st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error { return tx.UpdateCredential(ctx, c) }); err != nil {
		t.Fatal(err)
	}
	cache := NewCredentialCache(time.Hour)
	if _, _, err := cache.Lookup(ctx, st, SCIMTokenKind, token, now); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	// The store's clock decides expiry; wait until it has passed.
	time.Sleep(time.Until(c.Expires) + 10*time.Millisecond)
	if _, _, err := cache.Lookup(ctx, st, SCIMTokenKind, token, time.Now()); !store.IsNotFound(err) {
		t.Fatalf("after expiry, from the cache: %v", err)
	}
}
