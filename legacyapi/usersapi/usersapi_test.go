package usersapi

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

const (
	body401none = `{"success":false,"error":"No token provided","message":"No token provided"}`
	body401bad  = `{"success":false,"error":"Invalid or expired token","message":"Invalid or expired token"}`
	body403     = `{"success":false,"error":"Insufficient permissions","message":"Insufficient permissions"}`
	body404     = `{"success":false,"error":"User not found","message":"User not found"}`
)

func TestNewKeyFormat(t *testing.T) {
	k, n := NewKey()
	if n != 12 || !regexp.MustCompile(`^uak_[A-Za-z0-9]{43}$`).MatchString(k) {
		t.Fatalf("key %q %d", k, n)
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, Config{})
	e.do("GET", "/api/users", "", "").expect(t, 401, body401none)
	e.do("GET", "/api/users", "uak_wrong", "").expect(t, 401, body401bad)
	e.do("GET", "/api/users", "uat_wrong", "").expect(t, 401, body401bad)
	// A read-only key cannot write; a plain user cannot list.
	e.do("POST", "/api/users", e.ro, `{}`).expect(t, 403, body403)
	e.do("GET", "/api/users", e.userKey, "").expect(t, 403, body403)
	e.do("GET", "/api/users", e.ro, "").expect(t, 200, "")

	// Login: validation, wrong password, success, by e-mail too.
	e.do("POST", "/api/auth/login", "", `{}`).expect(t, 422,
		`{"success":false,"error":"Validation failed","message":"Validation failed","details":{"password":"Password is required","username":"Username is required"},"errors":["Password is required","Username is required"]}`)
	e.do("POST", "/api/auth/login", "", `{"username":"ada","password":"nope"}`).expect(t, 401,
		`{"success":false,"error":"Invalid credentials","message":"Invalid credentials"}`)
	e.do("POST", "/api/auth/login", "", `{"username":"ghost","password":"nope"}`).expect(t, 401, "")
	e.do("POST", "/api/auth/login", "", `{"username":`).expect(t, 400,
		`{"success":false,"error":"Invalid JSON body","message":"Invalid JSON body"}`)
	res := e.do("POST", "/api/auth/login", "", `{"username":"ADMIN@example.com","password":"`+adminPW+`"}`).expect(t, 200, "")
	d := res.data(t)
	access, refresh := d["accessToken"].(string), d["refreshToken"].(string)
	if !strings.HasPrefix(access, "uat_") || !strings.HasPrefix(refresh, "uar_") || d["expiresIn"] != 900.0 ||
		res.json(t)["message"] != "Login successful" {
		t.Fatalf("login %s", res.body)
	}
	if u := d["user"].(map[string]any); u["id"] != float64(e.admin.Key) || u["lastLoginAt"] == nil || u["role"] != "admin" {
		t.Fatalf("login user %v", u)
	}
	me := e.do("GET", fmt.Sprintf("/api/users/%d", e.admin.Key), access, "").expect(t, 200, "").data(t)
	if me["lastLoginAt"] == nil || me["lastLoginAt"] != me["lastLogin"] {
		t.Fatalf("last login not shown: %v", me)
	}
	// Only hashes are stored.
	creds, _ := e.st.ListCredentials(context.Background(), SessionKind)
	if len(creds) != 1 || creds[0].SecretHash != auth.HashToken(access) || strings.Contains(creds[0].SecretHash, access) {
		t.Fatalf("stored sessions %+v", creds)
	}

	// Refresh gives a new access token; logout revokes one.
	e.do("POST", "/api/auth/refresh", "", `{"refreshToken":"uar_nope"}`).expect(t, 401, "")
	fresh := e.do("POST", "/api/auth/refresh", "", `{"refreshToken":"`+refresh+`"}`).expect(t, 200, "").data(t)["accessToken"].(string)
	e.do("POST", "/api/auth/logout", access, "").expect(t, 200, `{"message":"Logout successful","success":true}`)
	e.do("GET", "/api/users", access, "").expect(t, 401, body401bad)
	e.do("GET", "/api/users", fresh, "").expect(t, 200, "")
	// Logging out with the refresh token revokes it too.
	e.do("POST", "/api/auth/logout", fresh, `{"refreshToken":"`+refresh+`"}`).expect(t, 200, "")
	e.do("POST", "/api/auth/refresh", "", `{"refreshToken":"`+refresh+`"}`).expect(t, 401,
		`{"success":false,"error":"Invalid or expired refresh token","message":"Invalid or expired refresh token"}`)

	// A deactivated user's tokens stop working and it cannot log in.
	e.do("PATCH", fmt.Sprintf("/api/users/%d/status", e.user.Key), e.adminKey, `{"status":"suspended"}`).expect(t, 200, "")
	e.do("GET", fmt.Sprintf("/api/users/%d", e.user.Key), e.userKey, "").expect(t, 401, body401bad)
	e.do("POST", "/api/auth/login", "", `{"username":"user","password":"`+userPW+`"}`).expect(t, 403,
		`{"success":false,"error":"Account is inactive","message":"Account is inactive"}`)
}

