package xstudio

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/legacyapi/legacytest"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

const adminPW = "admin-secret"

type env struct {
	t     testing.TB
	st    store.Store
	srv   *httptest.Server
	clock *legacytest.Clock
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	clk := legacytest.NewClock()
	st := legacytest.OpenStore(t, clk.Now)
	if cfg.AdminPassword == "" {
		cfg.AdminPassword = adminPW
	}
	if cfg.AdminEmail == "" {
		cfg.AdminEmail = "admin@acme.com"
	}
	r := mux.NewRouter()
	Mount(r, cfg, legacyapi.Deps{Store: st, Passwords: &auth.Verifier{}, Now: clk.Now, MaxBody: 64 << 10})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, srv: srv, clock: clk}
}

// client is one browser: a cookie jar and the base URL.
type client struct {
	e    *env
	http *http.Client
	base string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, http: &http.Client{Jar: jar}, base: e.srv.URL + "/xqual/api"}
}

// login authenticates a new client as name.
func (e *env) login(name, pw string) *client {
	e.t.Helper()
	c := e.client()
	if r := c.post("authenticate", url.Values{"username": {name}, "password": {pw}}); r["result"] != "success" {
		e.t.Fatalf("authenticate %s: %v", name, r)
	}
	return c
}

func (c *client) do(req *http.Request) map[string]any {
	c.e.t.Helper()
	res, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		c.e.t.Fatalf("%s %s: status %d %s", req.Method, req.URL, res.StatusCode, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		c.e.t.Fatalf("%s %s: not JSON: %s", req.Method, req.URL, raw)
	}
	return out
}

// get calls a getter in the /xqual/api/<command> form.
func (c *client) get(command string, params url.Values) map[string]any {
	c.e.t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/"+command+"?"+params.Encode(), nil)
	return c.do(req)
}

// post calls a setter in the ?command= form, parameters in the query.
func (c *client) post(command string, params url.Values) map[string]any {
	c.e.t.Helper()
	q := url.Values{"command": {command}}
	for k, v := range params {
		q[k] = v
	}
	req, _ := http.NewRequest("POST", c.base+"?"+q.Encode(), nil)
	return c.do(req)
}

