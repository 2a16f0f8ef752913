package app_test

// The application's SCIM authenticator: the configured token and stored
// tokens, looked up by their hash. The SCIM door's own tests run on
// scim/scimtest with a test authenticator; these need the application.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// Tokens of two provisioning domains (made through /admin/tokens) give the
// same externalId to different people and find each its own; the
// configured token is in the default domain and sees neither.
func TestSCIMTokenDomains(t *testing.T) {
	s := apptest.Start(t)
	call := func(method, path, token string, body string) (int, map[string]any) {
		t.Helper()
		resp := s.Do(t, method, path, body, "Authorization", "Bearer "+token, "Content-Type", "application/json")
		defer resp.Body.Close()
		var doc map[string]any
		raw, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(raw, &doc)
		return resp.StatusCode, doc
	}
	tokens := map[string]string{}
	for _, domain := range []string{"okta", "entra"} {
		code, doc := call("POST", "/admin/tokens", apptest.AdminToken, `{"name":"`+domain+`-tenant","domain":"`+domain+`"}`)
		if code != 201 || doc["domain"] != domain {
			t.Fatalf("create %s token: %d %v", domain, code, doc)
		}
		tokens[domain] = doc["token"].(string)
	}
	if code, doc := call("POST", "/admin/tokens", apptest.AdminToken, `{"name":"bad","domain":"no spaces"}`); code != 400 {
		t.Fatalf("a bad domain: %d %v", code, doc)
	}
	if code, doc := call("POST", "/admin/tokens", apptest.AdminToken, `{"name":"bad","compat":"lenient"}`); code != 400 {
		t.Fatalf("a bad compat: %d %v", code, doc)
	}
	ids := map[string]string{}
	for domain, user := range map[string]string{"okta": "ann", "entra": "bob"} {
		code, doc := call("POST", "/scim/v2/Users", tokens[domain], `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+user+`","externalId":"same-ext"}`)
		if code != 201 || doc["externalId"] != "same-ext" {
			t.Fatalf("%s creates %s: %d %v", domain, user, code, doc)
		}
		ids[domain] = doc["id"].(string)
	}
	for domain, want := range map[string]string{"okta": ids["okta"], "entra": ids["entra"]} {
		_, doc := call("GET", "/scim/v2/Users?filter="+url.QueryEscape(`externalId eq "same-ext"`), tokens[domain], "")
		res, _ := doc["Resources"].([]any)
		if doc["totalResults"] != float64(1) || len(res) != 1 || res[0].(map[string]any)["id"] != want {
			t.Errorf("%s's filter: %v", domain, doc)
		}
	}
	// Entra also provisions ann, under its own externalId.
	code, doc := call("PATCH", "/scim/v2/Users/"+ids["okta"], tokens["entra"], `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"replace","path":"externalId","value":"entra-ann"}]}`)
	if code != 200 || doc["externalId"] != "entra-ann" {
		t.Fatalf("entra sets its externalId on ann: %d %v", code, doc)
	}
	if _, doc := call("GET", "/scim/v2/Users/"+ids["okta"], tokens["okta"], ""); doc["externalId"] != "same-ext" {
		t.Errorf("okta's externalId of ann after entra's PATCH: %v", doc["externalId"])
	}
	if _, doc := call("GET", "/scim/v2/Users/"+ids["okta"], apptest.Token, ""); doc["externalId"] != nil {
		t.Errorf("the configured (default-domain) token sees externalId %v", doc["externalId"])
	}
	if _, doc := call("GET", "/admin/tokens", apptest.AdminToken, ""); !strings.Contains(fmt.Sprint(doc), "domain:entra") {
		t.Errorf("the token list does not show domains: %v", doc)
	}
}
