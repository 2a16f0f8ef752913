package app_test

// The privilege model seen through every door (issue 11, findings 2, 3
// and 8; README, the privilege table): what a user may administer is one
// answer in every door, a door's own privilege field changes only what it
// means there, and the rules one door enforces (the owner cannot be
// demoted, deleted or taken over by a lesser admin; the built-in XStudio
// admin) hold in every door. No right follows from a user name. These run
// a real server on a real SQLite file and speak each door's wire format
// only, so that they also run against code from before the privilege
// model (which each of them fails).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/legacyapi/pterodactyl"
	"github.com/scimbridge/scimbridge/legacyapi/usersapi"
	"github.com/scimbridge/scimbridge/legacyapi/xpdev"
	"github.com/scimbridge/scimbridge/legacyapi/xyops"
	"github.com/scimbridge/scimbridge/store"
)

// sec is a running scimbridge seen by a client of each door, with an
// administrator ("boss") holding a key for every dialect.
type sec struct {
	t    *testing.T
	srv  *apptest.Server
	boss *store.User
	// boss's keys
	ptero, users, xp, xy string
}

// xstudioAdminPassword configures the built-in XStudio admin, for the
// tests that start one.
const xstudioAdminPassword = "Xs-Builtin-Admin-pw"

// startSec starts a server; withXStudioAdmin configures XStudio's
// built-in admin (admin_password).
func startSec(t *testing.T, withXStudioAdmin bool, configure ...func(*config.Config)) *sec {
	t.Helper()
	srv := apptest.Start(t, append([]func(*config.Config){func(c *config.Config) {
		if withXStudioAdmin {
			c.Legacy.XStudio.AdminPassword = xstudioAdminPassword
			c.Legacy.XStudio.AdminEmail = "xsadmin@example.com"
		}
	}}, configure...)...)
	s := &sec{t: t, srv: srv}
	// An administrator everywhere, in the forms every version reads: the
	// untyped role and xyOps' admin privilege.
	s.boss = s.scimUser("boss", "Boss-password-1", `[{"value":"admin"},{"value":"admin","type":"xyops.privilege"}]`)
	s.ptero = s.key(pterodactyl.Dialect, pterodactyl.NewKey, s.boss)
	s.users = s.key(usersapi.Dialect, usersapi.NewKey, s.boss)
	s.xp = s.key(xpdev.Dialect, xpdev.NewKey, s.boss)
	s.xy = s.key(xyops.Dialect, xyops.NewKey, s.boss)
	return s
}

// req sends a request and returns its status, its body decoded as a JSON
// object (nil when it is none) and the response (body read).
func (s *sec) req(method, path string, body io.Reader, headers ...string) (int, map[string]any, *http.Response) {
	s.t.Helper()
	r, err := http.NewRequest(method, s.srv.URL+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return res.StatusCode, m, res
}

func (s *sec) jsonReq(method, path, body string, headers ...string) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	status, m, _ := s.req(method, path, rd, append([]string{"Content-Type", "application/json"}, headers...)...)
	return status, m
}

// scim sends a SCIM request with the provisioning token.
func (s *sec) scim(method, path, body string) (int, map[string]any) {
	s.t.Helper()
	return s.scimAs(apptest.Token, method, path, body)
}

func (s *sec) scimAs(token, method, path, body string) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	status, m, _ := s.req(method, path, rd, "Authorization", "Bearer "+token, "Content-Type", "application/scim+json")
	return status, m
}

// scimUser provisions a user over SCIM (roles: a JSON array or "") and
// returns it as stored.
func (s *sec) scimUser(name, password, roles string) *store.User {
	s.t.Helper()
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + name + `","password":"` + password +
		`","emails":[{"value":"` + name + `@example.com","primary":true}]`
	if roles != "" {
		body += `,"roles":` + roles
	}
	status, m := s.scim("POST", "/scim/v2/Users", body+"}")
	if status != 201 {
		s.t.Fatalf("SCIM create %s: %d %v", name, status, m)
	}
	return s.stored(name)
}

func (s *sec) stored(name string) *store.User {
	s.t.Helper()
	u, err := s.srv.Store.GetUserByUserName(context.Background(), name)
	if err != nil {
		s.t.Fatalf("user %s: %v", name, err)
	}
	return u
}

