package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
)

// A password set through SCIM lifts a lockout another door imposed: the
// store records every password change, whatever the door.
func TestSCIMPasswordChangeLiftsLegacyLockout(t *testing.T) {
	s := apptest.Start(t)
	resp := s.Do(t, "POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"locky","password":"Old-Passw0rd"}`)
	var created struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	login := func(pw string) string {
		t.Helper()
		res, err := http.Post(s.URL+"/api/user/login", "application/json",
			strings.NewReader(`{"username":"locky","password":"`+pw+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		json.NewDecoder(res.Body).Decode(&body)
		if body["code"] == 0.0 {
			return "ok"
		}
		return strings.ToLower(strings.TrimSpace(body["description"].(string)))
	}
	for i := 0; i < 8; i++ {
		login("wrong")
	}
	if got := login("Old-Passw0rd"); got == "ok" || !strings.Contains(got, "lock") {
		t.Fatalf("not locked out after failures: %q", got)
	}
	resp = s.Do(t, "PATCH", "/scim/v2/Users/"+created.ID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"replace","value":{"password":"New-Passw0rd"}}]}`)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("SCIM password change: %d", resp.StatusCode)
	}
	if got := login("New-Passw0rd"); got != "ok" {
		t.Fatalf("still locked after the SCIM password change: %q", got)
	}
}