func TestTokenExpiry(t *testing.T) {
	e := newEnv(t, Config{TokenTTL: time.Minute})
	tok := e.login("ada", adminPW)
	e.do("GET", "/api/users", tok, "").expect(t, 200, "")
	e.advance(61 * time.Second)
	e.do("GET", "/api/users", tok, "").expect(t, 401, body401bad)
	// A later login prunes expired access tokens (auth.Sessions.Start).
	if creds, _ := e.st.ListCredentials(context.Background(), SessionKind); len(creds) != 1 {
		t.Fatalf("%d sessions before the next login", len(creds))
	}
	e.login("ada", adminPW)
	creds, _ := e.st.ListCredentials(context.Background(), SessionKind)
	if len(creds) != 1 || !creds[0].Expires.After(time.Now().Add(61*time.Second)) {
		t.Fatalf("sessions after the next login: %+v", creds)
	}
}

func TestDirectoryLogin(t *testing.T) {
	e := newEnv(t, Config{})
	synced := storetest.CreateUser(t, e.st, &store.User{UserName: "dora", Active: true,
		Source: store.Source{Name: "corp", ID: "u-1", DN: "uid=dora,ou=people,dc=example"}})
	e.dir.passwords["uid=dora,ou=people,dc=example"] = "dir-secret"
	tok := e.login("dora", "dir-secret")
	e.do("GET", fmt.Sprintf("/api/users/%d", synced.Key), tok, "").expect(t, 200, "")
	e.do("POST", "/api/auth/login", "", `{"username":"dora","password":"wrong"}`).expect(t, 401, "")
	// Its password is the directory's: no change, no reset here.
	e.do("PUT", fmt.Sprintf("/api/users/%d/password", synced.Key), tok,
		`{"currentPassword":"dir-secret","newPassword":"new-password","confirmPassword":"new-password"}`).expect(t, 422, "")
	e.do("POST", fmt.Sprintf("/api/users/%d/reset-password", synced.Key), e.adminKey, `{}`).expect(t, 422, "")
	u, _ := e.st.GetUserByKey(context.Background(), synced.Key)
	if u.PasswordHash != "" {
		t.Fatal("a directory password was copied")
	}
	e.dir.down = true
	e.do("POST", "/api/auth/login", "", `{"username":"dora","password":"dir-secret"}`).expect(t, 503,
		`{"success":false,"error":"Authentication service unavailable","message":"Authentication service unavailable"}`)
}

