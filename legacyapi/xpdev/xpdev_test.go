package xpdev

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/legacyapi/legacytest"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
	"github.com/scimbridge/scimbridge/store/teststore"
)

type env struct {
	t                    testing.TB
	st                   store.Store
	srv                  *httptest.Server
	owner, admin, user   *store.User
	ownerKey, adminKey   string
	userKey, readOnlyKey string
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	st := teststore.Open(t, nil)
	r := mux.NewRouter()
	Mount(r, cfg, legacyapi.Deps{Store: st, MaxBody: 2048})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	e := &env{t: t, st: st, srv: srv}
	e.owner = storetest.CreateUser(t, st, &store.User{UserName: "owner", Active: true, Timezone: "Europe/London",
		Roles: []store.Value{{Value: "owner"}}, Emails: []store.Value{{Value: "admin@xp-dev.com", Primary: true}}})
	e.admin = storetest.CreateUser(t, st, &store.User{UserName: "adam", Active: true, Roles: []store.Value{{Value: "Admin", Type: store.RoleType}}})
	e.user = storetest.CreateUser(t, st, &store.User{UserName: "reader", Active: true, Emails: []store.Value{{Value: "reader@example.com"}}})
	e.ownerKey = e.key(e.owner, "read", "write")
	e.adminKey = e.key(e.admin, "read", "write")
	e.userKey = e.key(e.user, "read", "write")
	e.readOnlyKey = e.key(e.admin, "read")
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
	body   string
}

func (e *env) do(method, path, token, body string, contentType ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if token != "" {
		req.Header.Set(TokenHeader, token)
	}
	if len(contentType) > 0 {
		req.Header.Set("Content-Type", contentType[0])
	} else if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, strings.TrimSpace(string(b))}
}

func (r response) expect(t testing.TB, status int, body string) response {
	t.Helper()
	if r.status != status || (body != "*" && r.body != body) {
		t.Fatalf("got %d %s\nwant %d %s", r.status, r.body, status, body)
	}
	return r
}

const (
	denied   = `{"message":"Permission denied"}`
	notFound = `{"message":"User not found"}`
)

func TestNewKeyFormat(t *testing.T) {
	k, n := NewKey()
	if n != 8 || !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(k) {
		t.Fatalf("key %q %d", k, n)
	}
}

func TestAuthAndCurrentUser(t *testing.T) {
	e := newEnv(t, Config{DefaultTimezone: "Europe/Paris"})
	e.do("GET", "/api/v1/user", "", "").expect(t, 401, `{"message":"Authentication required"}`)
	e.do("GET", "/api/v1/user", "nope", "").expect(t, 401, `{"message":"Invalid API token"}`)
	// A Bearer header is not this API's credential.
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/user", nil)
	req.Header.Set("Authorization", "Bearer "+e.ownerKey)
	if res, _ := http.DefaultClient.Do(req); res.StatusCode != 401 {
		t.Fatalf("bearer accepted: %d", res.StatusCode)
	}
	e.do("GET", "/api/v1/user", e.ownerKey, "").expect(t, 200,
		fmt.Sprintf(`{"id":%d,"username":"owner","timezone":"Europe/London","email":"admin@xp-dev.com","userRole":"Owner"}`, e.owner.Key))
	// Every role reads itself; a timezone-less user gets the default.
	e.do("GET", "/api/v1/user", e.userKey, "").expect(t, 200,
		fmt.Sprintf(`{"id":%d,"username":"reader","timezone":"Europe/Paris","email":"reader@example.com","userRole":"User"}`, e.user.Key))
	e.do("GET", "/api/v1/user", e.adminKey, "").expect(t, 200,
		fmt.Sprintf(`{"id":%d,"username":"adam","timezone":"Europe/Paris","email":"","userRole":"Administrator"}`, e.admin.Key))
}

