package xyops

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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

// clock is a settable clock shared by the store and the dialect.
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
	r := mux.NewRouter()
	Mount(r, cfg, legacyapi.Deps{Store: st, Passwords: &auth.Verifier{}, Now: clk.Now, MaxBody: 64 << 10})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, srv: srv, clock: clk}
}

// user creates a user through the store as the SCIM door would.
func (e *env) user(name, password string) *store.User {
	e.t.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		e.t.Fatal(err)
	}
	return storetest.CreateUser(e.t, e.st, &store.User{UserName: name, Active: true, PasswordHash: hash,
		DisplayName: "J Doe", Emails: []store.Value{{Value: name + "@example.com", Primary: true}}})
}

type resp struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

// req sends a request; body nil sends none, a string is sent raw, anything
// else as JSON. headers are name/value pairs.
func (e *env) req(method, path string, body any, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	r, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

// session is a logged-in client: its session id and CSRF token.
type session struct{ id, csrf string }

func (s session) cookie() string { return "session_id=" + s.id }

func (e *env) login(name, password string) session {
	e.t.Helper()
	r := e.req("POST", "/api/user/login", map[string]any{"username": name, "password": password},
		"User-Agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")
	if r.body["code"] != 0.0 {
		e.t.Fatalf("login %s: %s", name, r.raw)
	}
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "session_id" {
			return session{id: c.Value, csrf: r.body["csrf_token"].(string)}
		}
	}
	e.t.Fatalf("login set no session cookie: %v", r.header)
	return session{}
}

