package app_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

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

// Each door admits at most max_in_flight requests at once; the next one is
// refused at once with 503, Retry-After and the door's own format, while
// other doors keep serving.
func TestAdmissionControlPerDoor(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) { c.MaxInFlight = 1 })
	// Hold SCIM's only slot with a create whose body is still arriving.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", s.URL+"/scim/v2/Users", pr)
	req.Header.Set("Authorization", "Bearer "+apptest.Token)
	req.Header.Set("Content-Type", "application/scim+json")
	done := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	if _, err := pw.Write([]byte(`{"userName":`)); err != nil {
		t.Fatal(err)
	}
	var status int
	var body string
	var h http.Header
	for i := 0; i < 100; i++ { // until the slow request holds the slot
		status, body, h = get(t, s.URL+"/scim/v2/Users", "Authorization", "Bearer "+apptest.Token)
		if status == 503 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if status != 503 || h.Get("Retry-After") == "" || !strings.Contains(body, `"status":"503"`) ||
		!strings.Contains(body, "urn:ietf:params:scim:api:messages:2.0:Error") {
		t.Fatalf("second SCIM request: %d %s %v", status, body, h)
	}
	// Another door has its own bound.
	if status, _, _ := get(t, s.URL+"/api/application/users", "Authorization", "Bearer none"); status != 401 {
		t.Fatalf("pterodactyl refused while SCIM was full: %d", status)
	}
	if _, err := pw.Write([]byte(`"slow@example.com"}`)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if got := <-done; got != 201 {
		t.Fatalf("the admitted request: %d", got)
	}
	// The slot is free again.
	if status, _, _ := get(t, s.URL+"/scim/v2/Users", "Authorization", "Bearer "+apptest.Token); status != 200 {
		t.Fatalf("after the slow request: %d", status)
	}
	_, metrics, _ := get(t, s.URL+"/metrics")
	if !strings.Contains(metrics, `scimbridge_http_shed_total{door="scim"}`) {
		t.Error("shed requests not counted")
	}
}

// /metrics with metrics.token takes only the Bearer scheme.
func TestMetricsTokenNeedsBearer(t *testing.T) {
	const tok = "metrics-token-0123456789"
	s := apptest.Start(t, func(c *config.Config) { c.Metrics.Token = tok })
	for _, h := range []string{"XXXXXXX" + tok, "Basic " + tok, "Bearer wrong", ""} {
		if status, _, _ := get(t, s.URL+"/metrics", "Authorization", h); status != 401 {
			t.Errorf("%q: %d", h, status)
		}
	}
	if status, _, _ := get(t, s.URL+"/metrics", "Authorization", "Bearer "+tok); status != 200 {
		t.Errorf("bearer: %d", status)
	}
}
