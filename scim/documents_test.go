package scim_test

// SCIM documents the HTTP tests send, and checks of the ones that come
// back; the server they talk to is scimtest's.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/scim/scimtest"
)

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

func createUser(t *testing.T, s *scimtest.Server, userName string, extra map[string]any) map[string]any {
	t.Helper()
	status, doc, _ := s.Call(t, "POST", "/scim/v2/Users", user(userName, extra))
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