func TestCreateAndRead(t *testing.T) {
	e := newEnv(t, Config{})
	res := e.do("POST", "/api/users", e.adminKey, `{"name":"Jane Doe","email":"jane@example.com","password":"password123","role":"user","active":true}`)
	res.expect(t, 201, "")
	if res.json(t)["message"] != "User created successfully" {
		t.Fatalf("create %s", res.body)
	}
	d := res.data(t)
	for k, want := range map[string]any{"name": "Jane Doe", "email": "jane@example.com", "role": "user", "active": true,
		"lastLoginAt": nil, "username": "jane@example.com", "fullName": "Jane Doe", "status": "active", "lastLogin": nil} {
		if d[k] != want {
			t.Fatalf("%s = %v, want %v in %s", k, d[k], want, res.body)
		}
	}
	tsRE := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	if !tsRE.MatchString(d["createdAt"].(string)) || !tsRE.MatchString(d["updatedAt"].(string)) {
		t.Fatalf("timestamps %v", d)
	}
	// The documented keys come first, in the documented order.
	if !strings.HasPrefix(string(res.body), `{"data":{"id":`) || !strings.Contains(string(res.body),
		`"name":"Jane Doe","email":"jane@example.com","role":"user","active":true,"lastLoginAt":null,"createdAt":`) {
		t.Fatalf("shape %s", res.body)
	}
	id := int64(d["id"].(float64))
	u, _ := e.st.GetUserByKey(context.Background(), id)
	if ok, _ := auth.CheckPassword(u.PasswordHash, "password123"); !ok || u.Name.GivenName != "Jane" || u.Name.FamilyName != "Doe" || u.DisplayName != "Jane Doe" {
		t.Fatalf("stored %+v", u)
	}
	// The new user logs in with its password.
	e.login("jane@example.com", "password123")

	// Aliases of the real product: fullName, username, status, role viewer.
	res = e.do("POST", "/api/users", e.adminKey, `{"fullName":"Mo Der","username":"moder","email":"mo@example.com","password":"password123","role":"moderator","status":"inactive","timezone":"Europe/Berlin","language":"de","phone":"+49 1"}`)
	d = res.expect(t, 201, "").data(t)
	if d["username"] != "moder" || d["role"] != "moderator" || d["active"] != false || d["status"] != "inactive" ||
		d["timezone"] != "Europe/Berlin" || d["language"] != "de" || d["phone"] != "+49 1" {
		t.Fatalf("aliases %s", res.body)
	}

	// Validation: one message per field, 422 with details.
	e.do("POST", "/api/users", e.adminKey, `{"email":"bad","password":"short","role":"root","active":"yes","timezone":"Mars/Base"}`).expect(t, 422,
		`{"success":false,"error":"Validation failed","message":"Validation failed","details":{"active":"Active must be a boolean","email":"Invalid email format","name":"Name is required","password":"Password must be at least 8 characters","role":"Role must be one of: admin, user","timezone":"Timezone must be an IANA time zone name"},"errors":["Active must be a boolean","Invalid email format","Name is required","Password must be at least 8 characters","Role must be one of: admin, user","Timezone must be an IANA time zone name"]}`)
	e.do("POST", "/api/users", e.adminKey, `{"name":5,"email":"   ","password":12345678}`).expect(t, 422,
		`{"success":false,"error":"Validation failed","message":"Validation failed","details":{"email":"Email must be a non-empty string","name":"Name must be a non-empty string","password":"Password must be a string"},"errors":["Email must be a non-empty string","Name must be a non-empty string","Password must be a string"]}`)
	// Duplicates (e-mail compared case-insensitively; also another user's secondary address).
	e.do("POST", "/api/users", e.adminKey, `{"name":"X","email":"JANE@example.com","password":"password123"}`).expect(t, 409,
		`{"success":false,"error":"Email already exists","message":"Email already exists"}`)
	e.do("POST", "/api/users", e.adminKey, `{"name":"X","username":"Admin","email":"x@example.com","password":"password123"}`).expect(t, 409,
		`{"success":false,"error":"Username already exists","message":"Username already exists"}`)
	// Only administrators create; bodies are limited and must be JSON.
	e.do("POST", "/api/users", e.userKey, `{"name":"X","email":"y@example.com","password":"password123"}`).expect(t, 403, body403)
	e.do("POST", "/api/users", e.adminKey, `{"name":"X",`).expect(t, 400, "")
	e.do("POST", "/api/users", e.adminKey, `{"name":"`+strings.Repeat("x", 5000)+`"}`).expect(t, 413,
		`{"success":false,"error":"Request body too large","message":"Request body too large"}`)
	if p, _ := e.st.ListUsers(context.Background(), store.Query{Limit: 1}); p.Total != 5 {
		t.Fatalf("%d users, want 5", p.Total)
	}

	// Reads: self, admin, moderator; not another user.
	e.do("GET", fmt.Sprintf("/api/users/%d", e.user.Key), e.userKey, "").expect(t, 200, "")
	e.do("GET", fmt.Sprintf("/api/users/%d", e.admin.Key), e.userKey, "").expect(t, 403, body403)
	e.do("GET", fmt.Sprintf("/api/users/%d", e.user.Key), e.key(e.mod, "read"), "").expect(t, 200, "")
	e.do("GET", "/api/users/99999", e.adminKey, "").expect(t, 404, body404)
	e.do("GET", "/api/users/abc", e.adminKey, "").expect(t, 404, body404)
	e.do("GET", "/api/users/1/nothing", e.adminKey, "").expect(t, 404,
		`{"success":false,"error":"Route /api/users/1/nothing not found","message":"Route /api/users/1/nothing not found"}`)
	e.do("PATCH", "/api/users/1", e.adminKey, "").expect(t, 404, "")
	// A user made elsewhere (only given/family name, no e-mail) reads naturally.
	got := e.do("GET", fmt.Sprintf("/api/users/%d", e.user.Key), e.adminKey, "").data(t)
	if got["name"] != "Ursula User" || got["email"] != "user@example.com" || got["role"] != "user" ||
		got["profile"] != nil || got["twoFactor"] != nil || len(got) != 18 {
		t.Fatalf("user %v", got)
	}
}

