package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// newDB makes a database with the users named.
func newDB(t *testing.T, users ...string) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "scimbridge.db")
	st, err := sqlite.Open(context.Background(), db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		storetest.CreateUser(t, st, &store.User{UserName: u, Active: true})
	}
	st.Close()
	return db
}

// scimGet GETs path below the SCIM root with token.
func scimGet(t *testing.T, base, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/scim/v2"+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestListsNameUsersAndLastUse: token list and apikey list name the user
// (before: user=1), show when each was last used and when it expires, in
// aligned columns with a header, or as JSON with --json.
func TestListsNameUsersAndLastUse(t *testing.T) {
	db := newDB(t, "ops@example.com")
	out, err := runCmd(t, "token", "create", "--db", db, "--name", "okta", "--user", "ops@example.com", "--expires", "90d")
	token := tokenRE.FindString(out)
	if err != nil || token == "" || !strings.Contains(out, "valid until") {
		t.Fatalf("token create: %q %v", out, err)
	}
	if out, err := runCmd(t, "token", "create", "--db", db, "--name", "a-much-longer-token-name"); err != nil {
		t.Fatalf("%q %v", out, err)
	}
	if out, err := runCmd(t, "apikey", "create", "--db", db, "--api", "xyops", "--user", "ops@example.com"); err != nil {
		t.Fatalf("%q %v", out, err)
	}
	p := startServe(t, db)
	// A token bound to a user reaches that user's /Me only.
	if s := scimGet(t, p.base, "/Me", token); s != http.StatusOK {
		t.Fatalf("GET /Me with the new token: %d", s)
	}

	out, err = runCmd(t, "token", "list", "--db", db, "--json")
	var tokens []credentialView
	if err != nil || json.Unmarshal([]byte(out), &tokens) != nil || len(tokens) != 2 {
		t.Fatalf("token list --json: %q %v", out, err)
	}
	okta := tokens[0]
	if okta.Name != "okta" || okta.User != "ops@example.com" || okta.LastUsed == nil || okta.Expires == nil ||
		time.Until(*okta.Expires) < 89*24*time.Hour || tokens[1].LastUsed != nil || tokens[1].User != "" {
		t.Fatalf("token list --json: %s", out)
	}
	if strings.Contains(out, token) {
		t.Fatal("the list shows the token itself")
	}

	out, _ = runCmd(t, "token", "list", "--db", db)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], "ops@example.com") ||
		!strings.Contains(lines[2], "never") || strings.Contains(out, "user=") {
		t.Fatalf("token list:\n%s", out)
	}
	assertAligned(t, lines, "LAST USED")

	out, _ = runCmd(t, "apikey", "list", "--db", db, "--api", "xyops")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "ops@example.com") || !strings.Contains(lines[1], "read,write") {
		t.Fatalf("apikey list:\n%s", out)
	}
	assertAligned(t, lines, "SCOPES")
	out, err = runCmd(t, "apikey", "list", "--db", db, "--json")
	var keys []credentialView
	if err != nil || json.Unmarshal([]byte(out), &keys) != nil || len(keys) != 1 || keys[0].API != "xyops" || keys[0].User != "ops@example.com" {
		t.Fatalf("apikey list --json: %q %v", out, err)
	}
}

// assertAligned checks that column starts at the same offset on every line.
func assertAligned(t *testing.T, lines []string, column string) {
	t.Helper()
	// Offsets in characters, as a terminal shows them ("…" is one).
	at := utf8.RuneCountInString(lines[0][:max(0, strings.Index(lines[0], column))])
	cells := regexp.MustCompile(`\S+( \S+)*`)
	for _, l := range lines[1:] {
		found := false
		for _, m := range cells.FindAllStringIndex(l, -1) {
			if utf8.RuneCountInString(l[:m[0]]) == at {
				found = true
			}
		}
		if !strings.Contains(lines[0], column) || !found {
			t.Fatalf("column %s (at %d) not aligned:\n%s", column, at, strings.Join(lines, "\n"))
		}
	}
}

// TestTokenExpires: a token made with --expires works until then and not
// after; the list marks it expired.
func TestTokenExpires(t *testing.T) {
	db := newDB(t)
	out, err := runCmd(t, "token", "create", "--db", db, "--name", "brief", "--expires", "2s")
	token := tokenRE.FindString(out)
	if err != nil || token == "" {
		t.Fatalf("%q %v", out, err)
	}
	p := startServe(t, db)
	if s := scimGet(t, p.base, "/Users", token); s != http.StatusOK {
		t.Fatalf("before expiry: %d", s)
	}
	time.Sleep(2500 * time.Millisecond)
	if s := scimGet(t, p.base, "/Users", token); s != http.StatusUnauthorized {
		t.Fatalf("after expiry: %d, want 401", s)
	}
	if out, _ := runCmd(t, "token", "list", "--db", db); !strings.Contains(out, "expired ") {
		t.Fatalf("token list does not mark the token expired:\n%s", out)
	}
}