func (s *sec) key(dialect string, newKey func() (string, int), u *store.User) string {
	s.t.Helper()
	token, n := newKey()
	if _, err := auth.IssueKey(context.Background(), s.srv.Store, store.Actor{Door: "test"}, dialect, token, n, u.Key,
		"security", []string{"read", "write"}); err != nil {
		s.t.Fatal(err)
	}
	return token
}

func (s *sec) pteroAs(key, method, path, body string) (int, map[string]any) {
	s.t.Helper()
	status, m := s.jsonReq(method, "/api/application/users"+path, body, "Authorization", "Bearer "+key, "Accept", "application/json")
	if a, ok := m["attributes"].(map[string]any); ok {
		return status, a
	}
	return status, m
}

func (s *sec) usersAPIAs(token, method, path, body string) (int, map[string]any) {
	s.t.Helper()
	status, m := s.jsonReq(method, "/api/users"+path, body, "Authorization", "Bearer "+token)
	if d, ok := m["data"].(map[string]any); ok {
		return status, d
	}
	return status, m
}

func (s *sec) xpdevAs(key, method, path, body string) (int, map[string]any) {
	s.t.Helper()
	return s.jsonReq(method, "/api/v1/user"+path, body, xpdev.TokenHeader, key)
}

// xyopsAs calls /api/user/<name> with an API key; xyOps answers 200 with a
// code.
func (s *sec) xyopsAs(key, name string, body map[string]any) map[string]any {
	s.t.Helper()
	b, _ := json.Marshal(body)
	_, m := s.jsonReq("POST", "/api/user/"+name, string(b), "X-API-Key", key)
	return m
}

