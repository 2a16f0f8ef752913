package app_test

// Identity integrity through the doors (issue 11): a deleted user's history
// stays its own and findable by its id, keys are not handed on, and an
// e-mail address belongs to one user whichever door writes it.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/store"
)

type adminEntries struct {
	Total   int `json:"total"`
	Entries []struct {
		Action     string `json:"action"`
		ResourceID string `json:"resourceId"`
		UserKey    int64  `json:"userKey"`
		UserID     string `json:"userId"`
	} `json:"entries"`
}

func adminActivity(t *testing.T, s *apptest.Server, user string) (int, adminEntries) {
	t.Helper()
	status, body, _ := get(t, s.URL+"/admin/activity?user="+url.QueryEscape(user), "Authorization", "Bearer "+apptest.AdminToken)
	var out adminEntries
	if status == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
	}
	return status, out
}

// TestDeletedUsersHistoryStaysItsOwn: a user is deleted and its userName
// given to a new user. The admin activity filter finds the deleted user's
// history by its SCIM id, and the new user, with a new key, inherits none
// of it (before: 404 for the id, and the new user got the old key and the
// history recorded under it).
func TestDeletedUsersHistoryStaysItsOwn(t *testing.T) {
	s := apptest.Start(t)
	scim := func(method, path, body string, want int) map[string]any {
		t.Helper()
		res := s.Do(t, method, path, body)
		return decodeStatus(t, res, want)
	}
	old := scim("POST", "/scim/v2/Users", `{"schemas":["`+userSchema+`"],"userName":"leaver","emails":[{"value":"leaver@example.com"}]}`, 201)
	oldID := old["id"].(string)
	oldUser, err := s.Store.GetUser(context.Background(), oldID)
	if err != nil {
		t.Fatal(err)
	}
	scim("PATCH", "/scim/v2/Users/"+oldID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"replace","value":{"active":false}}]}`, 200)
	scim("POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"staff",
		"members":[{"value":"`+oldID+`"}]}`, 201)
	scim("DELETE", "/scim/v2/Users/"+oldID, "", 204)

	again := scim("POST", "/scim/v2/Users", `{"schemas":["`+userSchema+`"],"userName":"Leaver","emails":[{"value":"leaver@example.com"}]}`, 201)
	newID := again["id"].(string)
	newUser, err := s.Store.GetUser(context.Background(), newID)
	if err != nil {
		t.Fatal(err)
	}
	if newUser.Key == oldUser.Key {
		t.Fatalf("the new user got the deleted user's key %d", oldUser.Key)
	}

	status, gone := adminActivity(t, s, oldID)
	if status != http.StatusOK {
		t.Fatalf("activity of the deleted user by id: HTTP %d", status)
	}
	var actions []string
	for _, e := range gone.Entries {
		if e.UserID != oldID || e.UserKey != oldUser.Key {
			t.Fatalf("an entry in the deleted user's history is another user's: %+v", e)
		}
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, " "); got != "user.delete group.members.add user.deactivate user.create" {
		t.Fatalf("deleted user's history: %s", got)
	}

	status, current := adminActivity(t, s, "leaver")
	if status != http.StatusOK || current.Total != 1 || current.Entries[0].UserID != newID || current.Entries[0].Action != "user.create" {
		t.Fatalf("the new leaver's history: HTTP %d %+v", status, current)
	}
	if status, _ := adminActivity(t, s, "no-such-id"); status != http.StatusNotFound {
		t.Fatalf("an id that never was: HTTP %d", status)
	}
}

// TestEmailBelongsToOneUserInEveryDoor: the doors that made duplicates
// (xyOps user_settings and admin_create, XStudio createUser) refuse an
// address another user holds, in their own error format, and write
// nothing; with identity.shared_emails the same create succeeds.
func TestEmailBelongsToOneUserInEveryDoor(t *testing.T) {
	d := startLimitDoors(t)
	status, body := d.scim("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "holder",
		"emails": []map[string]any{{"value": "taken@example.com", "type": "work"}}})
	if status != 201 {
		t.Fatalf("SCIM create: HTTP %d %s", status, body)
	}
	const pw = "identity-password-1"
	for _, tc := range []struct {
		name string
		send func() (int, string)
		want string // in the body
	}{
		{"xyOps admin_create", func() (int, string) {
			return d.xyOps(map[string]any{"username": "xyuser", "email": "TAKEN@example.com", "full_name": "Xy User", "password": pw})
		}, `already used by another account`},
		{"XStudio createUser", func() (int, string) {
			return d.xStudio(map[string]string{"name": "xsuser", "email": "taken@EXAMPLE.com", "password": pw})
		}, `"a user with this e-mail address already exists"`},
		{"SCIM", func() (int, string) {
			return d.scim("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "scimuser",
				"emails": []map[string]any{{"value": "Taken@example.com", "type": "home"}}})
		}, `"scimType":"uniqueness"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := d.counts()
			status, body := tc.send()
			if !strings.Contains(body, tc.want) {
				t.Fatalf("HTTP %d %.300s\nwant %s", status, body, tc.want)
			}
			if after := d.counts(); after != before {
				t.Fatalf("a duplicate e-mail was written: users and creates %v → %v", before, after)
			}
		})
	}

	// xyOps user_settings: the logged-in user cannot take the address.
	sessionID := xyOpsSession(t, d, "boss", "boss-password")
	status, body = d.send("POST", "/api/app/user_settings/v1", jsonBody(map[string]any{"email": "taken@example.com"}),
		"Content-Type", "application/json", "Cookie", "session_id="+sessionID.id, "X-CSRF-Token", sessionID.csrf)
	if !strings.Contains(body, `"code":"api"`) || !strings.Contains(body, "taken@example.com belongs to another user") {
		t.Fatalf("xyOps user_settings with a taken address: HTTP %d %s", status, body)
	}
	boss, err := d.srv.Store.GetUserByUserName(context.Background(), "boss")
	if err != nil || boss.PrimaryEmail() != "boss@example.com" {
		t.Fatalf("boss's address after a refused change: %+v %v", boss, err)
	}
	page, err := d.srv.Store.ListUsers(context.Background(), store.Query{Limit: 10,
		Filter: store.Compare{Attr: "emails.value", Op: store.OpEq, Value: "taken@example.com"}})
	if err != nil || page.Total != 1 {
		t.Fatalf("holders of taken@example.com: %+v %v", page, err)
	}
}

type xySession struct{ id, csrf string }

func xyOpsSession(t *testing.T, d *limitDoors, user, password string) xySession {
	t.Helper()
	req, err := http.NewRequest("POST", d.srv.URL+"/api/user/login", jsonBody(map[string]any{"username": user, "password": password}))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := decode(t, res)
	csrf, _ := body["csrf_token"].(string)
	id := cookieOf(res, "session_id")
	if id == "" || csrf == "" {
		t.Fatalf("xyOps login: %v", body)
	}
	return xySession{id: id, csrf: csrf}
}

// TestSharedEmailsSwitch: identity.shared_emails lets two users of a
// directory with shared mailboxes hold one address.
func TestSharedEmailsSwitch(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) { c.Identity.SharedEmails = true })
	for _, name := range []string{"desk1", "desk2"} {
		res := s.Do(t, "POST", "/scim/v2/Users", `{"schemas":["`+userSchema+`"],"userName":"`+name+`",
			"emails":[{"value":"frontdesk@example.com"}]}`)
		decodeStatus(t, res, 201)
	}
}
