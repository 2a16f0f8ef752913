package admin

// The console's security without a browser: sessions, CSRF, Origin, the
// headers of every answer, and that no secret reaches a page. Real HTTP on
// 127.0.0.1 against a real SQLite file.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

const testAdminToken = "console-test-admin-token-0123456789"

type consoleEnv struct {
	t   *testing.T
	st  *sqlite.DB
	api *API
	url string
	// pages collects every page body the test read, to search for secrets.
	pages []string
}

func startConsole(t *testing.T, opts ...func(*Options)) *consoleEnv {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "console.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Store: st, Token: testAdminToken, Dialects: []string{"pterodactyl", "xyops"}}
	for _, f := range opts {
		f(&o)
	}
	api := New(o)
	r := mux.NewRouter()
	api.Routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		srv.Close()
		st.Close()
	})
	return &consoleEnv{t: t, st: st, api: api, url: srv.URL}
}

// client does not follow redirects, so that the test sees them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// do sends a request; header is name, value pairs.
func (e *consoleEnv) do(method, path string, form url.Values, header ...string) (*http.Response, string) {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	e.pages = append(e.pages, string(b))
	return resp, string(b)
}

// session is a logged-in browser: its cookie and the CSRF token of its pages.
type session struct {
	cookie string
	csrf   string
}

func (s session) header(extra ...string) []string {
	return append([]string{"Cookie", sessionCookie + "=" + s.cookie}, extra...)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func (e *consoleEnv) login(token string) session {
	e.t.Helper()
	resp, body := e.do("POST", "/admin/ui/login", url.Values{"token": {token}}, "Origin", e.url)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/ui/" {
		e.t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var s session
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			s.cookie = c.Value
		}
	}
	_, page := e.do("GET", "/admin/ui/tokens", nil, s.header()...)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		e.t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	s.csrf = m[1]
	return s
}