func wantErr(t *testing.T, r resp, status int, code, description string) {
	t.Helper()
	if r.status != status || r.body["code"] != code || r.body["description"] != description {
		t.Fatalf("got %d %s, want %d code=%q description=%q", r.status, r.raw, status, code, description)
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t, Config{})
	u := e.user("jdoe", "s3cret-pw")

	r := e.req("POST", "/api/user/login", map[string]any{"username": "jdoe", "password": "s3cret-pw"})
	if r.status != 200 || r.body["code"] != 0.0 || r.body["username"] != "jdoe" {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	if strings.Contains(r.raw, "password") || strings.Contains(r.raw, "argon2") || strings.Contains(r.raw, "salt") {
		t.Fatalf("login reveals a secret: %s", r.raw)
	}
	setCookie := r.header.Get("Set-Cookie")
	for _, want := range []string{"session_id=", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=604800"} { // session_max: 7 days (xyOps: 365) {
		if !strings.Contains(setCookie, want) {
			t.Errorf("Set-Cookie %q lacks %q", setCookie, want)
		}
	}
	ck := (&http.Response{Header: r.header}).Cookies()[0]
	if len(ck.Value) != 64 {
		t.Errorf("session id %q is not 64 hex chars", ck.Value)
	}
	if r.body["csrf_token"] == "" || r.body["csrf_token"] == ck.Value {
		t.Errorf("csrf token %v", r.body["csrf_token"])
	}
	// The id is stored only as its hash.
	creds, err := e.st.ListCredentials(context.Background(), auth.SessionKind(Dialect))
	if err != nil || len(creds) != 1 || creds[0].SecretHash != auth.HashToken(ck.Value) || creds[0].UserKey != u.Key {
		t.Fatalf("stored sessions %+v %v", creds, err)
	}
	user := r.body["user"].(map[string]any)
	if user["email"] != "jdoe@example.com" || user["full_name"] != "J Doe" || user["active"] != 1.0 {
		t.Fatalf("user %v", user)
	}

	// resume_session answers the same shape and the same CSRF token.
	s := session{id: ck.Value, csrf: r.body["csrf_token"].(string)}
	r = e.req("POST", "/api/user/resume_session", nil, "Cookie", s.cookie())
	if r.body["code"] != 0.0 || r.body["csrf_token"] != s.csrf || r.body["username"] != "jdoe" {
		t.Fatalf("resume_session: %s", r.raw)
	}
	r = e.req("POST", "/api/user/resume_session", nil, "X-Session-ID", "nope")
	wantErr(t, r, 200, "session", "Session has expired or is invalid.")
}

func TestLoginErrors(t *testing.T) {
	e := newEnv(t, Config{})
	e.user("jdoe", "right-pw")
	off := e.user("gone", "right-pw")
	err := e.st.Write(context.Background(), store.Actor{Door: "scim"}, func(tx store.Tx) error {
		_, err := tx.UpdateUser(context.Background(), off.ID, func(u *store.User) error { u.Active = false; return nil })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		body       any
		code, desc string
	}{
		{"no username", map[string]any{"password": "x"}, "api", "Missing parameter: username"},
		{"bad username", map[string]any{"username": "j doe", "password": "x"}, "api", "Malformed parameter: username"},
		{"no password", map[string]any{"username": "jdoe"}, "api", "Missing parameter: password"},
		{"wrong password", map[string]any{"username": "jdoe", "password": "wrong"}, "login", "Username or password incorrect."},
		{"unknown user", map[string]any{"username": "nobody", "password": "wrong"}, "login", "Username or password incorrect."},
		{"disabled", map[string]any{"username": "gone", "password": "right-pw"}, "login", "User account is disabled: gone"},
		{"disabled, wrong password", map[string]any{"username": "gone", "password": "x"}, "login", "Username or password incorrect."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.req("POST", "/api/user/login", tc.body)
			wantErr(t, r, 200, tc.code, tc.desc)
			if r.header.Get("Set-Cookie") != "" {
				t.Fatal("failed login set a cookie")
			}
		})
	}
	r := e.req("POST", "/api/user/login", `{"username":`)
	if r.status != 400 || r.raw != "400 Bad Request\n" {
		t.Fatalf("malformed JSON: %d %q", r.status, r.raw)
	}
}

func TestLockout(t *testing.T) {
	e := newEnv(t, Config{})
	e.user("jdoe", "right-pw")
	bad := map[string]any{"username": "jdoe", "password": "wrong"}
	// One failure earlier, then a success: the success clears the count.
	e.req("POST", "/api/user/login", bad)
	e.login("jdoe", "right-pw")
	for i := 0; i < 6; i++ {
		e.clock.Add(time.Second)
		wantErr(t, e.req("POST", "/api/user/login", bad), 200, "login", "Username or password incorrect.")
	}
	e.clock.Add(time.Second)
	locked := "Account is locked out.  Please reset your password to unlock it."
	wantErr(t, e.req("POST", "/api/user/login", map[string]any{"username": "jdoe", "password": "right-pw"}), 200, "login", locked)
	// The lock lifts when the failures leave the window.
	e.clock.Add(time.Hour)
	e.login("jdoe", "right-pw")
}

func TestSessionErrors(t *testing.T) {
	e := newEnv(t, Config{SessionTTL: time.Hour})
	e.user("jdoe", "pw-jdoe")
	s := e.login("jdoe", "pw-jdoe")

	noCreds := "No Session ID or API Key could be found"
	wantErr(t, e.req("GET", "/api/app/get_user_activity/v1", nil), 403, "session", noCreds)
	wantErr(t, e.req("GET", "/api/app/get_user_activity", nil), 200, "session", noCreds)
	wantErr(t, e.req("GET", "/api/app/get_user_activity/v1/", nil), 403, "session", noCreds)
	wantErr(t, e.req("GET", "/api/app/get_user_activity/v1", nil, "Cookie", "session_id=deadbeef"),
		403, "session", "Session has expired or is invalid.")
	// A session id in the query string is not a credential.
	wantErr(t, e.req("GET", "/api/app/get_user_activity/v1?session_id="+s.id, nil), 403, "session", noCreds)

	// Cookie, header and body all carry the session.
	for name, r := range map[string]resp{
		"cookie": e.req("GET", "/api/app/get_user_activity/v1", nil, "Cookie", s.cookie()),
		"header": e.req("GET", "/api/app/get_user_activity/v1", nil, "X-Session-ID", s.id),
		"body":   e.req("POST", "/api/app/get_user_activity/v1", map[string]any{"session_id": s.id, "csrf_token": s.csrf}),
	} {
		if r.status != 200 || r.body["code"] != 0.0 {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}

	// CSRF on POST: missing or wrong → Invalid session; header or body token passes.
	wantErr(t, e.req("POST", "/api/app/user_settings/v1", map[string]any{"language": "de"}, "Cookie", s.cookie()),
		403, "session", "Invalid session")
	wantErr(t, e.req("POST", "/api/app/user_settings/v1", map[string]any{"language": "de"}, "Cookie", s.cookie(),
		"X-CSRF-Token", s.csrf+"x"), 403, "session", "Invalid session")
	wantErr(t, e.req("POST", "/api/app/user_settings", map[string]any{"language": "de"}, "Cookie", s.cookie()),
		200, "session", "Invalid session")
	if r := e.req("POST", "/api/app/user_settings/v1", map[string]any{"language": "de", "csrf_token": s.csrf},
		"Cookie", s.cookie()); r.body["code"] != 0.0 {
		t.Fatalf("body csrf_token: %s", r.raw)
	}

	// Expiry.
	e.clock.Add(time.Hour + time.Second)
	wantErr(t, e.req("GET", "/api/app/get_user_activity/v1", nil, "Cookie", s.cookie()),
		403, "session", "Session has expired or is invalid.")
}

func TestDisabledOrDeletedUserSession(t *testing.T) {
	e := newEnv(t, Config{})
	u := e.user("jdoe", "pw-jdoe")
	s := e.login("jdoe", "pw-jdoe")
	ctx := context.Background()
	err := e.st.Write(ctx, store.Actor{Door: "scim"}, func(tx store.Tx) error {
		_, err := tx.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Active = false; return nil })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.req("GET", "/api/app/get_user_activity/v1", nil, "Cookie", s.cookie()),
		403, "session", "User account is disabled: jdoe")
}

func TestGetUserActivity(t *testing.T) {
	e := newEnv(t, Config{})
	u := e.user("jdoe", "pw-jdoe")
	ctx := context.Background()
	// Changes through other doors land in the same log.
	e.clock.Add(time.Minute)
	err := e.st.Write(ctx, store.Actor{Door: "scim", Principal: "okta"}, func(tx store.Tx) error {
		_, err := tx.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Title = "Engineer"; return nil })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Minute)
	s := e.login("jdoe", "pw-jdoe")

	r := e.req("GET", "/api/app/get_user_activity/v1", nil, "Cookie", s.cookie())
	rows := r.body["rows"].([]any)
	if len(rows) != 3 {
		t.Fatalf("rows: %s", r.raw)
	}
	first, second, third := rows[0].(map[string]any), rows[1].(map[string]any), rows[2].(map[string]any)
	if first["action"] != "user_login" || second["action"] != "user_update" || third["action"] != "user_create" {
		t.Fatalf("actions not newest first: %s", r.raw)
	}
	if first["epoch"] != float64(e.clock.Now().Unix()) || first["date"] != first["epoch"] {
		t.Errorf("epoch %v, want %d", first["epoch"], e.clock.Now().Unix())
	}
	if first["ip"] != "127.0.0.1" || first["useragent"] != "Chrome 120.0 / macOS" || first["session_id"] != auth.SessionRef(s.id) {
		t.Errorf("login row %v", first)
	}
	if first["username"] != "jdoe" || first["user"].(map[string]any)["username"] != "jdoe" {
		t.Errorf("login row user %v", first)
	}
	if d, _ := second["description"].(string); !strings.Contains(d, "via scim by okta") || !strings.Contains(d, "title") {
		t.Errorf("scim change description %q", d)
	}
	list := r.body["list"].(map[string]any)
	if list["length"] != 3.0 || list["type"] != "list" || list["page_size"] != 50.0 || list["last_page"] != 0.0 {
		t.Errorf("list %v", list)
	}

	page := func(r resp) []string {
		t.Helper()
		var out []string
		for _, row := range r.body["rows"].([]any) {
			out = append(out, row.(map[string]any)["action"].(string))
		}
		return out
	}
	get := func(path string, body any) resp {
		if body == nil {
			return e.req("GET", path, nil, "Cookie", s.cookie())
		}
		return e.req("GET", path, body, "Cookie", s.cookie())
	}
	for _, tc := range []struct {
		name, path string
		body       any
		want       string
	}{
		{"query", "/api/app/get_user_activity/v1?offset=1&limit=1", nil, "user_update"},
		{"body wins", "/api/app/get_user_activity/v1?offset=0&limit=1", map[string]any{"offset": 2, "limit": 1}, "user_create"},
		{"string numbers", "/api/app/get_user_activity/v1", map[string]any{"offset": "1", "limit": "2abc"}, "user_update,user_create"},
		{"negative offset", "/api/app/get_user_activity/v1", map[string]any{"offset": -2, "limit": 1}, "user_update"},
		{"limit 0 means to the end", "/api/app/get_user_activity/v1", map[string]any{"offset": 1, "limit": 0}, "user_update,user_create"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := get(tc.path, tc.body)
			if got := strings.Join(page(r), ","); got != tc.want || r.body["list"].(map[string]any)["length"] != 3.0 {
				t.Fatalf("got %q want %q: %s", got, tc.want, r.raw)
			}
		})
	}
	r = get("/api/app/get_user_activity/v1", map[string]any{"offset": 10})
	if r.raw != `{"code":0,"list":{"length":0},"rows":[]}`+"\n" {
		t.Fatalf("beyond the end: %q", r.raw)
	}
	r = get("/api/app/get_user_activity/v1?pretty=1", nil)
	if !strings.Contains(r.raw, "\n\t\"code\": 0") {
		t.Fatalf("pretty: %q", r.raw)
	}
}

