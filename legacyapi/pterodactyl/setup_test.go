package pterodactyl

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/legacyapi/legacytest"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// env is a live panel: a real SQLite file behind a real HTTP server, with
// an administrator whose keys have each permission mix.
type env struct {
	t     testing.TB
	st    store.Store
	srv   *httptest.Server
	admin *store.User
	rw    string // read+write key of the admin
	ro    string // read-only key of the admin
	plain string // read+write key of a user who is not an admin
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	st := legacytest.OpenStore(t, nil)
	r := mux.NewRouter()
	Mount(r, cfg, legacyapi.Deps{Store: st, MaxBody: 4096})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	e := &env{t: t, st: st, srv: srv}
	e.admin = storetest.CreateUser(t, st, &store.User{UserName: "root", Active: true,
		Roles: []store.Value{{Value: "admin"}}, Emails: []store.Value{{Value: "root@example.com", Primary: true}}})
	plain := storetest.CreateUser(t, st, &store.User{UserName: "plain", Active: true})
	e.rw = e.key(e.admin, "read", "write")
	e.ro = e.key(e.admin, "read")
	e.plain = e.key(plain, "read", "write")
	return e
}

func (e *env) key(u *store.User, scopes ...string) string {
	e.t.Helper()
	token, idLen := NewKey()
	legacytest.IssueKey(e.t, e.st, Dialect, token, idLen, u.Key, "test", scopes...)
	return token
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body %q is not a JSON object: %v", r.status, r.body, err)
	}
	return m
}

// do sends a request; body is sent as application/json unless a
// Content-Type is given in hdr ("Name: value" strings).
func (e *env) do(method, path, token, body string, hdr ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// expect checks the status and, when want is not empty, the exact body.
func (r response) expect(t testing.TB, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if want != "" && strings.TrimSpace(string(r.body)) != want {
		t.Fatalf("body\n%s\nwant\n%s", r.body, want)
	}
}

func attrsOf(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	a, ok := m["attributes"].(map[string]any)
	if !ok {
		t.Fatalf("no attributes in %v", m)
	}
	return a
}
