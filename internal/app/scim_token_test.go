package app_test

// The application's SCIM authenticator: the configured token and stored
// tokens, looked up by their hash. The SCIM door's own tests run on
// scim/scimtest with a test authenticator; these need the application.

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/store"
)

func TestSCIMTokens(t *testing.T) {
	s := apptest.Start(t)
	for _, h := range []string{"", "Bearer wrong-token", "Basic " + apptest.Token, "Bearer"} {
		req, _ := http.NewRequest("GET", s.URL+"/scim/v2/Users", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/scim+json" {
			t.Fatalf("auth %q: %d %s", h, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	// A stored token works; the same token altered does not.
	ctx := context.Background()
	token, cred, err := auth.IssueSCIMToken(ctx, s.Store, store.Actor{Door: "test"}, "okta", 0)
	if err != nil {
		t.Fatal(err)
	}
	get := func(tok string) int {
		req, _ := http.NewRequest("GET", s.URL+"/scim/v2/Users", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(token); got != 200 {
		t.Fatalf("stored token: %d", got)
	}
	altered := token[:len(token)-1] + "x"
	if strings.HasSuffix(token, "x") {
		altered = token[:len(token)-1] + "y"
	}
	if got := get(altered); got != 401 {
		t.Fatalf("altered token: %d", got)
	}
	stored, _ := s.Store.FindCredential(ctx, auth.SCIMTokenKind, auth.HashToken(token))
	if stored == nil || stored.SecretHash == token || cred.SecretHash != auth.HashToken(token) {
		t.Fatal("token not stored as its hash")
	}
	if strings.Contains(s.Logs(), token) || strings.Contains(s.Logs(), apptest.Token) {
		t.Fatal("a token reached the logs")
	}
}

// A stored token bound to a user answers /Me as that user.
func TestSCIMTokenBoundToAUserServesMe(t *testing.T) {
	s := apptest.Start(t)
	ctx := context.Background()
	u := &store.User{UserName: "me-user", Active: true}
	if err := s.Store.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error { return tx.CreateUser(ctx, u) }); err != nil {
		t.Fatal(err)
	}
	token, _, err := auth.IssueSCIMToken(ctx, s.Store, store.Actor{Door: "test"}, "me", u.Key)
	if err != nil {
		t.Fatal(err)
	}
	resp := s.Do(t, "GET", "/scim/v2/Me", nil, "Authorization", "Bearer "+token)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), u.ID) {
		t.Fatalf("/Me: %d %s", resp.StatusCode, body)
	}
}