// TestUserNameConflicts: the store keeps userName unique and the dialect
// words its conflict. A user named by an e-mail address that is none of
// its addresses (as SCIM often names them) is only caught by the store.
func TestUserNameConflicts(t *testing.T) {
	e := newEnv(t, Config{})
	storetest.CreateUser(t, e.st, &store.User{UserName: "Named@Example.com", Active: true})
	count := func() int {
		p, _ := e.st.ListUsers(context.Background(), store.Query{Limit: 1})
		return p.Total
	}
	before := count()
	emailExists := `{"success":false,"error":"Email already exists","message":"Email already exists"}`
	userExists := `{"success":false,"error":"Username already exists","message":"Username already exists"}`
	// No username: the user would be named by its e-mail, which is taken as a name.
	e.do("POST", "/api/users", e.adminKey, `{"name":"X","email":"named@example.com","password":"password123"}`).expect(t, 409, emailExists)
	e.do("POST", "/api/users", e.adminKey, `{"name":"X","username":"NAMED@example.com","email":"x@example.com","password":"password123"}`).expect(t, 409, userExists)
	if n := count(); n != before {
		t.Fatalf("failed creates wrote users: %d → %d", before, n)
	}
	path := "/api/users/" + strconv.FormatInt(e.user.Key, 10)
	e.do("PUT", path, e.adminKey, `{"username":"named@EXAMPLE.com"}`).expect(t, 409, userExists)
	e.do("PUT", path, e.adminKey, `{"username":"named@example.com","email":"named@example.com"}`).expect(t, 409, emailExists)
	// Its own name, in another case, is no conflict.
	e.do("PUT", path, e.adminKey, `{"username":"USER"}`).expect(t, 200, "")
	if u, _ := e.st.GetUserByKey(context.Background(), e.user.Key); u.UserName != "user" || u.PrimaryEmail() != "user@example.com" {
		t.Fatalf("conflicting updates changed the user: %+v", u)
	}
}

func TestList(t *testing.T) {
	e := newEnv(t, Config{})
	for i := range 5 {
		storetest.CreateUser(t, e.st, &store.User{UserName: fmt.Sprintf("member%d", i), Active: i%2 == 0, DisplayName: fmt.Sprintf("Member Nr %d", i)})
	}
	list := func(q string) (keys []string, pag map[string]any) {
		t.Helper()
		d := e.do("GET", "/api/users?"+q, e.adminKey, "").expect(t, 200, "").data(t)
		for _, u := range d["users"].([]any) {
			keys = append(keys, u.(map[string]any)["username"].(string))
		}
		return keys, d["pagination"].(map[string]any)
	}
	names, pag := list("")
	if len(names) != 8 || fmt.Sprint(pag) != "map[limit:20 page:1 pages:1 total:8]" {
		t.Fatalf("all: %v %v", names, pag)
	}
	names, pag = list("page=2&limit=3")
	if fmt.Sprint(names) != "[member0 member1 member2]" || fmt.Sprint(pag) != "map[limit:3 page:2 pages:3 total:8]" {
		t.Fatalf("page 2: %v %v", names, pag)
	}
	for q, want := range map[string]string{
		"search=NR%203":                "[member3]",
		"search=ursula":                "[user]",
		"search=admin@EXAMPLE":         "[ada]",
		"role=admin":                   "[ada]",
		"role=moderator":               "[mod]",
		"role=user&status=inactive":    "[member1 member3]",
		"role=viewer&search=member4":   "[member4]",
		"status=active&search=member":  "[member0 member2 member4]",
		"limit=1000&search=nobody-xyz": "[]",
	} {
		if names, _ := list(q); fmt.Sprint(names) != want {
			t.Errorf("%s: got %v, want %s", q, names, want)
		}
	}
	if _, pag := list("limit=1000"); pag["limit"] != 100.0 {
		t.Fatalf("limit cap: %v", pag)
	}
	e.do("GET", "/api/users?role=root", e.adminKey, "").expect(t, 422, "")
	// The moderator reads the list, and the stats.
	modKey := e.key(e.mod, "read")
	e.do("GET", "/api/users", modKey, "").expect(t, 200, "")
	e.login("ada", adminPW)
	st := e.do("GET", "/api/users/stats", modKey, "").expect(t, 200, "").data(t)
	if fmt.Sprint(st) != "map[active:6 byRole:map[admin:1 moderator:1 viewer:6] inactive:2 recentLogins:1 suspended:0 total:8]" {
		t.Fatalf("stats %v", st)
	}
	e.do("GET", "/api/users/stats", e.userKey, "").expect(t, 403, body403)
}