func TestConsoleWithoutASessionGoesToTheLoginPage(t *testing.T) {
	e := startConsole(t)
	for _, p := range []string{"/admin/ui/", "/admin/ui/activity", "/admin/ui/users", "/admin/ui/users/x", "/admin/ui/groups",
		"/admin/ui/groups/x", "/admin/ui/tokens"} {
		for _, h := range [][]string{nil, {"Cookie", sessionCookie + "=not-a-session"}, {"Authorization", "Bearer " + testAdminToken}} {
			resp, _ := e.do("GET", p, nil, h...)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/ui/login" {
				t.Errorf("GET %s with %v: %d → %q", p, h, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	}
	for _, p := range []string{"/admin/ui/tokens", "/admin/ui/tokens/1/revoke", "/admin/ui/keys/1/revoke", "/admin/ui/logout"} {
		resp, body := e.do("POST", p, url.Values{"name": {"x"}}, "Origin", e.url)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "log in again") {
			t.Errorf("POST %s without a session: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := e.do("GET", "/admin/ui", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/ui/" {
		t.Errorf("/admin/ui: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The JSON API keeps its own 401 beside the console.
	if resp, body := e.do("GET", "/admin/activity", nil); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
		t.Errorf("/admin/activity without a token: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.do("GET", "/admin/uix", nil); !strings.Contains(body, `"error"`) || strings.Contains(body, "<html") {
		t.Errorf("/admin/uix is not the console: %d %s", resp.StatusCode, body)
	}
}

func TestConsoleLogin(t *testing.T) {
	e := startConsole(t)
	for _, h := range [][]string{nil, {"Origin", "http://evil.example"}, {"Origin", "null"},
		{"Referer", "http://evil.example/admin/ui/login"}, {"Origin", strings.Replace(e.url, "127.0.0.1", "localhost", 1)}} {
		resp, _ := e.do("POST", "/admin/ui/login", url.Values{"token": {testAdminToken}}, h...)
		if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
			t.Errorf("login with %v: %d, cookies %v", h, resp.StatusCode, resp.Cookies())
		}
	}
	// A browser that sends no Origin sends a Referer.
	if resp, _ := e.do("POST", "/admin/ui/login", url.Values{"token": {testAdminToken}}, "Referer", e.url+"/admin/ui/login"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login with a same-origin Referer: %d", resp.StatusCode)
	}
	resp, body := e.do("POST", "/admin/ui/login", url.Values{"token": {"wrong-token"}}, "Origin", e.url)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "not a valid admin token") || len(resp.Cookies()) != 0 {
		t.Fatalf("login with a wrong token: %d", resp.StatusCode)
	}
	_, failures, _ := e.st.ListActivity(context.Background(), store.ActivityQuery{Action: "console.login.failure", Limit: 1})
	if failures != 1 {
		t.Errorf("%d failed logins recorded", failures)
	}

	resp, _ = e.do("POST", "/admin/ui/login", url.Values{"token": {testAdminToken}}, "Origin", e.url)
	var c *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == sessionCookie {
			c = k
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/admin/ui" || c.Secure || c.MaxAge != 0 {
		t.Fatalf("session cookie %+v", c)
	}
	// The store keeps only the session id's hash, with an expiry.
	creds, _ := e.st.ListCredentials(context.Background(), auth.SessionKind(consoleDialect))
	found := 0
	for _, cr := range creds {
		if cr.SecretHash == auth.HashToken(c.Value) {
			found++
		}
		if cr.Expires.IsZero() || strings.Contains(cr.Identifier+cr.Data+cr.Name+cr.SecretHash, c.Value) {
			t.Errorf("stored session %+v", cr)
		}
	}
	if found != 1 {
		t.Fatalf("the session is stored %d times by its hash", found)
	}
	if resp, _ := e.do("GET", "/admin/ui/", nil, "Cookie", sessionCookie+"="+c.Value); resp.StatusCode != http.StatusOK {
		t.Fatalf("overview with the session: %d", resp.StatusCode)
	}
}

func TestConsoleCookieIsSecureOverTLS(t *testing.T) {
	e := startConsole(t)
	srv := httptest.NewTLSServer(e.api.console)
	defer srv.Close()
	form := url.Values{"token": {testAdminToken}}
	post := func(origin string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/admin/ui/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		client := srv.Client()
		client.CheckRedirect = noRedirects.CheckRedirect
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post(strings.Replace(srv.URL, "https:", "http:", 1)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login over TLS from an http origin: %d", resp.StatusCode)
	}
	resp := post(srv.URL)
	if cs := resp.Cookies(); resp.StatusCode != http.StatusSeeOther || len(cs) != 1 || !cs[0].Secure {
		t.Fatalf("login over TLS: %d %+v", resp.StatusCode, cs)
	}
}

func TestConsoleWritesNeedCSRFAndOrigin(t *testing.T) {
	e := startConsole(t)
	s := e.login(testAdminToken)
	if s.csrf == s.cookie || s.csrf != auth.CSRFToken(s.cookie) {
		t.Fatal("the CSRF token must be the session's, and not its id")
	}
	cases := []struct {
		name   string
		form   url.Values
		header []string
	}{
		{"no CSRF token", url.Values{"name": {"a"}}, s.header("Origin", e.url)},
		{"another session's CSRF token", url.Values{"name": {"a"}, "csrf": {auth.CSRFToken("other")}}, s.header("Origin", e.url)},
		{"a foreign Origin", url.Values{"name": {"a"}, "csrf": {s.csrf}}, s.header("Origin", "http://evil.example")},
		{"no Origin or Referer", url.Values{"name": {"a"}, "csrf": {s.csrf}}, s.header()},
	}
	for _, c := range cases {
		resp, body := e.do("POST", "/admin/ui/tokens", c.form, c.header...)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Refused") {
			t.Errorf("%s: %d", c.name, resp.StatusCode)
		}
	}
	if creds, _ := e.st.ListCredentials(context.Background(), auth.SCIMTokenKind); len(creds) != 0 {
		t.Fatalf("a refused request created %d tokens", len(creds))
	}
	// Logout is a write too: a cross-site form cannot end the session.
	if resp, _ := e.do("POST", "/admin/ui/logout", url.Values{}, s.header("Origin", e.url)...); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without CSRF token: %d", resp.StatusCode)
	}
	resp, body := e.do("POST", "/admin/ui/tokens", url.Values{"name": {"okta"}, "csrf": {s.csrf}}, s.header("Origin", e.url)...)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "New SCIM token") {
		t.Fatalf("create token: %d\n%s", resp.StatusCode, body)
	}
	// An unknown user for the token is the operator's mistake, not a 500.
	resp, body = e.do("POST", "/admin/ui/tokens", url.Values{"name": {"me"}, "userName": {"nobody"}, "csrf": {s.csrf}},
		s.header("Origin", e.url)...)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `no user &#34;nobody&#34;`) {
		t.Errorf("token for an unknown user: %d", resp.StatusCode)
	}
}

func TestConsoleShowsATokenOnceAndNoOtherSecret(t *testing.T) {
	e := startConsole(t)
	ctx := context.Background()
	alice := &store.User{UserName: "alice", DisplayName: `<script>alert("x")</script>`, Active: true}
	if err := e.st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error { return tx.CreateUser(ctx, alice) }); err != nil {
		t.Fatal(err)
	}
	key := "ptla_secret-key-material-0123456789abcdef"
	apiKey, err := auth.IssueKey(ctx, e.st, store.Actor{Door: "test"}, "pterodactyl", key, 16, alice.Key, "deploy", []string{"read"})
	if err != nil {
		t.Fatal(err)
	}
	s := e.login(testAdminToken)
	resp, body := e.do("POST", "/admin/ui/tokens", url.Values{"name": {"okta"}, "userName": {"alice"}, "csrf": {s.csrf}},
		s.header("Origin", e.url)...)
	token := regexp.MustCompile(`scim_[A-Za-z0-9]+`).FindString(body)
	if resp.StatusCode != http.StatusOK || token == "" || strings.Count(body, token) != 1 {
		t.Fatalf("create token: %d", resp.StatusCode)
	}
	created := len(e.pages)
	for _, p := range []string{"/admin/ui/", "/admin/ui/tokens", "/admin/ui/users", "/admin/ui/users?q=ali",
		"/admin/ui/users/" + alice.ID, "/admin/ui/activity", "/admin/ui/activity?user=alice", "/admin/ui/groups"} {
		if resp, _ := e.do("GET", p, nil, s.header()...); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	_, body = e.do("GET", "/admin/ui/users/"+alice.ID, nil, s.header()...)
	if !strings.Contains(body, "deploy") || !strings.Contains(body, apiKey.Identifier) || !strings.Contains(body, "okta") {
		t.Errorf("the user page lacks its credentials:\n%s", body)
	}
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Error("a display name is not escaped")
	}
	for i, page := range e.pages {
		for name, secret := range map[string]string{"admin token": testAdminToken, "session id": s.cookie, "API key": key,
			"a hash": apiKey.SecretHash, "SCIM token": token} {
			if name == "SCIM token" && i == created-1 {
				continue // the create answer, the one place it is shown
			}
			if strings.Contains(page, secret) {
				t.Errorf("page %d shows the %s", i, name)
			}
		}
	}
}