// xstudioLogin authenticates to XStudio and returns the JSESSIONID ("" on
// failure).
func (s *sec) xstudioLogin(name, password string) string {
	s.t.Helper()
	_, m, res := s.req("POST", "/xqual/api?command=authenticate", strings.NewReader(url.Values{
		"username": {name}, "password": {password}}.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	if m["result"] != "success" {
		return ""
	}
	return cookieOf(res, "JSESSIONID")
}

// xstudio sends a command with form values (urlencoded).
func (s *sec) xstudio(session, command string, form url.Values) map[string]any {
	s.t.Helper()
	_, m, _ := s.req("POST", "/xqual/api?command="+command, strings.NewReader(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded", "Cookie", "JSESSIONID="+session)
	return m
}

// xstudioForm sends a command with a multipart form, one part per field.
func (s *sec) xstudioForm(session, command string, fields map[string]string) map[string]any {
	s.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	mw.Close()
	_, m, _ := s.req("POST", "/xqual/api?command="+command, &buf, "Content-Type", mw.FormDataContentType(),
		"Cookie", "JSESSIONID="+session)
	return m
}

// xstudioRights is what getUserActionRights says the session may do, as
// "module:right" strings.
func (s *sec) xstudioRights(session string) []string {
	s.t.Helper()
	m := s.xstudio(session, "getUserActionRights", nil)
	var out []string
	list, _ := m["rights"].([]any)
	for _, e := range list {
		mod := e.(map[string]any)
		rights, _ := mod["rights"].([]any)
		for _, r := range rights {
			out = append(out, fmt.Sprint(mod["module"], ":", r))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// view is how the doors show a user's privilege, read by boss (and, for
// XStudio, by the user's own session).
type view struct {
	rootAdmin     bool     // Pterodactyl root_admin
	usersRole     string   // Users API role
	userRole      string   // XP-Dev userRole
	xyopsAdmin    bool     // xyOps privileges.admin
	xyopsPrivs    []string // every xyOps privilege
	xstudioRights []string // XStudio getUserActionRights
}

func (s *sec) view(u *store.User, password string) view {
	s.t.Helper()
	var v view
	path := fmt.Sprintf("/%d", u.Key)
	if status, a := s.pteroAs(s.ptero, "GET", path, ""); status == 200 {
		v.rootAdmin = a["root_admin"] == true
	} else {
		s.t.Fatalf("pterodactyl GET %s: %d %v", path, status, a)
	}
	if status, d := s.usersAPIAs(s.users, "GET", path, ""); status == 200 {
		v.usersRole = fmt.Sprint(d["role"])
	} else {
		s.t.Fatalf("users API GET %s: %d %v", path, status, d)
	}
	if status, x := s.xpdevAs(s.xp, "GET", path, ""); status == 200 {
		v.userRole = fmt.Sprint(x["userRole"])
	} else {
		s.t.Fatalf("XP-Dev GET %s: %d %v", path, status, x)
	}
	m := s.xyopsAs(s.xy, "admin_get_user", map[string]any{"username": u.UserName})
	rec, ok := m["user"].(map[string]any)
	if !ok {
		s.t.Fatalf("xyOps admin_get_user %s: %v", u.UserName, m)
	}
	privs, _ := rec["privileges"].(map[string]any)
	for p := range privs {
		v.xyopsPrivs = append(v.xyopsPrivs, p)
	}
	slices.Sort(v.xyopsPrivs)
	v.xyopsAdmin = privs["admin"] != nil
	if sess := s.xstudioLogin(u.UserName, password); sess != "" {
		v.xstudioRights = s.xstudioRights(sess)
	} else {
		s.t.Fatalf("XStudio login %s failed", u.UserName)
	}
	return v
}

var (
	allXStudioRights  = []string{"profiles:create", "profiles:edit", "profiles:read", "teams:create", "teams:read", "users:create", "users:delete", "users:edit", "users:read"}
	readXStudioRights = []string{"profiles:read", "teams:read", "users:read"}
)

// wantView compares the privilege a user shows in every door.
func wantView(t *testing.T, who string, got view, rootAdmin bool, usersRole, userRole string, xyopsAdmin bool, xstudio []string) {
	t.Helper()
	if got.rootAdmin != rootAdmin || got.usersRole != usersRole || got.userRole != userRole || got.xyopsAdmin != xyopsAdmin ||
		!slices.Equal(got.xstudioRights, xstudio) {
		t.Errorf("%s: root_admin %v, Users API role %q, XP-Dev userRole %q, xyOps admin %v, XStudio rights %v;\n"+
			"want %v, %q, %q, %v, %v", who, got.rootAdmin, got.usersRole, got.userRole, got.xyopsAdmin, got.xstudioRights,
			rootAdmin, usersRole, userRole, xyopsAdmin, xstudio)
	}
}

// TestSecurityPrivilegeTable: each row of README's privilege table, set
// through the door the row names, reads the same through every door.
func TestSecurityPrivilegeTable(t *testing.T) {
	s := startSec(t, false)
	const pw = "Subject-password-1"
	t.Run("SCIM typed role admin is an admin in every door", func(t *testing.T) {
		u := s.scimUser("typed-admin", pw, `[{"type":"scimbridge","value":"admin"}]`)
		wantView(t, u.UserName, s.view(u, pw), true, "admin", "Administrator", true, allXStudioRights)
		// The Users API's role filter reads the privilege as roleOf does.
		for role, want := range map[string]string{"admin": "[typed-admin]", "user": "[]", "moderator": "[]"} {
			_, d := s.usersAPIAs(s.users, "GET", "?search=typed-admin&role="+role, "")
			var names []string
			users, _ := d["users"].([]any)
			for _, u := range users {
				names = append(names, fmt.Sprint(u.(map[string]any)["username"]))
			}
			if got := fmt.Sprint(names); got != want {
				t.Errorf("Users API ?role=%s: %v, want %s", role, got, want)
			}
		}
	})
	t.Run("SCIM moderator is a read-only administrator in every door", func(t *testing.T) {
		u := s.scimUser("typed-moderator", pw, `[{"type":"scimbridge","value":"moderator"}]`)
		wantView(t, u.UserName, s.view(u, pw), false, "moderator", "User", false, readXStudioRights)
	})
	t.Run("a role of another type grants nothing", func(t *testing.T) {
		u := s.scimUser("idp-admin", pw, `[{"type":"WindowsAzureActiveDirectoryRole","value":"Admin"},{"type":"xstudio.profile","value":"admin"}]`)
		wantView(t, u.UserName, s.view(u, pw), false, "user", "User", false, nil)
	})
	t.Run("Pterodactyl root_admin makes an admin in every door", func(t *testing.T) {
		status, a := s.pteroAs(s.ptero, "POST", "", `{"username":"panel-admin","email":"panel-admin@example.com","first_name":"P",
			"last_name":"A","root_admin":true,"password":"`+pw+`"}`)
		if status != 201 {
			t.Fatalf("create: %d %v", status, a)
		}
		wantView(t, "panel-admin", s.view(s.stored("panel-admin"), pw), true, "admin", "Administrator", true, allXStudioRights)
	})
	t.Run("Users API moderator is a moderator in every door", func(t *testing.T) {
		status, d := s.usersAPIAs(s.users, "POST", "", `{"name":"Mo Derator","email":"mod@example.com","username":"mod","password":"`+pw+`","role":"moderator"}`)
		if status != 201 {
			t.Fatalf("create: %d %v", status, d)
		}
		wantView(t, "mod", s.view(s.stored("mod"), pw), false, "moderator", "User", false, readXStudioRights)
	})
	t.Run("XP-Dev Administrator is an admin in every door", func(t *testing.T) {
		status, x := s.xpdevAs(s.xp, "POST", "", `{"username":"xp-admin","email":"xp-admin@example.com","password":"`+pw+`","userRole":"Administrator"}`)
		if status != 200 {
			t.Fatalf("create: %d %v", status, x)
		}
		wantView(t, "xp-admin", s.view(s.stored("xp-admin"), pw), true, "admin", "Administrator", true, allXStudioRights)
	})
	t.Run("xyOps admin privilege makes an admin in every door", func(t *testing.T) {
		m := s.xyopsAs(s.xy, "admin_create", map[string]any{"username": "xy-admin", "email": "xy-admin@example.com",
			"full_name": "Xy Admin", "password": pw, "privileges": map[string]any{"admin": 1, "run_jobs": 1}})
		if m["code"] != 0.0 {
			t.Fatalf("create: %v", m)
		}
		got := s.view(s.stored("xy-admin"), pw)
		wantView(t, "xy-admin", got, true, "admin", "Administrator", true, allXStudioRights)
		if !slices.Equal(got.xyopsPrivs, []string{"admin", "run_jobs"}) {
			t.Errorf("xyOps privileges %v", got.xyopsPrivs)
		}
	})
	t.Run("the owner is Owner in XP-Dev, an admin elsewhere and XStudio's admin", func(t *testing.T) {
		u := s.scimUser("olivia", pw, `[{"type":"scimbridge","value":"owner"}]`)
		wantView(t, u.UserName, s.view(u, pw), true, "admin", "Owner", true, allXStudioRights)
		// XStudio knows the top account as "admin", and it logs in so.
		sess := s.xstudioLogin("admin", pw)
		if sess == "" {
			t.Fatal(`the owner cannot log in to XStudio as "admin"`)
		}
		m := s.xstudio(sess, "getUserDetails", url.Values{"userId": {fmt.Sprint(u.Key)}})
		if d, _ := m["user"].(map[string]any); d == nil || d["name"] != "admin" {
			t.Errorf("XStudio details of the owner: %v", m)
		}
	})
	t.Run("writing a field back unchanged keeps the owner an owner", func(t *testing.T) {
		u := s.scimUser("owen", pw, `[{"type":"scimbridge","value":"owner"}]`)
		ownerPtero := s.key(pterodactyl.Dialect, pterodactyl.NewKey, u)
		ownerUsers := s.key(usersapi.Dialect, usersapi.NewKey, u)
		path := fmt.Sprintf("/%d", u.Key)
		if status, a := s.pteroAs(ownerPtero, "PATCH", path, `{"username":"owen","email":"owen@example.com","first_name":"O",
			"last_name":"W","root_admin":true}`); status != 200 {
			t.Fatalf("panel write-back: %d %v", status, a)
		}
		if status, d := s.usersAPIAs(ownerUsers, "PUT", path, `{"role":"admin"}`); status != 200 {
			t.Fatalf("Users API write-back: %d %v", status, d)
		}
		if status, x := s.xpdevAs(s.xp, "GET", path, ""); status != 200 || x["userRole"] != "Owner" {
			t.Fatalf("after the write-backs: %d %v", status, x)
		}
	})
}

// Finding 2: no right follows from a user name. A Users API admin renamed
// a user without rights to "Admin" and its live XStudio session got every
// right; a user created through XP-Dev as "admin" (userRole User) got them
// too. The name is reserved for the owner through every door.
func TestSecurityNoRightFollowsFromAName(t *testing.T) {
	s := startSec(t, false)
	carl := s.scimUser("carl", "Carl-password-1", "")
	sess := s.xstudioLogin("carl", "Carl-password-1")
	if got := s.xstudioRights(sess); len(got) != 0 {
		t.Fatalf("carl's rights before: %v", got)
	}
	path := fmt.Sprintf("/%d", carl.Key)
	if status, d := s.usersAPIAs(s.users, "PUT", path, `{"username":"Admin"}`); status != 409 {
		t.Errorf("Users API rename to Admin: %d %v", status, d)
	}
	if got := s.xstudioRights(sess); len(got) != 0 {
		t.Errorf("carl's live XStudio session after the rename: %v", got)
	}
	if status, x := s.xpdevAs(s.xp, "POST", "", `{"username":"admin","email":"fake-admin@example.com","password":"Fake-admin-pw1","userRole":"User"}`); status != 409 {
		t.Errorf("XP-Dev create admin: %d %v", status, x)
	}
	if sess := s.xstudioLogin("admin", "Fake-admin-pw1"); sess != "" {
		t.Errorf("XStudio login as the XP-Dev-made admin: rights %v", s.xstudioRights(sess))
	}
	// Every other door refuses the name as taken, too.
	if status, m := s.scim("PATCH", "/scim/v2/Users/"+carl.ID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"replace","path":"userName","value":"admin"}]}`); status != 409 {
		t.Errorf("SCIM rename to admin: %d %v", status, m)
	}
	if status, a := s.pteroAs(s.ptero, "PATCH", path, `{"username":"admin","email":"carl@example.com","first_name":"C","last_name":"C"}`); status != 422 {
		t.Errorf("Pterodactyl rename to admin: %d %v", status, a)
	}
	if m := s.xyopsAs(s.xy, "admin_update", map[string]any{"username": "carl", "full_name": "Carl"}); m["code"] != 0.0 {
		t.Errorf("xyOps update: %v", m)
	}
	if u := s.stored("carl"); u.UserName != "carl" {
		t.Errorf("carl renamed to %q", u.UserName)
	}
}

// Finding 3: an XStudio user with only "users: read, edit" changed the
// built-in admin's password with updateUserDetails and logged in as admin.
// The built-in admin's password is changed only by that admin or an owner.
func TestSecurityBuiltinAdminPassword(t *testing.T) {
	s := startSec(t, true)
	admin := s.xstudioLogin("admin", xstudioAdminPassword)
	if admin == "" {
		t.Fatal("built-in admin cannot log in")
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("rights", `[{"module":"users","rights":["read","edit"]}]`)
	mw.Close()
	_, created, _ := s.req("POST", "/xqual/api?command=createProfile&profileName=editors", &buf,
		"Content-Type", mw.FormDataContentType(), "Cookie", "JSESSIONID="+admin)
	if created["result"] != "success" {
		t.Fatalf("createProfile: %v", created)
	}
	profileID := fmt.Sprint(created["profileId"])
	if m := s.xstudioForm(admin, "createUser", map[string]string{"name": "eve", "password": "Eve-password-1", "profileId": profileID}); m["result"] != "success" {
		t.Fatalf("createUser eve: %v", m)
	}
	eve := s.xstudioLogin("eve", "Eve-password-1")
	builtin := s.stored("admin")
	if m := s.xstudioForm(eve, "updateUserDetails", map[string]string{"id": fmt.Sprint(builtin.Key), "password": "Pwned-by-eve-1"}); m["result"] != "failure" || m["message"] != "insufficient rights" {
		t.Errorf("eve sets the built-in admin's password: %v", m)
	}
	if s.xstudioLogin("admin", "Pwned-by-eve-1") != "" {
		t.Fatal("eve logged in as the built-in admin")
	}
	// Nor through another door, by an admin who is no owner.
	if status, d := s.usersAPIAs(s.users, "POST", fmt.Sprintf("/%d/reset-password", builtin.Key), `{}`); status != 403 {
		t.Errorf("Users API admin resets the built-in admin's password: %d %v", status, d)
	}
	if status, a := s.pteroAs(s.ptero, "PATCH", fmt.Sprintf("/%d", builtin.Key), `{"username":"admin","email":"`+builtin.PrimaryEmail()+`",
		"first_name":"A","last_name":"B","password":"Pwned-by-boss-1"}`); status != 403 {
		t.Errorf("Pterodactyl admin sets the built-in admin's password: %d %v", status, a)
	}
	if m := s.xyopsAs(s.xy, "admin_update", map[string]any{"username": "admin", "new_password": "Pwned-by-boss-2"}); m["code"] != "access" {
		t.Errorf("xyOps admin sets the built-in admin's password: %v", m)
	}
	if s.xstudioLogin("admin", xstudioAdminPassword) == "" {
		t.Fatal("the built-in admin's password changed")
	}
	// The admin itself may, and so may another owner.
	if m := s.xstudioForm(admin, "updateUserDetails", map[string]string{"id": fmt.Sprint(builtin.Key), "password": "Admin-new-pw-1"}); m["result"] != "success" {
		t.Errorf("the admin changes its own password: %v", m)
	}
	s.scimUser("olivia", "Olivia-password-1", `[{"type":"scimbridge","value":"owner"}]`)
	olivia := s.xstudioLogin("olivia", "Olivia-password-1")
	if m := s.xstudioForm(olivia, "updateUserDetails", map[string]string{"id": fmt.Sprint(builtin.Key), "password": "Admin-new-pw-2"}); m["result"] != "success" {
		t.Errorf("an owner changes the built-in admin's password: %v", m)
	}
	if s.xstudioLogin("admin", "Admin-new-pw-2") == "" {
		t.Error("the owner's change did not take")
	}
}

// Finding 8a: toggling Pterodactyl root_admin off and on removed a user's
// xyOps privilege. root_admin changes only what it means.
func TestSecurityRootAdminToggleKeepsXyOpsPrivileges(t *testing.T) {
	s := startSec(t, false)
	const pw = "Ops-password-1"
	if m := s.xyopsAs(s.xy, "admin_create", map[string]any{"username": "ops", "email": "ops@example.com", "full_name": "Op S",
		"password": pw, "privileges": map[string]any{"admin": 1, "run_jobs": 1}}); m["code"] != 0.0 {
		t.Fatalf("create: %v", m)
	}
	ops := s.stored("ops")
	before := s.view(ops, pw)
	path := fmt.Sprintf("/%d", ops.Key)
	for _, on := range []bool{false, true} {
		if status, a := s.pteroAs(s.ptero, "PATCH", path, fmt.Sprintf(`{"username":"ops","email":"ops@example.com",
			"first_name":"Op","last_name":"S","root_admin":%v}`, on)); status != 200 || a["root_admin"] != on {
			t.Fatalf("root_admin %v: %d %v", on, status, a)
		}
	}
	after := s.view(ops, pw)
	if !slices.Equal(after.xyopsPrivs, before.xyopsPrivs) || !slices.Equal(after.xyopsPrivs, []string{"admin", "run_jobs"}) {
		t.Errorf("xyOps privileges %v before, %v after root_admin off and on", before.xyopsPrivs, after.xyopsPrivs)
	}
	wantView(t, "ops after the toggle", after, true, "admin", "Administrator", true, allXStudioRights)
	// Off alone takes away the admin privilege (what root_admin means)
	// and nothing else.
	s.pteroAs(s.ptero, "PATCH", path, `{"username":"ops","email":"ops@example.com","first_name":"Op","last_name":"S","root_admin":false}`)
	if got := s.view(ops, pw); !slices.Equal(got.xyopsPrivs, []string{"run_jobs"}) || got.usersRole != "user" {
		t.Errorf("after root_admin off: xyOps %v, Users API %q", got.xyopsPrivs, got.usersRole)
	}
}

// Finding 8b: xyOps free-form roles ["owner"] made a user XP-Dev Owner and
// Pterodactyl root admin. Free-form roles are not privileges.
func TestSecurityFreeFormRolesAreNoPrivileges(t *testing.T) {
	s := startSec(t, false)
	const pw = "Roles-password-1"
	if m := s.xyopsAs(s.xy, "admin_create", map[string]any{"username": "rolf", "email": "rolf@example.com", "full_name": "Rolf",
		"password": pw, "roles": []string{"owner", "admin", "moderator"}}); m["code"] != 0.0 {
		t.Fatalf("create: %v", m)
	}
	wantView(t, "rolf", s.view(s.stored("rolf"), pw), false, "user", "User", false, nil)
}

// Finding 8c: a Users API admin demoted an XP-Dev Owner, which XP-Dev
// forbids. The owner is demoted, deleted, deactivated and has its password
// set only by an owner, through every door.
func TestSecurityOwnerRulesHoldInEveryDoor(t *testing.T) {
	s := startSec(t, true)
	const pw = "Owner-password-1"
	owner := s.scimUser("olivia", pw, `[{"value":"owner"}]`)
	path := fmt.Sprintf("/%d", owner.Key)
	isOwner := func(when string) {
		t.Helper()
		if status, x := s.xpdevAs(s.xp, "GET", path, ""); status != 200 || x["userRole"] != "Owner" {
			t.Fatalf("%s: XP-Dev shows %d %v", when, status, x)
		}
		if u := s.stored("olivia"); !u.Active {
			t.Fatalf("%s: the owner is deactivated", when)
		}
	}
	isOwner("created")

	// Demotion.
	if status, d := s.usersAPIAs(s.users, "PUT", path, `{"role":"user"}`); status != 403 {
		t.Errorf("Users API admin demotes the owner: %d %v", status, d)
	}
	isOwner("after Users API role user")
	if status, d := s.usersAPIAs(s.users, "PUT", path, `{"role":"moderator"}`); status != 403 {
		t.Errorf("Users API admin makes the owner a moderator: %d %v", status, d)
	}
	if status, a := s.pteroAs(s.ptero, "PATCH", path, `{"username":"olivia","email":"olivia@example.com","first_name":"O","last_name":"L","root_admin":false}`); status != 403 {
		t.Errorf("Pterodactyl admin sets the owner's root_admin false: %d %v", status, a)
	}
	if m := s.xyopsAs(s.xy, "admin_update", map[string]any{"username": "olivia", "privileges": map[string]any{}}); m["code"] != "access" {
		t.Errorf("xyOps admin takes the owner's admin privilege: %v", m)
	}
	isOwner("after the demotions")

	// Deactivation and the password.
	if status, d := s.usersAPIAs(s.users, "PATCH", path+"/status", `{"status":"inactive"}`); status != 403 {
		t.Errorf("Users API admin deactivates the owner: %d %v", status, d)
	}
	if m := s.xyopsAs(s.xy, "admin_update", map[string]any{"username": "olivia", "active": 0}); m["code"] != "access" {
		t.Errorf("xyOps admin deactivates the owner: %v", m)
	}
	if status, d := s.usersAPIAs(s.users, "POST", path+"/reset-password", `{}`); status != 403 {
		t.Errorf("Users API admin resets the owner's password: %d %v", status, d)
	}
	isOwner("after the deactivations")
	if s.xstudioLogin("olivia", pw) == "" {
		t.Fatal("the owner's password changed")
	}

	// Deletion.
	if status, d := s.usersAPIAs(s.users, "DELETE", path, ""); status != 403 {
		t.Errorf("Users API admin deletes the owner: %d %v", status, d)
	}
	if status, a := s.pteroAs(s.ptero, "DELETE", path, ""); status != 403 {
		t.Errorf("Pterodactyl admin deletes the owner: %d %v", status, a)
	}
	if m := s.xyopsAs(s.xy, "admin_delete", map[string]any{"username": "olivia"}); m["code"] != "access" {
		t.Errorf("xyOps admin deletes the owner: %v", m)
	}
	if status, x := s.xpdevAs(s.xp, "DELETE", path, ""); status != 403 {
		t.Errorf("XP-Dev admin deletes the owner: %d %v", status, x)
	}
	// An admin with every XStudio right is still no owner.
	boss := s.xstudioLogin("boss", "Boss-password-1")
	if m := s.xstudio(boss, "deleteUsers", url.Values{"userIds": {fmt.Sprint(owner.Key)}}); m["result"] != "failure" {
		t.Errorf("XStudio admin deletes the owner: %v", m)
	}
	isOwner("after the deletions")

	// An admin still administers admins and users, and may not make an
	// owner.
	carl := s.scimUser("carl", "Carl-password-1", `[{"value":"admin"}]`)
	if status, d := s.usersAPIAs(s.users, "PUT", fmt.Sprintf("/%d", carl.Key), `{"role":"user"}`); status != 200 || d["role"] != "user" {
		t.Errorf("Users API admin demotes an admin: %d %v", status, d)
	}
	if status, x := s.xpdevAs(s.xp, "POST", "", `{"username":"owner2","email":"owner2@example.com","userRole":"Owner"}`); status != 403 {
		t.Errorf("XP-Dev admin makes an owner: %d %v", status, x)
	}
}