func TestUpdateDeleteStatus(t *testing.T) {
	e := newEnv(t, Config{})
	path := fmt.Sprintf("/api/users/%d", e.user.Key)
	res := e.do("PUT", path, e.adminKey, `{"name":"Ursula Smith","email":"u.smith@example.com","role":"admin","active":true}`)
	d := res.expect(t, 200, "").data(t)
	if d["name"] != "Ursula Smith" || d["email"] != "u.smith@example.com" || d["role"] != "admin" || res.json(t)["message"] != "User updated successfully" {
		t.Fatalf("update %s", res.body)
	}
	u, _ := e.st.GetUserByKey(context.Background(), e.user.Key)
	if !store.IsAdmin(u) || u.Name.FamilyName != "Smith" || u.PrimaryEmail() != "u.smith@example.com" {
		t.Fatalf("stored %+v", u)
	}
	e.do("PUT", path, e.adminKey, `{"role":"user"}`).expect(t, 200, "")
	// A plain user changes only its own profile; other keys are dropped.
	res = e.do("PUT", path, e.userKey, `{"name":"Uschi","role":"admin","email":"hijack@example.com","timezone":"Europe/Paris"}`)
	d = res.expect(t, 200, "").data(t)
	if d["name"] != "Uschi" || d["role"] != "user" || d["email"] != "u.smith@example.com" || d["timezone"] != "Europe/Paris" ||
		res.json(t)["message"] != "Profile updated successfully" {
		t.Fatalf("self update %s", res.body)
	}
	e.do("PUT", fmt.Sprintf("/api/users/%d", e.admin.Key), e.userKey, `{"name":"x"}`).expect(t, 403, body403)
	e.do("PUT", path, e.adminKey, `{"email":"admin@example.com"}`).expect(t, 409, "")
	e.do("PUT", path, e.adminKey, `{"email":"nope"}`).expect(t, 422, "")
	e.do("PUT", fmt.Sprintf("/api/users/%d", e.admin.Key), e.adminKey, `{"active":false}`).expect(t, 400,
		`{"success":false,"error":"Cannot change your own status","message":"Cannot change your own status"}`)

	e.do("PATCH", path+"/status", e.adminKey, `{}`).expect(t, 422, "")
	e.do("PATCH", path+"/status", e.adminKey, `{"status":"gone"}`).expect(t, 422, "")
	d = e.do("PATCH", path+"/status", e.adminKey, `{"status":"inactive"}`).expect(t, 200, "").data(t)
	if d["active"] != false || d["status"] != "inactive" {
		t.Fatalf("status %v", d)
	}

	e.do("DELETE", path, e.ro, "").expect(t, 403, body403)
	e.do("DELETE", fmt.Sprintf("/api/users/%d", e.admin.Key), e.adminKey, "").expect(t, 400,
		`{"success":false,"error":"Cannot delete your own account","message":"Cannot delete your own account"}`)
	e.do("DELETE", path, e.adminKey, "").expect(t, 200, `{"message":"User deleted successfully","success":true}`)
	e.do("DELETE", path, e.adminKey, "").expect(t, 404, body404)
}