func TestConsoleHeadersOnEveryAnswer(t *testing.T) {
	e := startConsole(t)
	s := e.login(testAdminToken)
	for _, c := range []struct {
		path   string
		header []string
		status int
	}{
		{"/admin/ui/login", nil, 200},
		{"/admin/ui/", nil, 303},
		{"/admin/ui/", s.header(), 200},
		{"/admin/ui/tokens", s.header(), 200},
		{"/admin/ui/users/no-such-user", s.header(), 404},
		{"/admin/ui/no-such-page", nil, 404},
		{"/admin/ui/assets/console.css", nil, 200},
		{"/admin/ui/assets/console.js", nil, 200},
		{"/admin/ui/activity?since=yesterday", s.header(), 400},
	} {
		resp, _ := e.do("GET", c.path, nil, c.header...)
		h := resp.Header
		if resp.StatusCode != c.status || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d %v", c.path, resp.StatusCode, h)
		}
	}
	// The edge's refusal (429, 503) speaks HTML here too.
	rec := httptest.NewRecorder()
	e.api.Refuse(rec, httptest.NewRequest("GET", "/admin/ui/users", nil), http.StatusTooManyRequests)
	if rec.Code != 429 || !strings.Contains(rec.Body.String(), "<html") || rec.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("console refusal: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	e.api.Refuse(rec, httptest.NewRequest("GET", "/admin/tokens", nil), http.StatusTooManyRequests)
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Errorf("API refusal: %s", rec.Header().Get("Content-Type"))
	}
}

func TestConsoleLoginIsALoginAndSessionsAreRateKeys(t *testing.T) {
	e := startConsole(t)
	login := httptest.NewRequest("POST", "/admin/ui/login", nil)
	if !e.api.IsLogin(login) || e.api.IsLogin(httptest.NewRequest("GET", "/admin/ui/login", nil)) ||
		e.api.IsLogin(httptest.NewRequest("POST", "/admin/tokens", nil)) {
		t.Error("IsLogin")
	}
	page := httptest.NewRequest("GET", "/admin/ui/users", nil)
	page.AddCookie(&http.Cookie{Name: sessionCookie, Value: "abc"})
	if e.api.RateKey(page) != "abc" {
		t.Error("a console request's rate key is its session")
	}
}

