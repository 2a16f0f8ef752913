package app_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/legacyapi"
)

// The login limit counts every way a dialect accepts a login: XStudio's
// authenticate command in the form body counts like the one in the URL
// (the limiter once re-parsed only the URL, so the body bypassed it).
func TestLoginLimitReadsTheRequestAsTheDoorDoes(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) {
		c.RateLimit.LoginPerMinute, c.RateLimit.LoginBurst = 0.001, 1
	})
	form := url.Values{"command": {"authenticate"}, "username": {"nobody"}, "password": {"wrong"}}.Encode()
	ct := []string{"Content-Type", "application/x-www-form-urlencoded"}
	if _, body, _ := send(t, "POST", s.URL+"/xqual/api", form, ct...); strings.Contains(body, "Too many") {
		t.Fatalf("first login limited: %s", body)
	}
	status, body, h := send(t, "POST", s.URL+"/xqual/api", form, ct...)
	if status != 200 || !strings.Contains(body, `"result":"failure"`) || !strings.Contains(body, "Too many") || h.Get("Retry-After") == "" {
		t.Fatalf("second login by form body not limited: %d %s %v", status, body, h)
	}
	// Other commands from the same address are not logins.
	if _, body, _ := send(t, "POST", s.URL+"/xqual/api", "command=getUsersTree", ct...); strings.Contains(body, "Too many") {
		t.Fatalf("a non-login command was limited as a login: %s", body)
	}
}

// A door mounted under a configured prefix is still that door in the
// request log and metrics (they were labelled by hard-coded vendor paths).
func TestDoorUnderPrefixKeepsItsName(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) {
		c.Legacy.XPDev.DialectConfig = legacyapi.DialectConfig{Prefix: "/xp"}
		c.Legacy.Pterodactyl.DialectConfig = legacyapi.DialectConfig{Prefix: "/panel"}
	})
	get(t, s.URL+"/xp/api/v1/user", "X-XPDevToken", "wrong")
	get(t, s.URL+"/panel/api/application/users", "Authorization", "Bearer wrong")
	logs := s.Logs()
	for _, want := range []string{`door=xpdev method=GET path=/xp/api/v1/user`, `door=pterodactyl method=GET path=/panel/api/application/users`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	_, metrics, _ := get(t, s.URL+"/metrics")
	if !strings.Contains(metrics, `door="xpdev",method="GET",route="/xp/api/v1/user"`) {
		t.Errorf("metrics lack the prefixed xpdev route")
	}
}

// A door's own log lines carry the id of the request they belong to.
func TestDoorLogLinesCarryTheRequestID(t *testing.T) {
	s := apptest.Start(t)
	// A closed store makes the SCIM door log an internal error.
	s.Store.Close()
	status, _, h := get(t, s.URL+"/scim/v2/Users", "Authorization", "Bearer "+apptest.Token, "X-Request-Id", "req-42")
	if status != 500 || h.Get("X-Request-Id") != "req-42" {
		t.Fatalf("closed store: %d %v", status, h)
	}
	lines := regexp.MustCompile(`(?m)^.*level=ERROR.*$`).FindAllString(s.Logs(), -1)
	if len(lines) == 0 {
		t.Fatalf("no error line:\n%s", s.Logs())
	}
	for _, l := range lines {
		if !strings.Contains(l, "request_id=req-42") {
			t.Errorf("error line without the request id: %s", l)
		}
	}
}