func TestPasswords(t *testing.T) {
	e := newEnv(t, Config{})
	path := fmt.Sprintf("/api/users/%d/password", e.user.Key)
	e.do("PUT", path, e.userKey, `{}`).expect(t, 422,
		`{"success":false,"error":"Validation failed","message":"Validation failed","details":{"currentPassword":"Current password is required","newPassword":"Password must be at least 8 characters"},"errors":["Current password is required","Password must be at least 8 characters"]}`)
	e.do("PUT", path, e.userKey, `{"currentPassword":"x","newPassword":"new-password","confirmPassword":"other-password"}`).expect(t, 422, "")
	e.do("PUT", path, e.userKey, `{"currentPassword":"wrong","newPassword":"new-password","confirmPassword":"new-password"}`).expect(t, 422,
		`{"success":false,"error":"Validation failed","message":"Validation failed","details":{"currentPassword":"Current password is incorrect"},"errors":["Current password is incorrect"]}`)
	e.do("PUT", fmt.Sprintf("/api/users/%d/password", e.admin.Key), e.userKey, `{}`).expect(t, 403, body403)
	e.do("PUT", path, e.userKey, `{"currentPassword":"`+userPW+`","newPassword":"new-password","confirmPassword":"new-password"}`).
		expect(t, 200, `{"message":"Password updated successfully","success":true}`)
	e.login("user", "new-password")

	reset := fmt.Sprintf("/api/users/%d/reset-password", e.user.Key)
	e.do("POST", reset, e.userKey, `{}`).expect(t, 403, body403)
	e.do("POST", reset, e.adminKey, `{"email":"someone@else.com"}`).expect(t, 422, "")
	d := e.do("POST", reset, e.adminKey, `{"email":"USER@example.com"}`).expect(t, 200, "").data(t)
	temp := d["temporaryPassword"].(string)
	if len(temp) != 16 {
		t.Fatalf("temporary password %q", temp)
	}
	e.login("user", temp)
	e.do("POST", "/api/auth/login", "", `{"username":"user","password":"new-password"}`).expect(t, 401, "")
}