// postForm calls a setter with its parameters as a urlencoded body.
func (c *client) postForm(command string, params url.Values) map[string]any {
	c.e.t.Helper()
	req, _ := http.NewRequest("POST", c.base+"/"+command, strings.NewReader(params.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// postMultipart sends fields as one part each, or json as the only part
// when it is not "".
func (c *client) postMultipart(command string, params url.Values, fields map[string]string, jsonPart string) map[string]any {
	c.e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	if jsonPart != "" {
		fw, _ := mw.CreateFormFile("data", "data.json")
		_, _ = fw.Write([]byte(jsonPart))
	}
	mw.Close()
	req, _ := http.NewRequest("POST", c.base+"/"+command+"?"+params.Encode(), &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

func ok(t *testing.T, r map[string]any) map[string]any {
	t.Helper()
	if r["result"] != "success" {
		t.Fatalf("want success, got %v", r)
	}
	return r
}

func failed(t *testing.T, r map[string]any, message string) {
	t.Helper()
	if r["result"] != "failure" || r["message"] != message {
		t.Fatalf("want failure %q, got %v", message, r)
	}
}

func id(v any) string { return strings.TrimSuffix(strings.TrimSuffix(jsonNum(v), ".0"), ".00") }

func jsonNum(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (e *env) storeUser(name, pw string) *store.User {
	e.t.Helper()
	u := &store.User{UserName: name, Active: true}
	if pw != "" {
		h, err := auth.HashPassword(pw)
		if err != nil {
			e.t.Fatal(err)
		}
		u.PasswordHash = h
	}
	return storetest.CreateUser(e.t, e.st, u)
}

func TestAuthenticate(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.client()
	r := ok(t, c.post("authenticate", url.Values{"username": {"admin"}, "password": {adminPW}}))
	admin, err := e.st.GetUserByUserName(context.Background(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	if r["userId"] != float64(admin.Key) || r["userEmail"] != "admin@acme.com" || r["local"] != "en_US" {
		t.Fatalf("authenticate: %v", r)
	}
	u, _ := url.Parse(e.srv.URL + "/xqual/api")
	cks := c.http.Jar.Cookies(u)
	if len(cks) != 1 || cks[0].Name != "JSESSIONID" || len(cks[0].Value) != 32 || strings.ToUpper(cks[0].Value) != cks[0].Value {
		t.Fatalf("cookies %v", cks)
	}
	creds, _ := e.st.ListCredentials(context.Background(), auth.SessionKind(Dialect))
	if len(creds) != 1 || creds[0].SecretHash != auth.HashToken(cks[0].Value) {
		t.Fatalf("session not stored as a hash: %+v", creds)
	}

	// Raw response: status 200, cookie attributes.
	res, err := http.Post(e.srv.URL+"/xqual/api?command=authenticate&username=admin&password="+adminPW, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	sc := res.Header.Get("Set-Cookie")
	for _, want := range []string{"JSESSIONID=", "Path=/xqual", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}

	e.storeUser("off", "pw-off")
	ctx := context.Background()
	_ = e.st.Write(ctx, store.Actor{Door: "scim"}, func(tx store.Tx) error {
		u, _ := tx.GetUserByUserName(ctx, "off")
		_, err := tx.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Active = false; return nil })
		return err
	})
	for _, tc := range []struct {
		name   string
		params url.Values
		msg    string
	}{
		{"wrong password", url.Values{"username": {"admin"}, "password": {"nope"}}, "password does not match user"},
		{"unknown user", url.Values{"username": {"ghost"}, "password": {"nope"}}, "password does not match user"},
		{"no username", url.Values{"password": {"nope"}}, "missing parameter: username"},
		{"no password", url.Values{"username": {"admin"}}, "missing parameter: password"},
		{"disabled", url.Values{"username": {"off"}, "password": {"pw-off"}}, "user is disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) { failed(t, e.client().post("authenticate", tc.params), tc.msg) })
	}
	// Getters are GET, but authenticate is a setter.
	failed(t, e.client().get("authenticate", url.Values{"username": {"admin"}, "password": {adminPW}}), "this command requires POST")
	// Parameters may come as a form body.
	ok(t, e.client().postForm("authenticate", url.Values{"username": {"admin"}, "password": {adminPW}}))
}

func TestLockout(t *testing.T) {
	e := newEnv(t, Config{LockoutFailures: 2})
	e.storeUser("bob", "pw-bob")
	bad := url.Values{"username": {"bob"}, "password": {"x"}}
	for i := 0; i < 3; i++ {
		failed(t, e.client().post("authenticate", bad), "password does not match user")
	}
	failed(t, e.client().post("authenticate", url.Values{"username": {"bob"}, "password": {"pw-bob"}}), "account is locked")
	e.clock.Add(61 * time.Minute)
	e.login("bob", "pw-bob")
}

func TestSessions(t *testing.T) {
	e := newEnv(t, Config{SessionTTL: 10 * time.Minute})
	failed(t, e.client().get("getUsersTree", nil), "not authenticated")
	bogus := e.client()
	u, _ := url.Parse(e.srv.URL + "/xqual")
	bogus.http.Jar.SetCookies(u, []*http.Cookie{{Name: "JSESSIONID", Value: "ABCDEF", Path: "/xqual"}})
	failed(t, bogus.get("getUsersTree", nil), "not authenticated")

	c := e.login("admin", adminPW)
	// Sliding expiry: use within the TTL keeps it alive past the first TTL.
	for i := 0; i < 3; i++ {
		e.clock.Add(6 * time.Minute)
		ok(t, c.get("getUsersTree", nil))
	}
	e.clock.Add(11 * time.Minute)
	failed(t, c.get("getUsersTree", nil), "not authenticated")

	c = e.login("admin", adminPW)
	ok(t, c.post("logout", nil))
	failed(t, c.get("getUsersTree", nil), "not authenticated")
	failed(t, c.post("logout", nil), "not authenticated")
}

func TestRouting(t *testing.T) {
	e := newEnv(t, Config{DialectConfig: legacyapi.DialectConfig{Prefix: "/x"}})
	c := e.client()
	c.base = e.srv.URL + "/x/xqual/api"
	ok(t, c.post("authenticate", url.Values{"username": {"admin"}, "password": {adminPW}}))
	// Both URL forms, and command inside a form body.
	ok(t, c.get("getUserForm", nil))
	req, _ := http.NewRequest("GET", c.base+"?command=getUserForm", nil)
	ok(t, c.do(req))
	req, _ = http.NewRequest("POST", c.base, strings.NewReader("command=getUserForm"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	ok(t, c.do(req))

	failed(t, c.get("frobnicate", nil), "unknown command: frobnicate")
	req, _ = http.NewRequest("GET", c.base, nil)
	failed(t, c.do(req), "missing parameter: command")
	failed(t, c.get("deleteUsers", url.Values{"userIds": {"1"}}), "this command requires POST")
	req, _ = http.NewRequest("PUT", c.base+"/getUserForm", nil)
	failed(t, c.do(req), "unsupported method: PUT")
	// Unknown commands are refused before the session is checked.
	anon := e.client()
	anon.base = c.base
	failed(t, anon.get("frobnicate", nil), "unknown command: frobnicate")

	res, err := http.Get(e.srv.URL + "/xqual/api/getUserForm")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("unprefixed path: %d", res.StatusCode)
	}
}

func TestUsers(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	c := e.login("admin", adminPW)

	form := ok(t, c.get("getUserForm", nil))["form"].([]any)
	if len(form) < 5 || form[0].(map[string]any)["name"] != "name" {
		t.Fatalf("form %v", form)
	}
	folder := id(ok(t, c.post("createFolder", url.Values{"name": {"QA"}}))["folderId"])
	sub := id(ok(t, c.post("createFolder", url.Values{"name": {"Sub"}, "parentFolderId": {folder}}))["folderId"])
	failed(t, c.post("createFolder", url.Values{"name": {"X"}, "parentFolderId": {"99"}}), "folder 99 does not exist")

	// One part per field.
	r := ok(t, c.postMultipart("createUser", url.Values{"parentFolderId": {folder}}, map[string]string{
		"name": "jdoe", "firstName": "John", "lastName": "Doe", "email": "j@acme.com", "password": "pw-jdoe", "phone": "+1 555",
	}, ""))
	jdoe := id(r["userId"])
	// One JSON part.
	r = ok(t, c.postMultipart("createUser", nil, nil, `{"name":"amy","password":"pw-amy","enabled":true,"email":"amy@acme.com"}`))
	amy := id(r["userId"])

	for _, tc := range []struct {
		name   string
		params url.Values
		fields map[string]string
		json   string
		msg    string
	}{
		{"duplicate", nil, map[string]string{"name": "JDOE", "password": "x"}, "", "a user with this name already exists"},
		{"no name", nil, map[string]string{"password": "x"}, "", "missing field: name"},
		{"no password", nil, map[string]string{"name": "new"}, "", "missing field: password"},
		{"unknown folder", url.Values{"parentFolderId": {"77"}}, map[string]string{"name": "new", "password": "x"}, "", "folder 77 does not exist"},
		{"unknown profile", nil, map[string]string{"name": "new", "password": "x", "profileId": "5"}, "", "profile 5 does not exist"},
		{"bad JSON part", nil, nil, `{"name":`, "malformed user form"},
		{"not an e-mail", nil, map[string]string{"name": "new", "password": "x", "email": "not-an-email"}, "", "invalid e-mail address: not-an-email"},
	} {
		t.Run(tc.name, func(t *testing.T) { failed(t, c.postMultipart("createUser", tc.params, tc.fields, tc.json), tc.msg) })
	}
	// Malformed multipart and non-multipart bodies.
	req, _ := http.NewRequest("POST", c.base+"/createUser", strings.NewReader("--xyz\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nbob"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=xyz")
	failed(t, c.do(req), "malformed multipart body")
	req, _ = http.NewRequest("POST", c.base+"/createUser", strings.NewReader("name=bob"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	failed(t, c.do(req), "this command requires a multipart/form-data body")
	if _, err := e.st.GetUserByUserName(ctx, "new"); !store.IsNotFound(err) {
		t.Fatal("a failed createUser wrote a user")
	}

	d := ok(t, c.get("getUserDetails", url.Values{"userId": {jdoe}}))["user"].(map[string]any)
	want := map[string]any{"name": "jdoe", "firstName": "John", "lastName": "Doe", "email": "j@acme.com", "phone": "+1 555",
		"enabled": true, "profileId": 0.0}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("details[%s] = %v, want %v", k, d[k], v)
		}
	}
	if id(d["parentFolderId"]) != folder || id(d["id"]) != jdoe {
		t.Errorf("details %v", d)
	}
	if _, leaked := d["password"]; leaked {
		t.Error("password in details")
	}
	failed(t, c.get("getUserDetails", url.Values{"userId": {"999"}}), "user 999 does not exist")
	failed(t, c.get("getUserDetails", nil), "missing parameter: userId")
	failed(t, c.get("getUserDetails", url.Values{"userId": {"abc"}}), "invalid parameter: userId")

	// updateUserDetails: id inside the form; only present fields change.
	ok(t, c.postMultipart("updateUserDetails", nil, map[string]string{"id": jdoe, "lastName": "Dough", "enabled": "false"}, ""))
	got, _ := e.st.GetUserByUserName(ctx, "jdoe")
	if got.Name.FamilyName != "Dough" || got.Name.GivenName != "John" || got.Active || got.PrimaryEmail() != "j@acme.com" {
		t.Fatalf("after update: %+v", got)
	}
	ok(t, c.postMultipart("updateUserDetails", nil, nil, `{"id":`+jdoe+`,"enabled":true}`))
	failed(t, c.postMultipart("updateUserDetails", nil, map[string]string{"id": "999", "lastName": "x"}, ""), "user 999 does not exist")
	failed(t, c.postMultipart("updateUserDetails", nil, map[string]string{"lastName": "x"}, ""), "missing field: id")
	failed(t, c.postMultipart("updateUserDetails", nil, map[string]string{"id": jdoe, "name": "amy"}, ""), "a user with this name already exists")
	failed(t, c.postMultipart("updateUserDetails", nil, map[string]string{"id": jdoe, "enabled": "maybe"}, ""), "invalid field: enabled")

	// The tree: jdoe in QA, amy and admin (and SCIM-created users) in the root.
	e.storeUser("fromscim", "")
	tree := ok(t, c.get("getUsersTree", nil))["folders"].([]any)
	root := tree[0].(map[string]any)
	names := func(n map[string]any) string {
		var out []string
		for _, u := range n["users"].([]any) {
			out = append(out, u.(map[string]any)["name"].(string))
		}
		return strings.Join(out, ",")
	}
	qa := root["folders"].([]any)[0].(map[string]any)
	if root["name"] != "Users" || names(root) != "admin,amy,fromscim" || qa["name"] != "QA" || names(qa) != "jdoe" ||
		qa["folders"].([]any)[0].(map[string]any)["name"] != "Sub" {
		t.Fatalf("tree %v", tree)
	}

	// moveUsers is all or nothing.
	failed(t, c.post("moveUsers", url.Values{"userIds": {amy + ", 999"}, "destParentFolderId": {sub}}), "user 999 does not exist")
	failed(t, c.post("moveUsers", url.Values{"userIds": {amy}, "destParentFolderId": {"55"}}), "folder 55 does not exist")
	ok(t, c.post("moveUsers", url.Values{"userIds": {amy + ", " + jdoe}, "destParentFolderId": {sub}}))
	if d := ok(t, c.get("getUserDetails", url.Values{"userId": {amy}}))["user"].(map[string]any); id(d["parentFolderId"]) != sub {
		t.Fatalf("amy not moved: %v", d)
	}
	ids := ok(t, c.get("getUserAccessRights", nil))["ids"].([]any)
	if len(ids) != 3 {
		t.Fatalf("access rights %v", ids)
	}

	// deleteUsers is all or nothing, and never deletes admin or oneself.
	admin, _ := e.st.GetUserByUserName(ctx, "admin")
	failed(t, c.post("deleteUsers", url.Values{"userIds": {amy + "," + jdoe + "," + id(admin.Key)}}), "this user cannot be deleted")
	failed(t, c.post("deleteUsers", url.Values{"userIds": {amy + ",999"}}), "user 999 does not exist")
	if _, err := e.st.GetUserByUserName(ctx, "amy"); err != nil {
		t.Fatal("a failed deleteUsers deleted amy")
	}
	failed(t, c.post("deleteUsers", url.Values{"userIds": {" , "}}), "missing parameter: userIds")
	ok(t, c.post("deleteUsers", url.Values{"userIds": {amy + " , " + jdoe}}))
	if _, err := e.st.GetUserByUserName(ctx, "amy"); !store.IsNotFound(err) {
		t.Fatal("amy not deleted")
	}
	if _, err := e.st.GetObject(ctx, placementKind, got.ID); !store.IsNotFound(err) {
		t.Fatal("placement of a deleted user kept")
	}
}

func TestProfilesAndRights(t *testing.T) {
	e := newEnv(t, Config{})
	admin := e.login("admin", adminPW)
	rightsJSON := `[{"module":"users","rights":["read"]},{"module":"tests","rights":["run"]}]`
	pid := id(ok(t, admin.postMultipart("createProfile", url.Values{"profileName": {"Viewer"}}, nil, rightsJSON))["profileId"])
	failed(t, admin.postMultipart("createProfile", url.Values{"profileName": {"viewer"}}, nil, rightsJSON), "a profile with this name already exists")
	failed(t, admin.postMultipart("createProfile", url.Values{"profileName": {"Bad"}}, nil, `{"x":1}`), "malformed rights list")
	failed(t, admin.postMultipart("createProfile", nil, nil, rightsJSON), "missing parameter: profileName")
	failed(t, admin.post("createProfile", url.Values{"profileName": {"NoBody"}}), "this command requires a multipart/form-data body")
	editor := id(ok(t, admin.postMultipart("createProfile", url.Values{"profileName": {"Editor"}}, nil,
		`{"modules":[{"module":"users","rights":["read","edit"]}]}`))["profileId"])

	ps := ok(t, admin.get("getProfiles", nil))["profiles"].([]any)
	if len(ps) != 2 || ps[0].(map[string]any)["name"] != "Viewer" {
		t.Fatalf("profiles %v", ps)
	}
	p := ok(t, admin.get("getProfile", url.Values{"profileId": {pid}}))["profile"].(map[string]any)
	if jsonNum(p["modules"]) != rightsJSON {
		t.Fatalf("profile %v", p)
	}
	failed(t, admin.get("getProfile", url.Values{"profileId": {"42"}}), "profile 42 does not exist")

	bob := e.storeUser("bob", "pw-bob")
	bobID := id(bob.Key)
	ok(t, admin.post("setUserProfile", url.Values{"userId": {bobID}, "profileId": {pid}}))
	failed(t, admin.post("setUserProfile", url.Values{"userId": {bobID}, "profileId": {"42"}}), "profile 42 does not exist")
	failed(t, admin.post("setUserProfile", url.Values{"userId": {"999"}, "profileId": {pid}}), "user 999 does not exist")
	stored, _ := e.st.GetUser(context.Background(), bob.ID)
	if len(stored.Roles) != 1 || stored.Roles[0].Type != profileRole || stored.Roles[0].Value != pid || stored.Roles[0].Display != "Viewer" {
		t.Fatalf("profile not a SCIM role: %+v", stored.Roles)
	}
	up := ok(t, admin.get("getUserProfile", url.Values{"userId": {bobID}}))["profile"].(map[string]any)
	if up["name"] != "Viewer" {
		t.Fatalf("user profile %v", up)
	}

	b := e.login("bob", "pw-bob")
	ar := ok(t, b.get("getUserActionRights", nil))["rights"].([]any)
	if jsonNum(ar) != rightsJSON {
		t.Fatalf("bob's rights %v", ar)
	}
	if all := ok(t, admin.get("getUserActionRights", nil))["rights"].([]any); len(all) != len(allRights) {
		t.Fatalf("admin's rights %v", all)
	}
	ok(t, b.get("getUsersTree", nil))
	ok(t, b.get("getUserDetails", url.Values{"userId": {bobID}}))
	failed(t, b.get("getUserForm", nil), "insufficient rights")
	failed(t, b.postMultipart("createUser", nil, map[string]string{"name": "x", "password": "y"}, ""), "insufficient rights")
	failed(t, b.post("deleteUsers", url.Values{"userIds": {bobID}}), "insufficient rights")
	failed(t, b.get("getProfiles", nil), "insufficient rights")
	failed(t, b.postMultipart("createProfile", url.Values{"profileName": {"Mine"}}, nil, rightsJSON), "insufficient rights")
	// Oneself: names and password yes, profile no.
	ok(t, b.postMultipart("updateUserDetails", nil, map[string]string{"id": bobID, "firstName": "Bob"}, ""))
	failed(t, b.postMultipart("updateUserDetails", nil, map[string]string{"id": bobID, "profileId": editor}, ""), "insufficient rights")

	// updateProfile changes what bob may do at once.
	ok(t, admin.postMultipart("updateProfile", url.Values{"profileId": {pid}, "profileName": {"Viewer+"}}, nil,
		`[{"module":"users","rights":["read","create"]}]`))
	failed(t, admin.postMultipart("updateProfile", url.Values{"profileId": {"42"}}, nil, `[]`), "profile 42 does not exist")
	failed(t, admin.postMultipart("updateProfile", url.Values{"profileId": {pid}, "profileName": {"editor"}}, nil, `[]`),
		"a profile with this name already exists")
	ok(t, b.get("getUserForm", nil))
	if p := ok(t, admin.get("getProfile", url.Values{"profileId": {pid}}))["profile"].(map[string]any); p["name"] != "Viewer+" {
		t.Fatalf("renamed profile %v", p)
	}
}

func TestTeamsAndRoles(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	c := e.login("admin", adminPW)
	qa := id(ok(t, c.post("createTeam", url.Values{"teamName": {"QA"}}))["teamId"])
	failed(t, c.post("createTeam", url.Values{"teamName": {"qa"}}), "a team with this name already exists")
	failed(t, c.post("createTeam", nil), "missing parameter: teamName")

	// A team is a SCIM group, and a SCIM group is a team.
	var dev *store.Group
	err := e.st.Write(ctx, store.Actor{Door: "scim"}, func(tx store.Tx) error {
		dev = &store.Group{DisplayName: "Dev"}
		return tx.CreateGroup(ctx, dev)
	})
	if err != nil {
		t.Fatal(err)
	}
	page, err := e.st.ListGroups(ctx, store.Query{Limit: 10})
	if err != nil || page.Total != 2 || page.Groups[0].DisplayName != "QA" || id(page.Groups[0].Key) != qa {
		t.Fatalf("groups %+v %v", page, err)
	}
	teams := ok(t, c.get("getTeams", nil))["teams"].([]any)
	if len(teams) != 2 || teams[1].(map[string]any)["name"] != "Dev" {
		t.Fatalf("teams %v", teams)
	}

	jdoe := e.storeUser("jdoe", "pw")
	amy := e.storeUser("amy", "pw")
	uid := id(jdoe.Key)
	devID := id(dev.Key)
	ok(t, c.post("updateUserTeams", url.Values{"userId": {uid}, "teamIds": {qa + ", " + devID}}))
	teamsOf := func() string {
		var out []string
		for _, tm := range ok(t, c.get("getUserTeams", url.Values{"userId": {uid}}))["teams"].([]any) {
			out = append(out, tm.(map[string]any)["name"].(string))
		}
		return strings.Join(out, ",")
	}
	if got := teamsOf(); got != "QA,Dev" && got != "Dev,QA" {
		t.Fatalf("teams of jdoe: %s", got)
	}
	if in, _ := e.st.HasMember(ctx, dev.Key, store.MemberUser, jdoe.Key); !in {
		t.Fatal("membership not in the store")
	}
	failed(t, c.post("updateUserTeams", url.Values{"userId": {uid}, "teamIds": {qa + ",999"}}), "team 999 does not exist")
	if got := teamsOf(); got != "QA,Dev" && got != "Dev,QA" {
		t.Fatalf("failed update changed teams: %s", got)
	}
	ok(t, c.post("updateUserTeams", url.Values{"userId": {uid}, "teamIds": {devID}}))
	if got := teamsOf(); got != "Dev" {
		t.Fatalf("teams after replace: %s", got)
	}
	ok(t, c.postForm("updateUserTeams", url.Values{"userId": {uid}, "teamIds": {""}}))
	if got := teamsOf(); got != "" {
		t.Fatalf("teams after clearing: %s", got)
	}
	failed(t, c.post("updateUserTeams", url.Values{"userId": {uid}}), "missing parameter: teamIds")
	failed(t, c.post("updateUserTeams", url.Values{"userId": {"999"}, "teamIds": {qa}}), "user 999 does not exist")

	// Roles.
	pid := id(ok(t, c.postMultipart("createProfile", url.Values{"profileName": {"Tester"}}, nil, `[]`))["profileId"])
	ok(t, c.post("insertUserRoles", url.Values{"userIds": {uid + "," + id(amy.Key)}, "profileId": {pid}, "teamId": {qa}}))
	ok(t, c.post("insertUserRoles", url.Values{"userIds": {uid}, "profileId": {pid}, "teamId": {qa}})) // idempotent
	failed(t, c.post("insertUserRoles", url.Values{"userIds": {uid}, "profileId": {pid}, "teamId": {"999"}}), "team 999 does not exist")
	failed(t, c.post("insertUserRoles", url.Values{"userIds": {uid + ",999"}, "profileId": {pid}, "teamId": {devID}}), "user 999 does not exist")
	roles := ok(t, c.get("getUserRoles", url.Values{"userId": {uid}}))["roles"].([]any)
	if len(roles) != 1 {
		t.Fatalf("roles %v", roles)
	}
	role := roles[0].(map[string]any)
	if role["profileName"] != "Tester" || role["teamName"] != "QA" || id(role["teamId"]) != qa {
		t.Fatalf("role %v", role)
	}
	ok(t, c.post("deleteUserRole", url.Values{"userId": {uid}, "profileId": {pid}, "teamId": {qa}}))
	if roles := ok(t, c.get("getUserRoles", url.Values{"userId": {uid}}))["roles"].([]any); len(roles) != 0 {
		t.Fatalf("role not deleted: %v", roles)
	}
	if roles := ok(t, c.get("getUserRoles", url.Values{"userId": {id(amy.Key)}}))["roles"].([]any); len(roles) != 1 {
		t.Fatalf("amy's role: %v", roles)
	}
	failed(t, c.post("deleteUserRole", url.Values{"userId": {"999"}, "profileId": {pid}, "teamId": {qa}}), "user 999 does not exist")
	failed(t, c.post("deleteUserRole", url.Values{"userId": {uid}, "profileId": {"999"}, "teamId": {qa}}), "profile 999 does not exist")
}

func TestPasswords(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	bob := e.storeUser("bob", "old-pw")
	b := e.login("bob", "old-pw")
	admin := e.login("admin", adminPW)

	// The encryption commands never reveal anything.
	stored, _ := e.st.GetUserByUserName(ctx, "admin")
	for _, r := range []map[string]any{
		admin.get("getEncryptedPassword", url.Values{"username": {"admin"}, "password": {adminPW}}),
		admin.get("getEncryptedString", url.Values{"input": {"hello"}}),
	} {
		failed(t, r, "not supported")
		raw := jsonNum(r)
		if strings.Contains(raw, stored.PasswordHash) || strings.Contains(raw, "argon2") || strings.Contains(raw, adminPW) {
			t.Fatalf("secret revealed: %s", raw)
		}
	}
	failed(t, e.client().get("getEncryptedString", url.Values{"input": {"x"}}), "not authenticated")

	failed(t, b.post("updateUserPassword", nil), "missing parameter: password")
	ok(t, b.post("updateUserPassword", url.Values{"password": {"new-pw"}}))
	failed(t, e.client().post("authenticate", url.Values{"username": {"bob"}, "password": {"old-pw"}}), "password does not match user")
	e.login("bob", "new-pw")

	// A directory user's password lives in the directory.
	synced := storetest.CreateUser(t, e.st, &store.User{UserName: "dirk", Active: true,
		Source: store.Source{Name: "corp", ID: "x-1", DN: "uid=dirk,dc=corp"}})
	failed(t, admin.postMultipart("updateUserDetails", nil, map[string]string{"id": id(synced.Key), "password": "pw"}, ""),
		"the password of this user is managed by the directory")

	failed(t, admin.post("resetUserPassword", url.Values{"username": {"ghost"}}), "unknown user")
	failed(t, admin.post("resetUserPassword", nil), "missing parameter: username")
	ok(t, admin.post("resetUserPassword", url.Values{"username": {"bob"}}))
	acts, _, err := e.st.ListActivity(ctx, store.ActivityQuery{UserID: bob.ID, Action: actionResetRequest})
	if err != nil || len(acts) != 1 || acts[0].Actor.Principal != "admin" {
		t.Fatalf("reset request not recorded: %+v %v", acts, err)
	}
	failed(t, b.post("resetUserPassword", url.Values{"username": {"admin"}}), "insufficient rights")
}

func TestEnsureAdmin(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	before, err := e.st.GetUserByUserName(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	// A second start with another password leaves the admin alone.
	if err := EnsureAdmin(ctx, e.st, slog.Default(), "other", ""); err != nil {
		t.Fatal(err)
	}
	after, _ := e.st.GetUserByUserName(ctx, "admin")
	if after.PasswordHash != before.PasswordHash || after.Meta.Version != before.Meta.Version {
		t.Fatal("existing admin changed")
	}
	c := e.login("admin", adminPW)
	failed(t, c.postMultipart("updateUserDetails", nil, map[string]string{"id": id(after.Key), "enabled": "false"}, ""),
		"the built-in admin cannot be renamed or disabled")
}

func TestAdminPasswordFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "admin-pw")
	if err := os.WriteFile(file, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{AdminPasswordFile: file})
	e.login("admin", "from-a-file")
	failed(t, e.client().post("authenticate", url.Values{"username": {"admin"}, "password": {adminPW}}), "password does not match user")
}
