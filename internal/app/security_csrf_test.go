package app_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/config"
)

// Finding 11: XStudio's cookie session had no CSRF token or Origin check:
// updateUserPassword sent by a browser for a page of another site (with
// the victim's JSESSIONID attached) changed the victim's password. XStudio's
// protocol has no token to add, so a POST a browser says comes from
// another origin (Sec-Fetch-Site, Origin, else Referer) is refused in
// XStudio's envelope; clients that send none of those (the vendor's
// clients, scripts) and same-origin pages work as before, and so do the
// configured allowed origins. xyOps, the other cookie door, gets the same
// rule besides its CSRF token.
func TestSecurityCookieSessionsRefuseForeignOrigins(t *testing.T) {
	s := startSec(t, false, func(c *config.Config) {
		c.Legacy.XStudio.AllowedOrigins = []string{"https://ui.example.com"}
		c.Legacy.XyOps.AllowedOrigins = []string{"https://ui.example.com"}
	})
	s.scimUser("vic", "Vic-password-1", "")
	sess := s.xstudioLogin("vic", "Vic-password-1")
	if sess == "" {
		t.Fatal("XStudio login failed")
	}
	setPassword := func(password string, headers ...string) map[string]any {
		t.Helper()
		_, m, _ := s.req("POST", "/xqual/api?command=updateUserPassword", strings.NewReader(url.Values{"password": {password}}.Encode()),
			append([]string{"Content-Type", "application/x-www-form-urlencoded", "Cookie", "JSESSIONID=" + sess}, headers...)...)
		return m
	}
	for _, h := range [][]string{
		{"Origin", "https://evil.example"},
		{"Origin", "null"},
		{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "same-site"},
		{"Referer", "https://evil.example/form.html"},
	} {
		if m := setPassword("Evil-password-1", h...); m["result"] != "failure" || m["message"] != "cross-origin request refused" {
			t.Errorf("updateUserPassword with %v: %v", h, m)
		}
	}
	if s.xstudioLogin("vic", "Evil-password-1") != "" || s.xstudioLogin("vic", "Vic-password-1") == "" {
		t.Fatal("a foreign page changed vic's XStudio password")
	}
	// A cross-origin authenticate (login CSRF) is refused too.
	_, m, _ := s.req("POST", "/xqual/api?command=authenticate", strings.NewReader(url.Values{
		"username": {"vic"}, "password": {"Vic-password-1"}}.Encode()),
		"Content-Type", "application/x-www-form-urlencoded", "Origin", "https://evil.example")
	if m["result"] != "failure" {
		t.Errorf("cross-origin authenticate: %v", m)
	}
	// What keeps working: no browser headers, this origin, an allowed one.
	password := "Vic-password-1"
	for i, h := range [][]string{
		nil,
		{"Origin", s.srv.URL},
		{"Sec-Fetch-Site", "same-origin", "Origin", s.srv.URL},
		{"Referer", s.srv.URL + "/xstudio/index.html"},
		{"Origin", "https://ui.example.com", "Sec-Fetch-Site", "cross-site"},
	} {
		sess = s.xstudioLogin("vic", password)
		password = "Vic-password-" + string(rune('a'+i))
		if m := setPassword(password, h...); m["result"] != "success" {
			t.Errorf("updateUserPassword with %v: %v", h, m)
		}
	}

	// xyOps: the session_id cookie with a valid CSRF token, from a
	// foreign page, is refused; the same from a script works.
	_, login, res := s.req("POST", "/api/user/login", strings.NewReader(`{"username":"vic","password":"`+password+`"}`),
		"Content-Type", "application/json")
	cookie, csrf := cookieOf(res, "session_id"), login["csrf_token"]
	if cookie == "" || csrf == nil {
		t.Fatalf("xyOps login: %v", login)
	}
	settings := func(headers ...string) map[string]any {
		t.Helper()
		_, m, _ := s.req("POST", "/api/app/user_settings/v1", strings.NewReader(`{"full_name":"Changed"}`),
			append([]string{"Content-Type", "application/json", "Cookie", "session_id=" + cookie, "X-CSRF-Token", csrf.(string)}, headers...)...)
		return m
	}
	if m := settings("Origin", "https://evil.example"); m["code"] != "session" {
		t.Errorf("xyOps user_settings from a foreign origin: %v", m)
	}
	if m := settings("Referer", "https://evil.example/x"); m["code"] != "session" {
		t.Errorf("xyOps user_settings with a foreign Referer: %v", m)
	}
	if u := s.stored("vic"); u.DisplayName == "Changed" {
		t.Fatal("a foreign page changed vic's xyOps settings")
	}
	for _, h := range [][]string{nil, {"Origin", s.srv.URL}, {"Origin", "https://ui.example.com"}} {
		if m := settings(h...); m["code"] != float64(0) {
			t.Errorf("xyOps user_settings with %v: %v", h, m)
		}
	}
	_, m, _ = s.req("POST", "/api/user/login", strings.NewReader(`{"username":"vic","password":"`+password+`"}`),
		"Content-Type", "application/json", "Origin", "https://evil.example")
	if m["code"] != "login" {
		t.Errorf("xyOps cross-origin login: %v", m)
	}
}
