package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/internal/config"
)

func get(t *testing.T, url string, header ...string) (int, string, http.Header) {
	t.Helper()
	return send(t, "GET", url, "", header...)
}

func send(t *testing.T, method, url, body string, header ...string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestHealthAndReadiness(t *testing.T) {
	s := apptest.Start(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		status, body, _ := get(t, s.URL+p)
		if status != 200 || !strings.Contains(body, `"status"`) {
			t.Fatalf("%s: %d %s", p, status, body)
		}
	}
	s.Store.Close() // a closed store is not ready
	if status, _, _ := get(t, s.URL+"/readyz"); status != 503 {
		t.Fatalf("readyz with a closed store: %d", status)
	}
	if status, _, _ := get(t, s.URL+"/healthz"); status != 200 {
		t.Fatal("healthz depends on the store")
	}
}

func TestMetrics(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) { c.Metrics.Token = "metrics-token-0123456789" })
	s.Do(t, "GET", "/scim/v2/Users?count=1", nil).Body.Close()
	s.Do(t, "GET", "/scim/v2/Users/does-not-exist", nil).Body.Close()
	if status, _, _ := get(t, s.URL+"/metrics"); status != 401 {
		t.Fatalf("metrics without token: %d", status)
	}
	status, body, _ := get(t, s.URL+"/metrics", "Authorization", "Bearer metrics-token-0123456789")
	if status != 200 {
		t.Fatalf("metrics: %d", status)
	}
	for _, want := range []string{
		`scimbridge_http_requests_total{door="scim",method="GET",route="/scim/v2/Users",status="200"} 1`,
		`scimbridge_http_requests_total{door="scim",method="GET",route="/scim/v2/Users/{id}",status="404"} 1`,
		`scimbridge_http_request_duration_seconds_bucket{door="scim",method="GET",route="/scim/v2/Users"`,
		`scimbridge_store_operation_duration_seconds_count{op="ListUsers"} 1`,
		`scimbridge_sqlite_file_bytes`,
		`scimbridge_sqlite_wal_bytes`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "does-not-exist") {
		t.Error("a raw path leaked into metric labels")
	}
}