func TestAPIKeys(t *testing.T) {
	e := newEnv(t, Config{})
	u := e.user("jdoe", "pw-jdoe")
	ctx := context.Background()
	issue := func(userKey int64, scopes ...string) string {
		token, idLen := NewKey()
		if len(token) != 24 {
			t.Fatalf("key %q is not 24 chars", token)
		}
		if _, err := auth.IssueKey(ctx, e.st, store.Actor{Door: "cli"}, Dialect, token, idLen, userKey, "ci", scopes); err != nil {
			t.Fatal(err)
		}
		return token
	}
	reader := issue(u.Key, "read")
	r := e.req("GET", "/api/app/get_user_activity/v1", nil, "X-API-Key", reader)
	if r.body["code"] != 0.0 || len(r.body["rows"].([]any)) == 0 {
		t.Fatalf("header key: %s", r.raw)
	}
	if r := e.req("GET", "/api/app/get_user_activity/v1?api_key="+reader, nil); r.body["code"] != 0.0 {
		t.Fatalf("query key: %s", r.raw)
	}
	if r := e.req("POST", "/api/app/get_user_activity/v1", map[string]any{"api_key": reader}); r.body["code"] != 0.0 {
		t.Fatalf("body key: %s", r.raw)
	}
	wantErr(t, e.req("GET", "/api/app/get_user_activity/v1", nil, "X-API-Key", reader+"x"), 403, "session", "Invalid API Key")
	// A session id, even a bad one, is tried instead of the key.
	wantErr(t, e.req("GET", "/api/app/get_user_activity/v1", nil, "X-API-Key", reader, "X-Session-ID", "bad"),
		403, "session", "Session has expired or is invalid.")
	writeOnly := issue(u.Key, "write")
	wantErr(t, e.req("GET", "/api/app/get_user_activity/v1", nil, "X-API-Key", writeOnly),
		403, "access", "API Key does not have the required privilege: read")
	// A key bound to no user has no log.
	r = e.req("GET", "/api/app/get_user_activity/v1", nil, "X-API-Key", issue(0, "read", "write"))
	if r.raw != `{"code":0,"list":{"length":0},"rows":[]}`+"\n" {
		t.Fatalf("unbound key: %s", r.raw)
	}
	// user_settings and logout_all need a session.
	wantErr(t, e.req("POST", "/api/app/user_settings/v1", map[string]any{"language": "fr"}, "X-API-Key", reader),
		403, "access", "User settings can only be changed from a user session, not with an API Key.")
	wantErr(t, e.req("POST", "/api/app/logout_all/v1", map[string]any{"password": "pw-jdoe"}, "X-API-Key", reader),
		403, "access", "Logging out all sessions requires a user session, not an API Key.")
}

