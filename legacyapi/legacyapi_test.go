package legacyapi

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/scimbridge/scimbridge/internal/secret"
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
	token := "ptla_" + secret.RandomString(43)
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