func TestPermissions(t *testing.T) {
	e := newEnv(t, Config{})
	// An entitlement set through SCIM that is not a permission is kept.
	if err := e.st.Write(context.Background(), store.Actor{Door: "scim"}, func(tx store.Tx) error {
		_, err := tx.UpdateUser(context.Background(), e.user.ID, func(u *store.User) error {
			u.Entitlements = []store.Value{{Value: "Premium"}, {Value: "ssl:read"}}
			return nil
		})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/api/users/%d/permissions", e.user.Key)
	e.do("GET", path, e.userKey, "").expect(t, 200,
		`{"data":{"permissions":[{"resource":"ssl","actions":["read"]}]},"success":true}`)
	e.do("PUT", path, e.userKey, `{"permissions":[]}`).expect(t, 403, body403)
	e.do("PUT", path, e.adminKey, `{"permissions":"all"}`).expect(t, 422, "")
	e.do("PUT", path, e.adminKey, `{"permissions":[{"resource":"a:b","actions":["read"]}]}`).expect(t, 422, "")
	e.do("PUT", path, e.adminKey, `{"permissions":[{"resource":"domains","actions":["read","create","update","delete"]},{"resource":"modsecurity","actions":["read","update","read"]}]}`).
		expect(t, 200, `{"message":"Permissions updated successfully","success":true}`)
	e.do("GET", path, e.adminKey, "").expect(t, 200,
		`{"data":{"permissions":[{"resource":"domains","actions":["read","create","update","delete"]},{"resource":"modsecurity","actions":["read","update"]}]},"success":true}`)
	u, _ := e.st.GetUserByKey(context.Background(), e.user.Key)
	if len(u.Entitlements) != 7 || u.Entitlements[0].Value != "Premium" || u.Entitlements[1].Value != "domains:read" {
		t.Fatalf("entitlements %+v", u.Entitlements)
	}
	e.do("GET", fmt.Sprintf("/api/users/%d/permissions", e.admin.Key), e.userKey, "").expect(t, 403, body403)
}

func TestActivity(t *testing.T) {
	e := newEnv(t, Config{})
	e.login("user", userPW)
	e.do("PUT", fmt.Sprintf("/api/users/%d", e.user.Key), e.adminKey, `{"name":"New Name"}`).expect(t, 200, "")
	path := fmt.Sprintf("/api/users/%d/activity", e.user.Key)
	d := e.do("GET", path, e.userKey, "").expect(t, 200, "").data(t)
	acts := d["activities"].([]any)
	// The update, the login, the key's issue and the creation.
	if len(acts) != 4 || fmt.Sprint(d["pagination"]) != "map[limit:20 page:1 pages:1 total:4]" ||
		acts[3].(map[string]any)["action"] != "create" || acts[2].(map[string]any)["resource"] != "apikey" {
		t.Fatalf("activity %v", d)
	}
	newest, login := acts[0].(map[string]any), acts[1].(map[string]any)
	if newest["action"] != "update" || newest["resource"] != "user" || newest["door"] != "usersapi" ||
		newest["ipAddress"] != "127.0.0.1" || !strings.Contains(newest["details"].(string), "displayName") {
		t.Fatalf("update entry %v", newest)
	}
	if login["action"] != "login" || login["resource"] != "auth" || !strings.Contains(login["details"].(string), "usersapi-test") {
		t.Fatalf("login entry %v", login)
	}
	d = e.do("GET", path+"?limit=1&page=2", e.userKey, "").expect(t, 200, "").data(t)
	if len(d["activities"].([]any)) != 1 || fmt.Sprint(d["pagination"]) != "map[limit:1 page:2 pages:4 total:4]" {
		t.Fatalf("paged %v", d)
	}
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	today := time.Now().UTC().Format("2006-01-02")
	if d := e.do("GET", path+"?startDate="+tomorrow, e.userKey, "").expect(t, 200, "").data(t); len(d["activities"].([]any)) != 0 {
		t.Fatalf("future start: %v", d)
	}
	if d := e.do("GET", path+"?startDate="+today+"&endDate="+today, e.userKey, "").expect(t, 200, "").data(t); len(d["activities"].([]any)) != 4 {
		t.Fatalf("today: %v", d)
	}
	e.do("GET", path+"?startDate=yesterday", e.userKey, "").expect(t, 422,
		`{"success":false,"error":"Validation failed","message":"Validation failed","details":{"startDate":"startDate must be an ISO 8601 date"},"errors":["startDate must be an ISO 8601 date"]}`)
	e.do("GET", fmt.Sprintf("/api/users/%d/activity", e.admin.Key), e.userKey, "").expect(t, 403, body403)
}

func TestPrefixAndDisabled(t *testing.T) {
	e := newEnv(t, Config{DialectConfig: legacyapi.DialectConfig{Prefix: "/waf"}})
	e.do("GET", "/waf/api/users", e.adminKey, "").expect(t, 200, "")
	e.do("POST", "/waf/api/auth/login", "", `{"username":"ada","password":"`+adminPW+`"}`).expect(t, 200, "")
	e.do("GET", "/api/users", e.adminKey, "").expect(t, 404, "404 page not found")
}

func TestLoginLockout(t *testing.T) {
	e := newEnv(t, Config{LockoutFailures: 2})
	for range 3 {
		e.do("POST", "/api/auth/login", "", `{"username":"user","password":"wrong"}`).expect(t, 401, "")
	}
	// More than 2 failures: even the right password is refused for now.
	e.do("POST", "/api/auth/login", "", `{"username":"user","password":"`+userPW+`"}`).expect(t, 429,
		`{"success":false,"error":"Too many failed login attempts; try again later","message":"Too many failed login attempts; try again later"}`)
	// Another account is not affected; an administrator's reset lifts the lock.
	e.login("ada", adminPW)
	temp := e.do("POST", fmt.Sprintf("/api/users/%d/reset-password", e.user.Key), e.adminKey, `{}`).
		expect(t, 200, "").data(t)["temporaryPassword"].(string)
	e.login("user", temp)
	// The failures and the logins are in the user's activity.
	d := e.do("GET", fmt.Sprintf("/api/users/%d/activity?limit=100", e.user.Key), e.adminKey, "").expect(t, 200, "").data(t)
	var actions []string
	for _, a := range d["activities"].([]any) {
		a := a.(map[string]any)
		actions = append(actions, a["resource"].(string)+"/"+a["action"].(string))
	}
	if got := strings.Join(actions, " "); !strings.HasPrefix(got, "auth/login user/password.change user/update auth/login.failure auth/login.failure auth/login.failure") {
		t.Fatalf("activity %s", got)
	}
}