func TestConsoleSessionEnds(t *testing.T) {
	e := startConsole(t)
	ctx := context.Background()
	// Logging out deletes the session; its cookie opens nothing after.
	s := e.login(testAdminToken)
	resp, _ := e.do("POST", "/admin/ui/logout", url.Values{"csrf": {s.csrf}}, s.header("Origin", e.url)...)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Fatalf("logout: %d %v", resp.StatusCode, resp.Cookies())
	}
	if creds, _ := e.st.ListCredentials(ctx, auth.SessionKind(consoleDialect)); len(creds) != 0 {
		t.Fatalf("%d sessions after logout", len(creds))
	}
	if resp, _ := e.do("GET", "/admin/ui/", nil, s.header()...); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a logged-out session still works: %d", resp.StatusCode)
	}

	// A session lives only as long as the stored admin token that opened it.
	token, cred, err := auth.IssueAdminToken(ctx, e.st, store.Actor{Door: "test"}, "ops", 0)
	if err != nil {
		t.Fatal(err)
	}
	s = e.login(token)
	if _, body := e.do("GET", "/admin/ui/", nil, s.header()...); !strings.Contains(body, "admin:ops") {
		t.Fatal("the console does not name the token holder")
	}
	if err := e.st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error { return tx.DeleteCredential(ctx, cred.ID) }); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.do("GET", "/admin/ui/", nil, s.header()...); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a session of a revoked admin token still works: %d", resp.StatusCode)
	}

	// And a session of the configured token ends when the token changes.
	s = e.login(testAdminToken)
	other := startConsole(t, func(o *Options) { o.Store = e.st; o.Token = "another-admin-token-0123456789" })
	if resp, _ := other.do("GET", "/admin/ui/", nil, s.header()...); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a session of a replaced configured token still works: %d", resp.StatusCode)
	}

	// An idle session expires.
	now := time.Now()
	clocked := startConsole(t, func(o *Options) { o.Clock = func() time.Time { return now } })
	s = clocked.login(testAdminToken)
	now = now.Add(consoleIdle + time.Minute)
	if resp, _ := clocked.do("GET", "/admin/ui/", nil, s.header()...); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("an expired session still works: %d", resp.StatusCode)
	}
}

func TestConsoleRevokesTokensAndKeys(t *testing.T) {
	forgot := 0
	e := startConsole(t, func(o *Options) { o.SCIMTokens = forgetter(func() { forgot++ }) })
	ctx := context.Background()
	u := &store.User{UserName: "bob", Active: true}
	if err := e.st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error { return tx.CreateUser(ctx, u) }); err != nil {
		t.Fatal(err)
	}
	_, tok, err := auth.IssueSCIMToken(ctx, e.st, store.Actor{Door: "test"}, "okta", 0)
	if err != nil {
		t.Fatal(err)
	}
	key, err := auth.IssueKey(ctx, e.st, store.Actor{Door: "test"}, "xyops", "xyops-key-0123456789abcdef", 8, u.Key, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := e.login(testAdminToken)
	post := func(path string) *http.Response {
		resp, _ := e.do("POST", path, url.Values{"csrf": {s.csrf}}, s.header("Origin", e.url)...)
		return resp
	}
	// Each form revokes only its own kind.
	if resp := post("/admin/ui/keys/" + itoa(tok.ID) + "/revoke"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("revoking a SCIM token as a key: %d", resp.StatusCode)
	}
	if resp := post("/admin/ui/tokens/" + itoa(key.ID) + "/revoke"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("revoking a key as a SCIM token: %d", resp.StatusCode)
	}
	if resp := post("/admin/ui/tokens/" + itoa(tok.ID) + "/revoke"); resp.StatusCode != http.StatusSeeOther || forgot != 1 {
		t.Errorf("revoke token: %d, forgot %d", resp.StatusCode, forgot)
	}
	resp := post("/admin/ui/keys/" + itoa(key.ID) + "/revoke")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/ui/tokens?revoked="+itoa(key.ID)+"&what=key" {
		t.Errorf("revoke key: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, kind := range []string{auth.SCIMTokenKind, auth.KeyKind("xyops")} {
		if creds, _ := e.st.ListCredentials(ctx, kind); len(creds) != 0 {
			t.Errorf("%s not revoked", kind)
		}
	}
	entries, _, _ := e.st.ListActivity(ctx, store.ActivityQuery{Door: "admin", Limit: 10})
	var actions []string
	for _, a := range entries {
		actions = append(actions, a.Action+" "+a.Actor.Principal)
	}
	if got := strings.Join(actions, ","); got != "apikey.revoke config-admin-token,token.revoke config-admin-token,console.login config-admin-token" {
		t.Errorf("activity: %s", got)
	}
}

type forgetter func()

func (f forgetter) Forget() { f() }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
