package app_test

import (
	"fmt"
	"strings"
	"testing"
)

// Finding 15, activity: the Users API showed the stored detail of each
// entry raw (`{"door":"usersapi","session":…}` for a login, "changed:
// displayName" for a change) and userAgent was always null, although the
// login records its user agent. Each door now shows the log in its own
// words: the Users API "User logged in", "User updated: …", with the
// login's user agent; xyOps' descriptions likewise.
func TestActivityInEachVendorsWords(t *testing.T) {
	s := startSec(t, false)
	amy := s.scimUser("amy", "Amy-password-1", "")
	status, _, _ := s.req("POST", "/api/auth/login", strings.NewReader(`{"username":"amy","password":"Amy-password-1"}`),
		"Content-Type", "application/json", "User-Agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 Chrome/120.0 Safari/537.36")
	if status != 200 {
		t.Fatalf("Users API login: %d", status)
	}
	_, login, _ := s.req("POST", "/api/user/login", strings.NewReader(`{"username":"amy","password":"Amy-password-1"}`),
		"Content-Type", "application/json", "User-Agent", "xyops-client/1.0")
	if login["code"] != float64(0) {
		t.Fatalf("xyOps login: %v", login)
	}
	if status, m := s.scim("PATCH", "/scim/v2/Users/"+amy.ID, `{"schemas":["`+patchOpSchema+`"],"Operations":[{"op":"replace","path":"title","value":"CTO"}]}`); status != 200 {
		t.Fatalf("SCIM PATCH: %d %v", status, m)
	}

	status, d := s.usersAPIAs(s.users, "GET", fmt.Sprintf("/%d/activity", amy.Key), "")
	if status != 200 {
		t.Fatalf("Users API activity: %d %v", status, d)
	}
	acts := d["activities"].([]any)
	details := map[string]map[string]any{}
	for _, a := range acts {
		row := a.(map[string]any)
		text, _ := row["details"].(string)
		if strings.ContainsAny(text, "{}=") || strings.HasPrefix(text, "changed:") {
			t.Errorf("Users API details in the store's form: %q", text)
		}
		details[text] = row
	}
	want := map[string]any{
		"User logged in (Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 Chrome/120.0 Safari/537.36)": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
		"User logged in via xyOps (xyops-client/1.0)":                                                                 "xyops-client/1.0",
		"User updated: title via SCIM":                                                                                nil,
		"User created via SCIM":                                                                                       nil,
	}
	for text, agent := range want {
		row, ok := details[text]
		if !ok {
			t.Errorf("Users API activity lacks %q: %v", text, acts)
			continue
		}
		if fmt.Sprint(row["userAgent"]) != fmt.Sprint(agent) {
			t.Errorf("%q: userAgent %v, want %v", text, row["userAgent"], agent)
		}
	}

	// xyOps: the same log, in its rows' descriptions.
	_, _, res := s.req("POST", "/api/user/login", strings.NewReader(`{"username":"amy","password":"Amy-password-1"}`), "Content-Type", "application/json")
	_, rows, _ := s.req("GET", "/api/app/get_user_activity/v1", nil, "Cookie", "session_id="+cookieOf(res, "session_id"))
	var descs []string
	for _, r := range rows["rows"].([]any) {
		desc, _ := r.(map[string]any)["description"].(string)
		descs = append(descs, desc)
		if strings.ContainsAny(desc, "{}=") || strings.HasPrefix(desc, "changed:") {
			t.Errorf("xyOps description in the store's form: %q", desc)
		}
	}
	joined := strings.Join(descs, "\n")
	for _, w := range []string{"User updated: title (via scim", "User created (via scim", "Logged in via the Users API", "Logged in via xyOps"} {
		if !strings.Contains(joined, w) {
			t.Errorf("xyOps activity lacks %q:\n%s", w, joined)
		}
	}
}