func TestUserSettings(t *testing.T) {
	e := newEnv(t, Config{})
	u := e.user("jdoe", "pw-jdoe")
	s := e.login("jdoe", "pw-jdoe")
	ctx := context.Background()
	post := func(body any) resp {
		return e.req("POST", "/api/app/user_settings/v1", body, "Cookie", s.cookie(), "X-CSRF-Token", s.csrf)
	}
	// Illegal keys are refused before the session is even looked at.
	for _, key := range []string{"__proto__", "constructor", "toString", "0"} {
		r := e.req("POST", "/api/app/user_settings/v1", `{"`+key+`":1}`)
		wantErr(t, r, 400, "api", "Invalid parameter: "+key+" (illegal key)")
	}
	r := post(map[string]any{
		"email": "  <b>new@example.com</b> ", "full_name": "<i>John</i> Doe ", "timezone": "America/New_York",
		"language": "en-US", "icon": "a b/c_d-1", "color_acc": true, "page_info": map[string]any{"x": 1},
		// Protected: silently dropped.
		"password": "hijack", "active": 0, "privileges": map[string]any{"admin": 1}, "roles": []string{"r"},
		"username": "root", "salt": "x", "force_password_reset": 1, "created": 1,
	})
	if r.status != 200 || r.body["code"] != 0.0 {
		t.Fatalf("user_settings: %d %s", r.status, r.raw)
	}
	user := r.body["user"].(map[string]any)
	for k, want := range map[string]any{"email": "new@example.com", "full_name": "John Doe", "timezone": "America/New_York",
		"language": "en-US", "icon": "abc_d-1", "color_acc": true, "username": "jdoe", "active": 1.0} {
		if user[k] != want {
			t.Errorf("user[%s] = %v, want %v", k, user[k], want)
		}
	}
	if _, ok := user["password"]; ok {
		t.Error("password returned")
	}
	if len(user["privileges"].(map[string]any)) != 0 || len(user["roles"].([]any)) != 0 {
		t.Errorf("protected fields changed: %v", user)
	}
	got, err := e.st.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PrimaryEmail() != "new@example.com" || got.DisplayName != "John Doe" || got.Timezone != "America/New_York" ||
		!got.Active || got.PasswordHash != u.PasswordHash || len(got.Roles) != 0 || got.UserName != "jdoe" {
		t.Fatalf("stored user %+v", got)
	}
	// Preferences persist and come back with the session.
	r = e.req("POST", "/api/user/resume_session", nil, "Cookie", s.cookie())
	if user := r.body["user"].(map[string]any); user["icon"] != "abc_d-1" || user["page_info"].(map[string]any)["x"] != 1.0 {
		t.Fatalf("prefs not kept: %s", r.raw)
	}
	// A non-string email is refused, and nothing is written.
	before, _ := e.st.GetUser(ctx, u.ID)
	wantErr(t, post(map[string]any{"email": 5, "timezone": "UTC"}), 400, "api", "Malformed parameter: email")
	after, _ := e.st.GetUser(ctx, u.ID)
	if after.Meta.Version != before.Meta.Version {
		t.Fatal("half-written")
	}
}

