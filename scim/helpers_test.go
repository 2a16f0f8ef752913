package scim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
)

// call sends a SCIM request and decodes the JSON answer (nil for none).
func call(t *testing.T, s *apptest.Server, method, path string, body any, header ...string) (int, map[string]any, http.Header) {
	t.Helper()
	return callB(t, s, method, path, body, header...)
}

// callB is call for tests and benchmarks alike.
func callB(t testing.TB, s *apptest.Server, method, path string, body any, header ...string) (int, map[string]any, http.Header) {
	t.Helper()
	var payload any
	switch b := body.(type) {
	case nil:
	case string:
		payload = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		payload = raw
	}
	resp := s.Do(t, method, path, payload, header...)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 {
		return resp.StatusCode, nil, resp.Header
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		t.Fatalf("%s %s: content type %q, body %s", method, path, ct, raw)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s %s: bad JSON %s", method, path, raw)
	}
	return resp.StatusCode, doc, resp.Header
}

// want fails unless the status matches, printing the body.
func want(t *testing.T, status, wantStatus int, doc map[string]any) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d; body %v", status, wantStatus, doc)
	}
}

// wantError checks a SCIM error body.
func wantError(t *testing.T, status int, doc map[string]any, wantStatus int, scimType string) {
	t.Helper()
	want(t, status, wantStatus, doc)
	schemas, _ := doc["schemas"].([]any)
	if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
		t.Fatalf("not a SCIM error: %v", doc)
	}
	if doc["status"] != strings.TrimSpace(itoa(wantStatus)) {
		t.Fatalf("status in body %v (%T), want string %q", doc["status"], doc["status"], itoa(wantStatus))
	}
	if scimType != "" && doc["scimType"] != scimType {
		t.Fatalf("scimType %v, want %s (detail %v)", doc["scimType"], scimType, doc["detail"])
	}
	if d, _ := doc["detail"].(string); d == "" {
		t.Fatal("error without detail")
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func user(userName string, extra map[string]any) map[string]any {
	u := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": userName}
	for k, v := range extra {
		u[k] = v
	}
	return u
}

func createUser(t *testing.T, s *apptest.Server, userName string, extra map[string]any) map[string]any {
	t.Helper()
	status, doc, _ := call(t, s, "POST", "/scim/v2/Users", user(userName, extra))
	want(t, status, http.StatusCreated, doc)
	return doc
}

func resources(doc map[string]any) []map[string]any {
	list, _ := doc["Resources"].([]any)
	out := make([]map[string]any, len(list))
	for i, r := range list {
		out[i] = r.(map[string]any)
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }
