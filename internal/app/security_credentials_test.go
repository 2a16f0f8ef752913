package app_test

// Scoped credentials (issue 11, finding 1; README, "What each credential
// can reach"): a SCIM token bound to a user reaches /Me only and cannot
// change what its provisioner decides; and every credential bound to a
// user, in every door, stops working on the next request after that user
// is deactivated or deleted, whatever the caches.

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/legacyapi/pterodactyl"
	"github.com/scimbridge/scimbridge/legacyapi/usersapi"
	"github.com/scimbridge/scimbridge/legacyapi/xpdev"
	"github.com/scimbridge/scimbridge/legacyapi/xyops"
	"github.com/scimbridge/scimbridge/store"
)

const patchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

func (s *sec) meToken(u *store.User) string {
	s.t.Helper()
	token, _, err := auth.IssueSCIMToken(context.Background(), s.srv.Store, store.Actor{Door: "test"}, u.UserName, u.Key)
	if err != nil {
		s.t.Fatal(err)
	}
	return token
}

// Finding 1, first part: a token bound to a user for /Me (token create
// --user bob) worked as a full provisioning token: it listed every user,
// deactivated others and wrote through /Bulk.
func TestSecurityMeTokenReachesOnlyMe(t *testing.T) {
	s := startSec(t, false)
	bob := s.scimUser("bob", "Bob-password-1", "")
	other := s.scimUser("other", "Other-password-1", "")
	token := s.meToken(bob)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/scim/v2/Users", ""},
		{"GET", "/scim/v2/Users/" + other.ID, ""},
		{"GET", "/scim/v2/Groups", ""},
		{"PATCH", "/scim/v2/Users/" + other.ID, `{"schemas":["` + patchOpSchema + `"],"Operations":[{"op":"replace","value":{"active":false}}]}`},
		{"DELETE", "/scim/v2/Users/" + other.ID, ""},
		{"POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"mallory"}`},
		{"POST", "/scim/v2/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"PATCH",
			"path":"/Users/` + other.ID + `","data":{"schemas":["` + patchOpSchema + `"],"Operations":[{"op":"replace","value":{"active":false}}]}}]}`},
		{"POST", "/scim/v2/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}`},
	} {
		if status, m := s.scimAs(token, c.method, c.path, c.body); status != 403 {
			t.Errorf("/Me token %s %s: %d %v", c.method, c.path, status, m)
		}
	}
	if u := s.stored("other"); !u.Active {
		t.Error("the /Me token deactivated another user")
	}
	if _, err := s.srv.Store.GetUserByUserName(context.Background(), "mallory"); !store.IsNotFound(err) {
		t.Error("the /Me token created a user")
	}
	if status, m := s.scimAs(token, "GET", "/scim/v2/Me", ""); status != 200 || m["userName"] != "bob" {
		t.Fatalf("GET /Me: %d %v", status, m)
	}
}