func TestAdminAPI(t *testing.T) {
	s := apptest.Start(t)
	admin := []string{"Authorization", "Bearer " + apptest.AdminToken}
	for _, h := range [][]string{nil, {"Authorization", "Bearer " + apptest.Token}} {
		if status, _, _ := get(t, s.URL+"/admin/activity", h...); status != 401 {
			t.Fatalf("admin with %v: %d", h, status)
		}
	}
	resp := s.Do(t, "POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"audited"}`)
	resp.Body.Close()
	status, body, _ := get(t, s.URL+"/admin/activity?user=audited&door=scim", admin...)
	var act struct {
		Total   int `json:"total"`
		Entries []struct {
			Action, Door, Principal string
		} `json:"entries"`
	}
	json.Unmarshal([]byte(body), &act)
	if status != 200 || act.Total != 1 || act.Entries[0].Action != "user.create" || act.Entries[0].Principal != "config-token" {
		t.Fatalf("activity: %d %s", status, body)
	}
	if status, _, _ := get(t, s.URL+"/admin/activity?since=yesterday", admin...); status != 400 {
		t.Fatalf("bad since: %d", status)
	}
	if status, _, _ := get(t, s.URL+"/admin/activity?user=nobody", admin...); status != 404 {
		t.Fatalf("unknown user: %d", status)
	}
	// Create a SCIM token, use it, revoke it: it stops working at once.
	status, body, _ = send(t, "POST", s.URL+"/admin/tokens", `{"name":"okta"}`, admin...)
	var tok struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	json.Unmarshal([]byte(body), &tok)
	if status != 201 || !strings.HasPrefix(tok.Token, "scim_") {
		t.Fatalf("create token: %d %s", status, body)
	}
	if status, _, _ := get(t, s.URL+"/scim/v2/Users", "Authorization", "Bearer "+tok.Token); status != 200 {
		t.Fatalf("new token: %d", status)
	}
	_, list, _ := get(t, s.URL+"/admin/tokens", admin...)
	if !strings.Contains(list, `"name":"okta"`) || strings.Contains(list, tok.Token) {
		t.Fatalf("token list %s", list)
	}
	if status, _, _ := send(t, "DELETE", s.URL+"/admin/tokens/999999", "", admin...); status != 404 {
		t.Fatalf("revoke unknown: %d", status)
	}
	if status, _, _ := send(t, "DELETE", s.URL+"/admin/tokens/"+itoa(tok.ID), "", admin...); status != 204 {
		t.Fatalf("revoke: %d", status)
	}
	if status, _, _ := get(t, s.URL+"/scim/v2/Users", "Authorization", "Bearer "+tok.Token); status != 401 {
		t.Fatalf("revoked token still works: %d", status)
	}
	if status, _, _ := send(t, "POST", s.URL+"/admin/tokens", `{"name":""}`, admin...); status != 400 {
		t.Fatalf("nameless token: %d", status)
	}
	if strings.Contains(s.Logs(), tok.Token) {
		t.Fatal("token in logs")
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestRateLimitsSpeakEachDoorsFormat(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) {
		c.RateLimit.PerCredential = config.Bucket{PerSecond: 0.001, Burst: 2}
		c.RateLimit.LoginPerMinute, c.RateLimit.LoginBurst = 0.001, 1
	})
	auth := []string{"Authorization", "Bearer " + apptest.Token}
	for i := 0; i < 2; i++ {
		if status, _, _ := get(t, s.URL+"/scim/v2/Users", auth...); status != 200 {
			t.Fatalf("within burst: %d", status)
		}
	}
	status, body, h := get(t, s.URL+"/scim/v2/Users", auth...)
	if status != 429 || !strings.Contains(body, `"status":"429"`) || h.Get("Retry-After") == "" {
		t.Fatalf("SCIM 429: %d %s %v", status, body, h)
	}
	// Another credential is not limited by the first one's use.
	if status, _, _ := get(t, s.URL+"/scim/v2/Users", "Authorization", "Bearer other"); status != 401 {
		t.Fatalf("other credential: %d", status)
	}
	// Each door answers in its own format; XStudio answers every command
	// with HTTP 200 and its failure envelope, its refusals too.
	for _, tc := range []struct {
		path, header, want string
		status             int
	}{
		{"/api/application/users", "Bearer k1", `"ThrottleRequestsException"`, 429},
		{"/api/users", "Bearer k2", `"success":false`, 429},
		{"/api/app/get_user_activity/v1", "Bearer k3", `"code":"rate"`, 429},
		{"/xqual/api?command=getUsersTree", "Bearer k4", `"result":"failure"`, 200},
	} {
		var last int
		var lastBody string
		var h http.Header
		for i := 0; i < 3; i++ {
			last, lastBody, h = get(t, s.URL+tc.path, "Authorization", tc.header)
		}
		if last != tc.status || !strings.Contains(lastBody, tc.want) || h.Get("Retry-After") == "" {
			t.Errorf("%s: %d %s", tc.path, last, lastBody)
		}
	}
	// Logins are limited per address, before credentials.
	send(t, "POST", s.URL+"/api/user/login", `{"username":"x","password":"y"}`)
	status, body, _ = send(t, "POST", s.URL+"/api/user/login", `{"username":"x","password":"y"}`)
	if !strings.Contains(body, `"code":"rate"`) || status != 200 {
		t.Fatalf("xyOps login limit (unversioned URL answers 200): %d %s", status, body)
	}
}

func TestTestTokenEndpointIsOffByDefault(t *testing.T) {
	s := apptest.Start(t)
	if status, _, _ := get(t, s.URL+"/scim/Token"); status != 404 {
		t.Fatalf("token endpoint served by default: %d", status)
	}
	on := apptest.Start(t, func(c *config.Config) { c.SCIM.TestTokenEndpoint = true })
	for _, p := range []string{"/scim/Token", "/scim/v2/Token"} {
		status, body, _ := get(t, on.URL+p)
		var tok struct{ Token string }
		json.Unmarshal([]byte(body), &tok)
		if status != 200 || tok.Token == "" {
			t.Fatalf("%s: %d %s", p, status, body)
		}
		if status, _, _ := get(t, on.URL+"/scim/v2/Users", "Authorization", "Bearer "+tok.Token); status != 200 {
			t.Fatalf("issued token rejected: %d", status)
		}
	}
}
