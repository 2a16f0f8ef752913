package auth

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// TestLookupRecordsLastUse: a credential's use is recorded, at most once
// per lastUseEvery (before: LastUsed stayed zero for tokens and keys).
func TestLookupRecordsLastUse(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "u.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
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