func TestLogoutAll(t *testing.T) {
	e := newEnv(t, Config{})
	e.user("jdoe", "pw-jdoe")
	e.user("other", "pw-other")
	a, b, c := e.login("jdoe", "pw-jdoe"), e.login("jdoe", "pw-jdoe"), e.login("jdoe", "pw-jdoe")
	o := e.login("other", "pw-other")

	// Parameters are checked before the session.
	wantErr(t, e.req("POST", "/api/app/logout_all/v1", map[string]any{}), 400, "api", "Missing parameter: password")
	wantErr(t, e.req("POST", "/api/app/logout_all/v1", map[string]any{"password": "  "}), 400, "api", "Malformed parameter: password")
	post := func(s session, body any) resp {
		return e.req("POST", "/api/app/logout_all/v1", body, "Cookie", s.cookie(), "X-CSRF-Token", s.csrf)
	}
	wantErr(t, post(a, map[string]any{"password": "wrong"}), 500, "login", "Your password is incorrect.")
	wantErr(t, e.req("POST", "/api/app/logout_all", map[string]any{"password": "wrong"}, "Cookie", a.cookie(), "X-CSRF-Token", a.csrf),
		200, "login", "Your password is incorrect.")
	if r := post(a, map[string]any{"password": "pw-jdoe"}); r.raw != `{"code":0}`+"\n" {
		t.Fatalf("logout_all: %s", r.raw)
	}
	alive := func(s session) bool {
		return e.req("GET", "/api/app/get_user_activity/v1", nil, "Cookie", s.cookie()).body["code"] == 0.0
	}
	if !alive(a) || alive(b) || alive(c) || !alive(o) {
		t.Fatalf("after logout_all: a=%v b=%v c=%v other=%v", alive(a), alive(b), alive(c), alive(o))
	}
	r := e.req("GET", "/api/app/get_user_activity/v1", nil, "Cookie", a.cookie())
	row := r.body["rows"].([]any)[0].(map[string]any)
	if row["action"] != "warning" || row["description"] != "Logged out all user sessions by request" {
		t.Fatalf("activity: %v", row)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, Config{})
	e.user("jdoe", "pw-jdoe")
	s := e.login("jdoe", "pw-jdoe")
	r := e.req("POST", "/api/user/logout", nil, "Cookie", s.cookie())
	if r.raw != `{"code":0}`+"\n" || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %s %v", r.raw, r.header)
	}
	wantErr(t, e.req("POST", "/api/user/logout", nil, "Cookie", s.cookie()), 200, "session", "Session has expired or is invalid.")
	wantErr(t, e.req("POST", "/api/user/logout", nil), 200, "session", "No Session ID or API Key could be found")
	r = e.req("GET", "/api/app/get_user_activity/v1", nil, "X-Session-ID", s.id)
	wantErr(t, r, 403, "session", "Session has expired or is invalid.")
}