func TestReadAndList(t *testing.T) {
	e := newEnv(t, Config{})
	e.do("GET", fmt.Sprintf("/api/v1/user/%d", e.user.Key), e.adminKey, "").expect(t, 200, "*")
	e.do("GET", fmt.Sprintf("/api/v1/user/%d", e.user.Key), e.userKey, "").expect(t, 200, "*")
	e.do("GET", fmt.Sprintf("/api/v1/user/%d", e.owner.Key), e.userKey, "").expect(t, 403, denied)
	e.do("GET", "/api/v1/user/9999", e.adminKey, "").expect(t, 404, notFound)
	e.do("GET", "/api/v1/user/abc", e.adminKey, "").expect(t, 404, notFound)
	e.do("GET", "/api/v1/user/all", e.userKey, "").expect(t, 403, denied)

	for i := range 1200 { // more than one keyset page
		storetest.CreateUser(t, e.st, &store.User{UserName: fmt.Sprintf("bulk%04d", i), Active: true})
	}
	res := e.do("GET", "/api/v1/user/all", e.adminKey, "").expect(t, 200, "*")
	var users []map[string]any
	if err := json.Unmarshal([]byte(res.body), &users); err != nil {
		t.Fatalf("list is not a JSON array: %v", err)
	}
	if len(users) != 1203 || users[0]["username"] != "owner" || users[1202]["username"] != "bulk1199" {
		t.Fatalf("%d users, first %v", len(users), users[0])
	}
	for i, u := range users {
		if len(u) != 5 {
			t.Fatalf("user %d has keys %v", i, u)
		}
		if i > 0 && u["id"].(float64) <= users[i-1]["id"].(float64) {
			t.Fatal("not ordered by id")
		}
	}
	e.do("PUT", "/api/v1/user/all", e.adminKey, "{}").expect(t, 405, `{"message":"Method not allowed"}`)
	e.do("GET", "/api/v1/user/1/extra", e.adminKey, "").expect(t, 404, `{"message":"Not found"}`)
}

