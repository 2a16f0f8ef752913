package usersapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/legacyapi/legacytest"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// directory is a stand-in for the LDAP bind seam (auth.DirectoryBinder);
// ldapsync's own tests bind against a real slapd.
type directory struct {
	passwords map[string]string // DN → password
	down      bool
}

func (d *directory) Bind(_ context.Context, _, dn, pw string) error {
	if d.down {
		return errors.New("connection refused")
	}
	if want, ok := d.passwords[dn]; ok && want == pw {
		return nil
	}
	return auth.ErrInvalidCredentials
}

type env struct {
	t                     testing.TB
	st                    store.Store
	srv                   *httptest.Server
	dir                   *directory
	admin, user, mod      *store.User
	adminKey, userKey, ro string
	skew                  atomic.Int64 // nanoseconds the test clock is ahead
}

// advance moves the test clock on.
func (e *env) advance(d time.Duration) { e.skew.Add(int64(d)) }

const (
	adminPW = "admin-password"
	userPW  = "user-password"
)

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	e := &env{t: t}
	// One clock for the store and the dialect, so tests can move time on.
	clock := func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) }
	st := legacytest.OpenStore(t, clock)
	dir := &directory{passwords: map[string]string{}}
	r := mux.NewRouter()
	Mount(r, cfg, legacyapi.Deps{Store: st, MaxBody: 4096, Passwords: &auth.Verifier{Directory: dir}, Now: clock})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	hash := func(pw string) string {
		h, err := auth.HashPassword(pw)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	e.st, e.srv, e.dir = st, srv, dir
	e.admin = storetest.CreateUser(t, st, &store.User{UserName: "ada", Active: true, DisplayName: "Ada Admin",
		Roles: []store.Value{{Value: "admin"}}, PasswordHash: hash(adminPW),
		Emails: []store.Value{{Value: "admin@example.com", Primary: true}}})
	e.user = storetest.CreateUser(t, st, &store.User{UserName: "user", Active: true, PasswordHash: hash(userPW),
		Name: store.Name{GivenName: "Ursula", FamilyName: "User"}, Emails: []store.Value{{Value: "user@example.com"}}})
	e.mod = storetest.CreateUser(t, st, &store.User{UserName: "mod", Active: true, Roles: []store.Value{{Value: "moderator"}}})
	e.adminKey = e.key(e.admin, "read", "write")
	e.userKey = e.key(e.user, "read", "write")
	e.ro = e.key(e.admin, "read")
	return e
}

func (e *env) key(u *store.User, scopes ...string) string {
	e.t.Helper()
	token, n := NewKey()
	legacytest.IssueKey(e.t, e.st, Dialect, token, n, u.Key, "t", scopes...)
	return token
}

type response struct {
	status int
	body   []byte
}

func (e *env) do(method, path, token, body string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "usersapi-test")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: b}
}

func (r response) expect(t testing.TB, status int, want string) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if want != "" && strings.TrimSpace(string(r.body)) != want {
		t.Fatalf("body\n%s\nwant\n%s", r.body, want)
	}
	return r
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// data returns the "data" member of a success body.
func (r response) data(t testing.TB) map[string]any {
	t.Helper()
	m := r.json(t)
	if m["success"] != true {
		t.Fatalf("not a success: %s", r.body)
	}
	d, ok := m["data"].(map[string]any)
	if !ok {
		t.Fatalf("no data object: %s", r.body)
	}
	return d
}

func (e *env) login(name, pw string) string {
	e.t.Helper()
	d := e.do("POST", "/api/auth/login", "", `{"username":"`+name+`","password":"`+pw+`"}`).expect(e.t, 200, "").data(e.t)
	return d["accessToken"].(string)
}