// Finding 1, second part: through PATCH /Me bob gave himself the role
// admin and became an admin in the Users API and Pterodactyl. A /Me token
// cannot change roles, entitlements, groups, active or userName.
func TestSecurityMeCannotRaiseItself(t *testing.T) {
	s := startSec(t, false)
	bob := s.scimUser("bob", "Bob-password-1", "")
	token := s.meToken(bob)
	for _, op := range []string{
		`{"op":"replace","path":"roles","value":[{"value":"admin"}]}`,
		`{"op":"add","path":"roles","value":[{"type":"scimbridge","value":"owner"}]}`,
		`{"op":"add","value":{"roles":[{"value":"admin"}]}}`,
		`{"op":"add","path":"entitlements","value":[{"value":"domains:delete"}]}`,
		`{"op":"replace","path":"active","value":false}`,
		`{"op":"replace","path":"userName","value":"admin"}`,
		`{"op":"replace","path":"userName","value":"bobby"}`,
		`{"op":"replace","path":"externalId","value":"okta-ceo"}`,
	} {
		if status, m := s.scimAs(token, "PATCH", "/scim/v2/Me", `{"schemas":["`+patchOpSchema+`"],"Operations":[`+op+`]}`); status != 403 {
			t.Errorf("PATCH /Me %s: %d %v", op, status, m)
		}
	}
	if status, m := s.scimAs(token, "PUT", "/scim/v2/Me", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob",
		"roles":[{"value":"admin"}]}`); status != 403 {
		t.Errorf("PUT /Me with roles: %d %v", status, m)
	}
	// The groups of a user are read-only: sent, they change nothing.
	group := s.scimGroup("admins")
	s.scimAs(token, "PATCH", "/scim/v2/Me", `{"schemas":["`+patchOpSchema+`"],"Operations":[{"op":"add","path":"groups","value":[{"value":"`+group+`"}]}]}`)
	if u := s.stored("bob"); len(u.Groups) != 0 || len(u.Roles) != 0 || len(u.Entitlements) != 0 || !u.Active || u.ExternalID != "" {
		t.Fatalf("bob after his /Me writes: %+v", u)
	}
	path := fmt.Sprintf("/%d", bob.Key)
	if status, a := s.pteroAs(s.ptero, "GET", path, ""); status != 200 || a["root_admin"] != false {
		t.Errorf("Pterodactyl: %d %v", status, a)
	}
	if status, d := s.usersAPIAs(s.users, "GET", path, ""); status != 200 || d["role"] != "user" {
		t.Errorf("Users API: %d %v", status, d)
	}
	// What is bob's own, he changes.
	if status, m := s.scimAs(token, "PATCH", "/scim/v2/Me", `{"schemas":["`+patchOpSchema+`"],"Operations":[
		{"op":"replace","path":"displayName","value":"Robert"},{"op":"replace","path":"password","value":"Bob-password-2"}]}`); status != 200 {
		t.Errorf("PATCH /Me displayName and password: %d %v", status, m)
	}
	if s.xstudioLogin("bob", "Bob-password-2") == "" {
		t.Error("bob's new password does not log in")
	}
}

func (s *sec) scimGroup(name string) string {
	s.t.Helper()
	status, m := s.scim("POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"`+name+`"}`)
	if status != 201 {
		s.t.Fatalf("create group: %d %v", status, m)
	}
	return m["id"].(string)
}

// boundCredential is one credential bound to bob, in one door: use reports
// whether it still works.
type boundCredential struct {
	door string
	use  func() bool
}