func TestCreate(t *testing.T) {
	e := newEnv(t, Config{})
	res := e.do("POST", "/api/v1/user", e.adminKey, `{"username":"newchilduser","email":"example@example.com","password":"FGdfosad","userRole":"Administrator"}`)
	res.expect(t, 200, "*")
	var got map[string]any
	_ = json.Unmarshal([]byte(res.body), &got)
	if got["username"] != "newchilduser" || got["userRole"] != "Administrator" || got["timezone"] != "UTC" || len(got) != 5 {
		t.Fatalf("created %s", res.body)
	}
	u, _ := e.st.GetUserByUserName(context.Background(), "newchilduser")
	if ok, _ := auth.CheckPassword(u.PasswordHash, "FGdfosad"); !ok || !store.IsAdmin(u) || u.PrimaryEmail() != "example@example.com" {
		t.Fatalf("stored %+v", u)
	}
	// No password: a random one; the owner's timezone is inherited.
	res = e.do("POST", "/api/v1/user", e.ownerKey, `{"username":"nopw","email":"nopw@example.com","userRole":"User"}`).expect(t, 200, "*")
	if !strings.Contains(res.body, `"timezone":"Europe/London"`) || !strings.Contains(res.body, `"userRole":"User"`) {
		t.Fatalf("created %s", res.body)
	}
	nopw, _ := e.st.GetUserByUserName(context.Background(), "nopw")
	if nopw.PasswordHash == "" || store.IsAdmin(nopw) {
		t.Fatalf("stored %+v", nopw)
	}
	e.do("POST", "/api/v1/user", e.ownerKey, `{"username":"tz","email":"tz@example.com","userRole":"User","timezone":"Asia/Tokyo"}`).expect(t, 200, "*")

	before, _ := e.st.ListUsers(context.Background(), store.Query{Limit: 1})
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"email":"a@example.com","userRole":"User"}`, 400, `{"message":"username is required"}`},
		{`{"username":"  ","email":"a@example.com","userRole":"User"}`, 400, `{"message":"username is required"}`},
		{`{"username":"a","userRole":"User"}`, 400, `{"message":"email is required"}`},
		{`{"username":"a","email":"a@example.com"}`, 400, `{"message":"userRole is required"}`},
		{`{"username":7,"email":"a@example.com","userRole":"User"}`, 400, `{"message":"username must be a string"}`},
		{`{"username":"a b","email":"a@example.com","userRole":"User"}`, 400, `{"message":"Invalid username"}`},
		{`{"username":"a","email":"not-mail","userRole":"User"}`, 400, `{"message":"Invalid email"}`},
		{`{"username":"a","email":"a@example.com","userRole":"administrator"}`, 400, `{"message":"Invalid userRole"}`},
		{`{"username":"a","email":"a@example.com","userRole":"User","password":5}`, 400, `{"message":"password must be a string"}`},
		{`{"username":"a","email":"a@example.com","userRole":"User","timezone":"Moon/Base"}`, 400, `{"message":"Invalid timezone"}`},
		{`{"username":"a","email":"a@example.com","userRole":"Owner"}`, 403, denied},
		{`{"username":"NEWCHILDUSER","email":"a@example.com","userRole":"User"}`, 409, `{"message":"Username already exists"}`},
		{`{"username":"a","email":"Example@example.com","userRole":"User"}`, 409, `{"message":"Email already exists"}`},
		// Both taken: the username is reported (the store's conflict comes first).
		{`{"username":"NEWCHILDUSER","email":"Example@example.com","userRole":"User"}`, 409, `{"message":"Username already exists"}`},
		{`{"username":`, 400, `{"message":"Invalid JSON"}`},
		{`[1,2]`, 400, `{"message":"Invalid JSON"}`},
		{`{"username":"` + strings.Repeat("a", 3000) + `"}`, 413, `{"message":"Request body too large"}`},
	} {
		e.do("POST", "/api/v1/user", e.adminKey, tc.body).expect(t, tc.status, tc.want)
	}
	e.do("POST", "/api/v1/user", e.adminKey, `{"username":"a","email":"a@example.com","userRole":"User"}`, "text/plain").
		expect(t, 415, `{"message":"Content-Type must be application/json"}`)
	e.do("POST", "/api/v1/user", e.userKey, `{"username":"a","email":"a@example.com","userRole":"User"}`).expect(t, 403, denied)
	e.do("POST", "/api/v1/user", e.readOnlyKey, `{"username":"a","email":"a@example.com","userRole":"User"}`).expect(t, 403, denied)
	after, _ := e.st.ListUsers(context.Background(), store.Query{Limit: 1})
	if after.Total != before.Total {
		t.Fatalf("failed creates wrote users: %d → %d", before.Total, after.Total)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t, Config{})
	victim := storetest.CreateUser(t, e.st, &store.User{UserName: "victim", Active: true})
	path := fmt.Sprintf("/api/v1/user/%d", victim.Key)
	e.do("DELETE", path, e.userKey, "").expect(t, 403, denied)
	e.do("DELETE", path, e.readOnlyKey, "").expect(t, 403, denied)
	e.do("DELETE", fmt.Sprintf("/api/v1/user/%d", e.owner.Key), e.adminKey, "").expect(t, 403, denied)
	e.do("DELETE", fmt.Sprintf("/api/v1/user/%d", e.admin.Key), e.adminKey, "").expect(t, 403, denied)
	e.do("DELETE", path, e.adminKey, "").expect(t, 200, "")
	e.do("DELETE", path, e.adminKey, "").expect(t, 404, notFound)
	if _, err := e.st.GetUserByKey(context.Background(), victim.Key); !store.IsNotFound(err) {
		t.Fatal("user still stored")
	}
	// The key of a deleted user is gone with it.
	e.do("DELETE", fmt.Sprintf("/api/v1/user/%d", e.user.Key), e.ownerKey, "").expect(t, 200, "")
	e.do("GET", "/api/v1/user", e.userKey, "").expect(t, 401, `{"message":"Invalid API token"}`)
}

func TestPrefix(t *testing.T) {
	e := newEnv(t, Config{DialectConfig: legacyapi.DialectConfig{Prefix: "/xp"}})
	e.do("GET", "/xp/api/v1/user", e.ownerKey, "").expect(t, 200, "*")
	e.do("GET", "/api/v1/user", e.ownerKey, "").expect(t, 404, "404 page not found")
}