func TestRouting(t *testing.T) {
	e := newEnv(t, Config{DialectConfig: legacyapi.DialectConfig{Prefix: "/xy"}})
	r := e.req("POST", "/xy/api/app/frobnicate/v1", nil)
	if r.status != 200 || r.raw != `{"code":1,"description":"Unsupported API: app/api_frobnicate"}`+"\n" {
		t.Fatalf("unknown app API: %d %s", r.status, r.raw)
	}
	r = e.req("POST", "/xy/api/user/frobnicate", nil)
	if r.status != 200 || r.body["code"] != 1.0 {
		t.Fatalf("unknown user API: %d %s", r.status, r.raw)
	}
	if r := e.req("GET", "/api/app/get_user_activity/v1", nil); r.status != 404 {
		t.Fatalf("unprefixed path served: %d", r.status)
	}
	r = e.req("POST", "/xy/api/app/user_settings/v1", `{"a":`)
	if r.status != 400 || r.raw != "400 Bad Request\n" {
		t.Fatalf("malformed JSON: %d %q", r.status, r.raw)
	}
	r = e.req("POST", "/xy/api/app/user_settings/v1", `{"a":"`+strings.Repeat("x", 70<<10)+`"}`)
	if r.status != 413 {
		t.Fatalf("oversized body: %d", r.status)
	}
	if r.header.Get("Content-Type") == "application/json" {
		t.Fatal("413 should be plain text")
	}

	off := false
	e2 := newEnv(t, Config{DialectConfig: legacyapi.DialectConfig{Enabled: &off}})
	if r := e2.req("POST", "/api/user/login", nil); r.status != 404 {
		t.Fatalf("disabled dialect served: %d", r.status)
	}
}

func TestParseUserAgent(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36":            "Chrome 120.0 / macOS",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0":                                                 "Firefox 121.0 / Windows 10",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210":   "Edge 120.0 / Windows 10",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile Safari/604.1": "Safari 17.1 / iOS 17.1",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36":                                "Chrome 119.0 / Linux",
		"curl/8.5.0": "curl 8.5",
		"SomeBot":    "SomeBot",
	} {
		if got := parseUserAgent(ua); got != want {
			t.Errorf("parseUserAgent(%q) = %q, want %q", ua, got, want)
		}
	}
}

func TestAPIKeyRateLimit(t *testing.T) {
	e := newEnv(t, Config{APIKeyMaxPerSec: 2})
	u := e.user("jdoe", "pw-jdoe")
	token, _ := NewKey()
	if _, err := auth.IssueKey(context.Background(), e.st, store.Actor{Door: "cli"}, Dialect, token, 0, u.Key, "ci", []string{"read"}); err != nil {
		t.Fatal(err)
	}
	get := func(path string) resp { return e.req("GET", path, nil, "X-API-Key", token) }
	for i := 0; i < 2; i++ {
		if r := get("/api/app/get_user_activity/v1"); r.body["code"] != 0.0 {
			t.Fatalf("call %d: %s", i, r.raw)
		}
	}
	wantErr(t, get("/api/app/get_user_activity/v1"), 429, "rate", "API Key has exceeded rate limit (2/sec)")
	wantErr(t, get("/api/app/get_user_activity"), 200, "rate", "API Key has exceeded rate limit (2/sec)")
	e.clock.Add(time.Second)
	if r := get("/api/app/get_user_activity/v1"); r.body["code"] != 0.0 {
		t.Fatalf("next second: %s", r.raw)
	}
}

func TestNoHTMLEscaping(t *testing.T) {
	e := newEnv(t, Config{})
	e.user("jdoe", "pw-jdoe")
	s := e.login("jdoe", "pw-jdoe")
	r := e.req("POST", "/api/app/user_settings/v1", map[string]any{"motto": "a & b > c"}, "Cookie", s.cookie(), "X-CSRF-Token", s.csrf)
	if !strings.Contains(r.raw, `"motto":"a & b > c"`) {
		t.Fatalf("escaped like HTML: %s", r.raw)
	}
}