// bobsCredentials logs bob in and issues him a key everywhere, and returns
// each credential with its use.
func (s *sec) bobsCredentials(bob *store.User, password string) []boundCredential {
	s.t.Helper()
	me := s.meToken(bob)
	ptero := s.key(pterodactyl.Dialect, pterodactyl.NewKey, bob)
	users := s.key(usersapi.Dialect, usersapi.NewKey, bob)
	xp := s.key(xpdev.Dialect, xpdev.NewKey, bob)
	xy := s.key(xyops.Dialect, xyops.NewKey, bob)
	path := fmt.Sprintf("/%d", bob.Key)

	status, login := s.jsonReq("POST", "/api/auth/login", `{"username":"bob","password":"`+password+`"}`)
	data, _ := login["data"].(map[string]any)
	if status != 200 || data == nil {
		s.t.Fatalf("Users API login: %d %v", status, login)
	}
	access, refresh := data["accessToken"].(string), data["refreshToken"].(string)

	_, _, res := s.req("POST", "/api/user/login", strings.NewReader(`{"username":"bob","password":"`+password+`"}`),
		"Content-Type", "application/json")
	xySession := cookieOf(res, "session_id")
	xsSession := s.xstudioLogin("bob", password)
	if xySession == "" || xsSession == "" {
		s.t.Fatalf("xyOps session %q, XStudio session %q", xySession, xsSession)
	}
	ok := func(status int) bool { return status == 200 }
	return []boundCredential{
		{"SCIM /Me token", func() bool { st, _ := s.scimAs(me, "GET", "/scim/v2/Me", ""); return ok(st) }},
		{"Pterodactyl key", func() bool { st, _ := s.pteroAs(ptero, "GET", path, ""); return ok(st) }},
		{"Users API key", func() bool { st, _ := s.usersAPIAs(users, "GET", path, ""); return ok(st) }},
		{"Users API access token", func() bool { st, _ := s.usersAPIAs(access, "GET", path, ""); return ok(st) }},
		{"Users API refresh token", func() bool {
			st, _ := s.jsonReq("POST", "/api/auth/refresh", `{"refreshToken":"`+refresh+`"}`)
			return ok(st)
		}},
		{"XP-Dev key", func() bool { st, _ := s.xpdevAs(xp, "GET", "", ""); return ok(st) }},
		{"xyOps key", func() bool {
			_, m := s.jsonReq("GET", "/api/app/get_user_activity/v1", "", "X-API-Key", xy)
			return m["code"] == 0.0
		}},
		{"xyOps session", func() bool {
			_, m := s.jsonReq("GET", "/api/app/get_user_activity/v1", "", "Cookie", "session_id="+xySession)
			return m["code"] == 0.0
		}},
		{"XStudio session", func() bool {
			return s.xstudio(xsSession, "getUserDetails", url.Values{"userId": {fmt.Sprint(bob.Key)}})["result"] == "success"
		}},
	}
}

// Finding 1, third part, and "what to build" 2: after bob was deactivated
// over SCIM his token still worked, and /Me could set active: true again.
// Every credential bound to a user stops working on the next request after
// the user is deactivated, then deleted, in every door, despite the
// credential caches (SCIM tokens and Pterodactyl keys are cached 5 s).
func TestSecurityCredentialsStopWithTheirUser(t *testing.T) {
	s := startSec(t, false)
	const pw = "Bob-password-1"
	// An admin, so that every door's key works for him (the panel's keys
	// need an administrator).
	bob := s.scimUser("bob", pw, `[{"value":"admin"},{"value":"admin","type":"xyops.privilege"}]`)
	creds := s.bobsCredentials(bob, pw)
	for _, c := range creds {
		if !c.use() {
			t.Fatalf("%s does not work to begin with", c.door)
		}
	}
	me := s.meToken(bob)
	if status, m := s.scim("PATCH", "/scim/v2/Users/"+bob.ID, `{"schemas":["`+patchOpSchema+`"],
		"Operations":[{"op":"replace","value":{"active":false}}]}`); status != 200 {
		t.Fatalf("deactivate: %d %v", status, m)
	}
	for _, c := range creds {
		if c.use() {
			t.Errorf("%s works after its user was deactivated", c.door)
		}
	}
	if status, m := s.scimAs(me, "PATCH", "/scim/v2/Me", `{"schemas":["`+patchOpSchema+`"],
		"Operations":[{"op":"replace","path":"active","value":true}]}`); status != 401 {
		t.Errorf("the deactivated user's /Me token reactivates him: %d %v", status, m)
	}
	if s.stored("bob").Active {
		t.Fatal("bob is active again")
	}

	// Reactivated by his provisioner, with new credentials; then deleted.
	s.scim("PATCH", "/scim/v2/Users/"+bob.ID, `{"schemas":["`+patchOpSchema+`"],"Operations":[{"op":"replace","value":{"active":true}}]}`)
	creds = s.bobsCredentials(bob, pw)
	for _, c := range creds {
		if !c.use() {
			t.Fatalf("%s does not work after the reactivation", c.door)
		}
	}
	if status, m := s.scim("DELETE", "/scim/v2/Users/"+bob.ID, ""); status != 204 {
		t.Fatalf("delete: %d %v", status, m)
	}
	for _, c := range creds {
		if c.use() {
			t.Errorf("%s works after its user was deleted", c.door)
		}
	}
}
