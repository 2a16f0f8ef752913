package app_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/internal/config"
)

// consoleLogin logs in to the console over plain HTTP and returns the
// session cookie.
func consoleLogin(t *testing.T, s *apptest.Server, token string) (int, string, http.Header) {
	t.Helper()
	return send(t, "POST", s.URL+"/admin/ui/login", url.Values{"token": {token}}.Encode(),
		"Origin", s.URL, "Content-Type", "application/x-www-form-urlencoded")
}

// TestConsoleSeesEveryDoorsRequests: the request log feeds the console's
// per-minute counts, whatever the door.
func TestConsoleSeesEveryDoorsRequests(t *testing.T) {
	s := apptest.Start(t)
	for range 3 {
		s.Do(t, "GET", "/scim/v2/Users", nil).Body.Close()
	}
	s.Do(t, "GET", "/scim/v2/Users/no-such-user", nil).Body.Close()
	get(t, s.URL+"/healthz")
	// The client follows the login's redirect to the overview, cookie and all.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	req, _ := http.NewRequest("POST", s.URL+"/admin/ui/login", strings.NewReader(url.Values{"token": {apptest.AdminToken}}.Encode()))
	req.Header.Set("Origin", s.URL)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	page := b.String()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/admin/ui/" {
		t.Fatalf("login: %d %s", resp.StatusCode, resp.Request.URL)
	}
	doors := regexp.MustCompile(`<tr><td>(\w+)</td><td class="num">(\d+)</td><td class="num">(\d+)</td><td class="num">(\d+)</td>`).FindAllStringSubmatch(page, -1)
	got := map[string]string{}
	for _, d := range doors {
		got[d[1]] = d[2] + " " + d[3] + " " + d[4]
	}
	// scim: 4 requests, 3 answered, 1 client error; the login itself is
	// admin's; /healthz belongs to no door.
	if got["scim"] != "4 3 1" || got["admin"] == "" || got["other"] != "1 1 0" {
		t.Errorf("requests by door %v", got)
	}
}

// TestConsoleLoginIsRateLimitedAsALogin: the login form is where admin
// tokens would be guessed, so the stricter per-address login limit
// applies, and its refusal is a page.
func TestConsoleLoginIsRateLimitedAsALogin(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) { c.RateLimit.LoginPerMinute, c.RateLimit.LoginBurst = 1, 2 })
	for i := range 2 {
		if status, _, _ := consoleLogin(t, s, "wrong"); status != http.StatusUnauthorized {
			t.Fatalf("login %d: %d", i, status)
		}
	}
	status, body, h := consoleLogin(t, s, apptest.AdminToken)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") == "" || !strings.Contains(body, "<html") ||
		h.Get("Content-Security-Policy") == "" {
		t.Fatalf("third login: %d %v %s", status, h, body)
	}
	// Pages are not logins.
	for range 3 {
		if status, _, _ := get(t, s.URL+"/admin/ui/login"); status != http.StatusOK {
			t.Fatalf("login page: %d", status)
		}
	}
}
