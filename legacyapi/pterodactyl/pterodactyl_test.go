package pterodactyl

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/legacyapi/legacytest"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

const (
	body401      = `{"errors":[{"code":"AuthenticationException","status":"401","detail":"Unauthenticated."}]}`
	body403      = `{"errors":[{"code":"AccessDeniedHttpException","status":"403","detail":"This action is unauthorized."}]}`
	body403Admin = `{"errors":[{"code":"AccessDeniedHttpException","status":"403","detail":"This account does not have permission to access the API."}]}`
	body404      = `{"errors":[{"code":"NotFoundHttpException","status":"404","detail":"The requested resource could not be found on the server."}]}`
)

const newUser = `{"username":"TestUser","email":"test@example.com","first_name":"Test","last_name":"User"}`

func TestNewKeyFormat(t *testing.T) {
	k, n := NewKey()
	if n != 16 || len(k) != 48 || !regexp.MustCompile(`^ptla_[A-Za-z0-9]{43}$`).MatchString(k) {
		t.Fatalf("key %q, identifier length %d", k, n)
	}
	if k2, _ := NewKey(); k2 == k {
		t.Fatal("two keys alike")
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, Config{})
	e.do("GET", "/api/application/users", "", "").expect(t, 401, body401)
	e.do("GET", "/api/application/users", "ptla_nonsense", "").expect(t, 401, body401)
	// The key with its last character changed (to one it is not: a random
	// key ends in "x" one time in 62).
	altered := e.rw[:len(e.rw)-1] + "x"
	if altered == e.rw {
		altered = e.rw[:len(e.rw)-1] + "y"
	}
	e.do("GET", "/api/application/users", altered, "").expect(t, 401, body401)
	// A non-admin owner is refused, but an unknown id is a 404 first.
	e.do("GET", "/api/application/users", e.plain, "").expect(t, 403, body403Admin)
	e.do("GET", "/api/application/users/999", e.plain, "").expect(t, 404, body404)
	// Per-key ACL: a read-only key reads but may not write.
	e.do("GET", "/api/application/users", e.ro, "").expect(t, 200, "")
	e.do("POST", "/api/application/users", e.ro, newUser).expect(t, 403, body403)
	e.do("PATCH", fmt.Sprintf("/api/application/users/%d", e.admin.Key), e.ro, newUser).expect(t, 403, body403)
	e.do("DELETE", fmt.Sprintf("/api/application/users/%d", e.admin.Key), e.ro, "").expect(t, 403, body403)
	writeOnly := e.key(e.admin, "write")
	e.do("GET", "/api/application/users", writeOnly, "").expect(t, 403, body403)
	// A key of another dialect is no panel key.
	other, n := NewKey()
	legacytest.IssueKey(t, e.st, "xpdev", other, n, e.admin.Key, "x", "read")
	e.do("GET", "/api/application/users", other, "").expect(t, 401, body401)

	// A deactivated owner's keys stop working.
	if err := e.st.Write(context.Background(), store.Actor{Door: "test"}, func(tx store.Tx) error {
		_, err := tx.UpdateUser(context.Background(), e.admin.ID, func(u *store.User) error { u.Active = false; return nil })
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/api/application/users", e.rw, "").expect(t, 401, body401)
}

func TestIPAllowList(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	for _, tc := range []struct {
		allowed string
		status  int
	}{{`["10.0.0.0/8"]`, 403}, {`["127.0.0.1"]`, 200}, {`["127.0.0.0/8","10.1.1.1"]`, 200}} {
		token, n := NewKey()
		err := e.st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
			return tx.CreateCredential(ctx, &store.Credential{Kind: auth.KeyKind(Dialect), UserKey: e.admin.Key,
				Identifier: token[:n], SecretHash: auth.HashToken(token), Scopes: []string{"read"},
				Data: `{"allowed_ips":` + tc.allowed + `}`})
		})
		if err != nil {
			t.Fatal(err)
		}
		res := e.do("GET", "/api/application/users", token, "")
		want := ""
		if tc.status == 403 {
			want = `{"errors":[{"code":"AccessDeniedHttpException","status":"403","detail":"This IP address (127.0.0.1) does not have permission to access the API using these credentials."}]}`
		}
		res.expect(t, tc.status, want)
	}
}

var timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$`)

func TestCreateGetDelete(t *testing.T) {
	e := newEnv(t, Config{})
	res := e.do("POST", "/api/application/users", e.rw, newUser)
	res.expect(t, 201, "")
	m := res.json(t)
	a := attrsOf(t, m)
	id := int64(a["id"].(float64))
	if m["object"] != "user" || a["username"] != "testuser" || a["email"] != "test@example.com" ||
		a["first_name"] != "Test" || a["last_name"] != "User" || a["external_id"] != nil || a["language"] != "en" ||
		a["root_admin"] != false || a["2fa"] != false {
		t.Fatalf("created %s", res.body)
	}
	if !timestampRE.MatchString(a["created_at"].(string)) || !timestampRE.MatchString(a["updated_at"].(string)) {
		t.Fatalf("timestamps %v %v", a["created_at"], a["updated_at"])
	}
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(a["uuid"].(string)) {
		t.Fatalf("uuid %v", a["uuid"])
	}
	wantRes := fmt.Sprintf("%s/api/application/users/%d", e.srv.URL, id)
	if meta := m["meta"].(map[string]any); meta["resource"] != wantRes {
		t.Fatalf("meta.resource %v, want %s", meta["resource"], wantRes)
	}
	// The exact key order of the transformer.
	keys := regexp.MustCompile(`"([a-z0-9_]+)":`).FindAllStringSubmatch(string(res.body), -1)
	var order []string
	for _, k := range keys[2:14] {
		order = append(order, k[1])
	}
	if got := strings.Join(order, ","); got != "id,external_id,uuid,username,email,first_name,last_name,language,root_admin,2fa,created_at,updated_at" {
		t.Fatalf("attribute order %s", got)
	}

	// Stored as a SCIM user: names, e-mail, a random password, active.
	u, err := e.st.GetUserByKey(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if u.UserName != "testuser" || u.Name.GivenName != "Test" || u.Name.FamilyName != "User" ||
		u.DisplayName != "Test User" || u.PrimaryEmail() != "test@example.com" || !u.Active || u.PasswordHash == "" {
		t.Fatalf("stored %+v", u)
	}

	get := e.do("GET", fmt.Sprintf("/api/application/users/%d", id), e.ro, "")
	get.expect(t, 200, "")
	if g := attrsOf(t, get.json(t)); g["uuid"] != a["uuid"] || g["relationships"] != nil {
		t.Fatalf("get %s", get.body)
	}
	inc := e.do("GET", fmt.Sprintf("/api/application/users/%d?include=servers,nests", id), e.ro, "")
	if !strings.Contains(string(inc.body), `"relationships":{"servers":{"object":"list","data":[]}}`) {
		t.Fatalf("include=servers: %s", inc.body)
	}
	for _, p := range []string{"/api/application/users/424242", "/api/application/users/abc", "/api/application/users/-1",
		"/api/application/users/external/nope"} {
		e.do("GET", p, e.ro, "").expect(t, 404, body404)
	}

	del := e.do("DELETE", fmt.Sprintf("/api/application/users/%d", id), e.rw, "")
	del.expect(t, 204, "")
	if len(del.body) != 0 {
		t.Fatalf("delete body %q", del.body)
	}
	e.do("DELETE", fmt.Sprintf("/api/application/users/%d", id), e.rw, "").expect(t, 404, body404)
	e.do("GET", fmt.Sprintf("/api/application/users/%d", id), e.rw, "").expect(t, 404, body404)
}

func TestCreateFull(t *testing.T) {
	e := newEnv(t, Config{Languages: []string{"en", "de"}})
	res := e.do("POST", "/api/application/users", e.rw, `{"username":"ext.user-1","email":"ext@example.com",
		"first_name":"Ext","last_name":"User","external_id":"ext-1","password":"s3cret pw","root_admin":"1","language":"de"}`)
	res.expect(t, 201, "")
	a := attrsOf(t, res.json(t))
	if a["external_id"] != "ext-1" || a["root_admin"] != true || a["language"] != "de" {
		t.Fatalf("created %s", res.body)
	}
	got := e.do("GET", "/api/application/users/external/ext-1", e.ro, "")
	got.expect(t, 200, "")
	if attrsOf(t, got.json(t))["username"] != "ext.user-1" {
		t.Fatalf("by external id: %s", got.body)
	}
	u, _ := e.st.GetUserByUserName(context.Background(), "ext.user-1")
	if ok, _ := auth.CheckPassword(u.PasswordHash, "s3cret pw"); !ok || !store.IsAdmin(u) || u.PreferredLanguage != "de" {
		t.Fatalf("stored %+v", u)
	}
	// Form bodies work as in Laravel.
	form := e.do("POST", "/api/application/users", e.rw, "username=formuser&email=form%40example.com&first_name=F&last_name=U&root_admin=0",
		"Content-Type: application/x-www-form-urlencoded")
	form.expect(t, 201, "")
}

// validationErrors flattens a 422 body to "field:rule" entries.
func validationErrors(t *testing.T, r response) []string {
	t.Helper()
	if r.status != 422 {
		t.Fatalf("status %d, want 422: %s", r.status, r.body)
	}
	var body struct {
		Errors []struct {
			Code, Status, Detail string
			Meta                 struct {
				SourceField string `json:"source_field"`
				Rule        string
			}
		}
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range body.Errors {
		if e.Code != "ValidationException" || e.Status != "422" || e.Detail == "" {
			t.Fatalf("entry %+v", e)
		}
		out = append(out, e.Meta.SourceField+":"+e.Meta.Rule)
	}
	return out
}

func TestValidation(t *testing.T) {
	e := newEnv(t, Config{})
	e.do("POST", "/api/application/users", e.rw, `{"username":"taken","email":"Taken@Example.com","first_name":"T","last_name":"T","external_id":"X1"}`).expect(t, 201, "")
	before, _, _ := e.st.ListActivity(context.Background(), store.ActivityQuery{})

	for _, tc := range []struct {
		name, body string
		want       string
	}{
		{"empty", `{}`, "email:required,username:required,first_name:required,last_name:required"},
		{"empty body", ``, "email:required,username:required,first_name:required,last_name:required"},
		{"not an object", `[1,2]`, "email:required,username:required,first_name:required,last_name:required"},
		{"blank strings", `{"email":"  ","username":"","first_name":" ","last_name":"\t"}`,
			"email:required,username:required,first_name:required,last_name:required"},
		{"wrong types", `{"email":5,"username":"ok-name","first_name":7,"last_name":["a"],"external_id":9,"password":1,"root_admin":"yes","language":3}`,
			"email:email,external_id:string,password:string,root_admin:boolean,language:string,language:in,first_name:string,last_name:string"},
		{"formats", `{"email":"not-an-email","username":"-bad-","first_name":"A","last_name":"B","language":"fr","root_admin":null}`,
			"email:email,username:p_username,root_admin:boolean,language:in"},
		{"short username", `{"email":"a@example.com","username":"ab","first_name":"A","last_name":"B"}`, "username:p_username"},
		{"too long", fmt.Sprintf(`{"email":"%s@example.com","username":"%s","first_name":"%s","last_name":"B","external_id":"%s"}`,
			strings.Repeat("a", 190), strings.Repeat("u", 192), strings.Repeat("é", 192), strings.Repeat("x", 192)),
			"email:between,external_id:max,username:between,first_name:between"},
		{"duplicates", `{"email":"taken@example.COM","username":"TAKEN","first_name":"A","last_name":"B","external_id":"X1"}`,
			"email:unique,external_id:unique,username:unique"},
		// Nothing else wrong: the store refuses the write, and the list names
		// every taken field, as the panel's validator does.
		{"taken username and external id", `{"email":"new@example.com","username":"TAKEN","first_name":"A","last_name":"B","external_id":"X1"}`,
			"external_id:unique,username:unique"},
		{"taken username", `{"email":"new@example.com","username":"taken","first_name":"A","last_name":"B","external_id":"X2"}`,
			"username:unique"},
		{"taken external id", `{"email":"new@example.com","username":"fresh","first_name":"A","last_name":"B","external_id":"X1"}`,
			"external_id:unique"},
		{"null language", `{"email":"n@example.com","username":"nulllang","first_name":"A","last_name":"B","language":null}`,
			"language:string,language:in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(validationErrors(t, e.do("POST", "/api/application/users", e.rw, tc.body)), ",")
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	// Exact messages of one response.
	e.do("POST", "/api/application/users", e.rw, `{"email":"taken@example.com","username":"x y z","first_name":"A","last_name":"B","external_id":"X1","root_admin":2}`).
		expect(t, 422, `{"errors":[`+
			`{"code":"ValidationException","status":"422","detail":"The email has already been taken.","meta":{"source_field":"email","rule":"unique"}},`+
			`{"code":"ValidationException","status":"422","detail":"The Third Party Identifier has already been taken.","meta":{"source_field":"external_id","rule":"unique"}},`+
			`{"code":"ValidationException","status":"422","detail":"The username must start and end with alpha-numeric characters and contain only letters, numbers, dashes, underscores, and periods.","meta":{"source_field":"username","rule":"p_username"}},`+
			`{"code":"ValidationException","status":"422","detail":"The Root Administrator Status field must be true or false.","meta":{"source_field":"root_admin","rule":"boolean"}}]}`)
	e.do("POST", "/api/application/users", e.rw, `{}`).expect(t, 422,
		`{"errors":[{"code":"ValidationException","status":"422","detail":"The email field is required.","meta":{"source_field":"email","rule":"required"}},`+
			`{"code":"ValidationException","status":"422","detail":"The username field is required.","meta":{"source_field":"username","rule":"required"}},`+
			`{"code":"ValidationException","status":"422","detail":"The first name field is required.","meta":{"source_field":"first_name","rule":"required"}},`+
			`{"code":"ValidationException","status":"422","detail":"The last name field is required.","meta":{"source_field":"last_name","rule":"required"}}]}`)

	// Malformed JSON, oversized bodies.
	e.do("POST", "/api/application/users", e.rw, `{"email":`).expect(t, 400,
		`{"errors":[{"code":"BadRequestHttpException","status":"400","detail":"The JSON data passed in the request appears to be malformed: Syntax error"}]}`)
	e.do("POST", "/api/application/users", e.rw, `{"a":1} {"b":2}`).expect(t, 400, "")
	e.do("POST", "/api/application/users", e.rw, `{"email":"`+strings.Repeat("a", 5000)+`"}`).expect(t, 413, "")
	// Malformed JSON is checked after authentication.
	e.do("POST", "/api/application/users", "", `{"email":`).expect(t, 401, body401)

	after, _, _ := e.st.ListActivity(context.Background(), store.ActivityQuery{})
	if len(after) != len(before) {
		t.Fatalf("failed requests wrote %d activity entries", len(after)-len(before))
	}
	if page, _ := e.st.ListUsers(context.Background(), store.Query{Limit: 100}); page.Total != 3 {
		t.Fatalf("%d users after failed creates, want 3", page.Total)
	}
}

func TestUpdate(t *testing.T) {
	e := newEnv(t, Config{})
	res := e.do("POST", "/api/application/users", e.rw, `{"username":"patchme","email":"p@example.com","first_name":"P","last_name":"M","external_id":"E1"}`)
	res.expect(t, 201, "")
	id := int64(attrsOf(t, res.json(t))["id"].(float64))
	path := fmt.Sprintf("/api/application/users/%d", id)

	// PATCH needs all four required fields every time.
	if got := strings.Join(validationErrors(t, e.do("PATCH", path, e.rw, `{"first_name":"Only"}`)), ","); got != "email:required,username:required,last_name:required" {
		t.Fatalf("partial patch: %s", got)
	}
	// Its own e-mail, username and external id are not "taken".
	up := e.do("PATCH", path, e.rw, `{"username":"PatchMe","email":"p@example.com","first_name":"Pat","last_name":"Mo","external_id":"E1","root_admin":true,"password":"new-pw"}`)
	up.expect(t, 200, "")
	a := attrsOf(t, up.json(t))
	if a["username"] != "patchme" || a["first_name"] != "Pat" || a["root_admin"] != true || a["external_id"] != "E1" {
		t.Fatalf("patched %s", up.body)
	}
	u, _ := e.st.GetUserByKey(context.Background(), id)
	if ok, _ := auth.CheckPassword(u.PasswordHash, "new-pw"); !ok || u.DisplayName != "Pat Mo" {
		t.Fatalf("stored %+v", u)
	}
	// An empty password changes nothing; a null external_id clears it.
	up = e.do("PATCH", path, e.rw, `{"username":"patchme","email":"new@example.com","first_name":"Pat","last_name":"Mo","external_id":null,"password":"","root_admin":false}`)
	up.expect(t, 200, "")
	a = attrsOf(t, up.json(t))
	if a["external_id"] != nil || a["email"] != "new@example.com" || a["root_admin"] != false {
		t.Fatalf("patched %s", up.body)
	}
	u2, _ := e.st.GetUserByKey(context.Background(), id)
	if u2.PasswordHash != u.PasswordHash || store.IsAdmin(u2) {
		t.Fatalf("password or role changed: %+v", u2)
	}
	// Another user's e-mail or name is taken.
	if got := strings.Join(validationErrors(t, e.do("PATCH", path, e.rw, `{"username":"root","email":"root@example.com","first_name":"a","last_name":"b"}`)), ","); got != "email:unique,username:unique" {
		t.Fatalf("taken: %s", got)
	}
	e.do("PATCH", "/api/application/users/9999", e.rw, `{}`).expect(t, 404, body404)
	e.do("PATCH", path, e.rw, `{"username":`).expect(t, 400, "")
	e.do("PUT", path, e.rw, `{}`).expect(t, 405, `{"errors":[{"code":"MethodNotAllowedHttpException","status":"405","detail":"The PUT method is not supported for this route."}]}`)
}

func TestUpdateUserFromOtherDoors(t *testing.T) {
	e := newEnv(t, Config{})
	// A SCIM-style user (e-mail as userName, no name parts) and a
	// directory-synced one.
	scim := storetest.CreateUser(t, e.st, &store.User{UserName: "Barbara.Jensen@example.com", Active: true,
		DisplayName: "Babs", Name: store.Name{GivenName: "Barbara", FamilyName: "Jensen"},
		Emails: []store.Value{{Value: "home@example.com", Type: "home"}, {Value: "bjensen@example.com", Type: "work", Primary: true}}})
	synced := storetest.CreateUser(t, e.st, &store.User{UserName: "dirk", Active: true,
		Source: store.Source{Name: "corp", ID: "uuid-1", DN: "uid=dirk,dc=example"}})

	get := e.do("GET", fmt.Sprintf("/api/application/users/%d", scim.Key), e.ro, "")
	a := attrsOf(t, get.json(t))
	if a["username"] != "barbara.jensen@example.com" || a["email"] != "bjensen@example.com" || a["first_name"] != "Barbara" {
		t.Fatalf("scim user reads %s", get.body)
	}
	// Resending the username as read keeps the stored casing; the
	// format rule is not applied to an unchanged name.
	up := e.do("PATCH", fmt.Sprintf("/api/application/users/%d", scim.Key), e.rw,
		`{"username":"barbara.jensen@example.com","email":"bjensen@example.com","first_name":"Barb","last_name":"Jensen"}`)
	up.expect(t, 200, "")
	u, _ := e.st.GetUserByKey(context.Background(), scim.Key)
	if u.UserName != "Barbara.Jensen@example.com" || u.Name.GivenName != "Barb" || u.DisplayName != "Babs" || len(u.Emails) != 2 {
		t.Fatalf("stored %+v", u)
	}
	// A directory user's password lives in the directory.
	e.do("PATCH", fmt.Sprintf("/api/application/users/%d", synced.Key), e.rw,
		`{"username":"dirk","email":"dirk@example.com","first_name":"D","last_name":"K","password":"x"}`).
		expect(t, 400, `{"errors":[{"code":"DisplayException","status":"400","detail":"This account's password is managed by its directory (corp) and cannot be changed here."}]}`)
}

func listBody(t *testing.T, r response) (ids []int64, pag map[string]any) {
	t.Helper()
	r.expect(t, 200, "")
	m := r.json(t)
	if m["object"] != "list" {
		t.Fatalf("list %s", r.body)
	}
	for _, d := range m["data"].([]any) {
		ids = append(ids, int64(attrsOf(t, d.(map[string]any))["id"].(float64)))
	}
	return ids, m["meta"].(map[string]any)["pagination"].(map[string]any)
}

func TestList(t *testing.T) {
	e := newEnv(t, Config{})
	var keys []int64
	for i := range 7 {
		u := storetest.CreateUser(t, e.st, &store.User{UserName: fmt.Sprintf("user%d", i), Active: true,
			ExternalID: fmt.Sprintf("Ext-%d", i), Emails: []store.Value{{Value: fmt.Sprintf("u%d@Example.org", i), Primary: true}}})
		keys = append(keys, u.Key)
	}
	// 9 users: root, plain and the 7.
	ids, pag := listBody(t, e.do("GET", "/api/application/users?per_page=4", e.ro, ""))
	if len(ids) != 4 || ids[0] != e.admin.Key || pag["total"] != 9.0 || pag["count"] != 4.0 || pag["per_page"] != 4.0 ||
		pag["current_page"] != 1.0 || pag["total_pages"] != 3.0 {
		t.Fatalf("page 1: %v %v", ids, pag)
	}
	if links := pag["links"].(map[string]any); len(links) != 1 || links["next"] != e.srv.URL+"/api/application/users?page=2" {
		t.Fatalf("links %v", links)
	}
	_, pag = listBody(t, e.do("GET", "/api/application/users?per_page=4&page=2", e.ro, ""))
	if links := pag["links"].(map[string]any); links["previous"] != e.srv.URL+"/api/application/users?page=1" || links["next"] == nil {
		t.Fatalf("links %v", links)
	}
	ids, pag = listBody(t, e.do("GET", "/api/application/users?per_page=4&page=9", e.ro, ""))
	if len(ids) != 0 || pag["current_page"] != 9.0 || pag["count"] != 0.0 {
		t.Fatalf("beyond: %v %v", ids, pag)
	}
	// links is {} when there is neither; total_pages is 1 for nothing.
	none := e.do("GET", "/api/application/users?filter[email]=nobody", e.ro, "")
	if !strings.Contains(string(none.body), `"pagination":{"total":0,"count":0,"per_page":50,"current_page":1,"total_pages":1,"links":{}}`) ||
		!strings.Contains(string(none.body), `"data":[]`) {
		t.Fatalf("empty list %s", none.body)
	}
	_, pag = listBody(t, e.do("GET", "/api/application/users?per_page=0&page=x", e.ro, ""))
	if pag["per_page"] != 15.0 || pag["current_page"] != 1.0 {
		t.Fatalf("per_page=0: %v", pag)
	}
	_, pag = listBody(t, e.do("GET", "/api/application/users?per_page=-3", e.ro, ""))
	if pag["per_page"] != 50.0 {
		t.Fatalf("per_page=-3: %v", pag)
	}

	// Filters: partial, case-insensitive, comma = OR, AND across filters.
	for _, tc := range []struct {
		query string
		want  []int64
	}{
		{"filter[email]=EXAMPLE.ORG&filter[username]=user1,user3", []int64{keys[1], keys[3]}},
		{"filter[username]=SER5", []int64{keys[5]}},
		{"filter[external_id]=Ext-6", []int64{keys[6]}},
		{"filter[email]=&per_page=2", []int64{e.admin.Key, keys[0]}[:1]},
		{"sort=-id&per_page=2", []int64{keys[6], keys[5]}},
		{"sort=id&per_page=1", []int64{e.admin.Key}},
	} {
		ids, _ := listBody(t, e.do("GET", "/api/application/users?"+tc.query, e.ro, ""))
		if tc.query == "filter[email]=&per_page=2" {
			if len(ids) != 2 {
				t.Fatalf("%s: %v", tc.query, ids)
			}
			continue
		}
		if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
			t.Fatalf("%s: got %v, want %v", tc.query, ids, tc.want)
		}
	}
	u3, _ := e.st.GetUserByKey(context.Background(), keys[3])
	ids, _ = listBody(t, e.do("GET", "/api/application/users?filter[uuid]="+strings.ToUpper(u3.ID[len(u3.ID)-12:]), e.ro, ""))
	if len(ids) != 1 || ids[0] != keys[3] {
		t.Fatalf("uuid filter: %v", ids)
	}
	up, _ := listBody(t, e.do("GET", "/api/application/users?sort=uuid&per_page=100", e.ro, ""))
	down, _ := listBody(t, e.do("GET", "/api/application/users?sort=-uuid,id&per_page=100", e.ro, ""))
	for i := range up {
		if up[i] != down[len(down)-1-i] {
			t.Fatalf("uuid sort: %v vs %v", up, down)
		}
	}

	e.do("GET", "/api/application/users?filter[name]=x&filter[email]=y", e.ro, "").expect(t, 400,
		"{\"errors\":[{\"code\":\"InvalidFilterQuery\",\"status\":\"400\",\"detail\":\"Requested filter(s) `name` are not allowed. Allowed filter(s) are `email, uuid, username, external_id`.\"}]}")
	e.do("GET", "/api/application/users?sort=-email", e.ro, "").expect(t, 400,
		"{\"errors\":[{\"code\":\"InvalidSortQuery\",\"status\":\"400\",\"detail\":\"Requested sort(s) `email` is not allowed. Allowed sort(s) are `id, uuid`.\"}]}")

	with := e.do("GET", "/api/application/users?per_page=1&include[]=servers", e.ro, "")
	if !strings.Contains(string(with.body), `"relationships":{"servers":{"object":"list","data":[]}}`) {
		t.Fatalf("include in list: %s", with.body)
	}
}

func TestRoutingAndConfig(t *testing.T) {
	e := newEnv(t, Config{})
	e.do("GET", "/api/application/nope", e.ro, "").expect(t, 404, body404)
	e.do("POST", "/api/application/users/1", e.rw, `{}`).expect(t, 405, "")
	e.do("GET", "/api/application/servers", e.ro, "").expect(t, 200,
		`{"object":"list","data":[],"meta":{"pagination":{"total":0,"count":0,"per_page":50,"current_page":1,"total_pages":1,"links":{}}}}`)
	e.do("GET", "/api/application/servers", "", "").expect(t, 401, body401)

	// Re-prefixed and disabled.
	r := mux.NewRouter()
	off := false
	e2 := newEnv(t, Config{DialectConfig: legacyapi.DialectConfig{Prefix: "/panel"}, BaseURL: "https://panel.example.com/"})
	e2.do("GET", "/api/application/users", e2.ro, "").expect(t, 404, "404 page not found")
	res := e2.do("POST", "/panel/api/application/users", e2.rw, newUser)
	res.expect(t, 201, "")
	if !strings.HasPrefix(res.json(t)["meta"].(map[string]any)["resource"].(string), "https://panel.example.com/panel/api/application/users/") {
		t.Fatalf("resource %s", res.body)
	}
	Mount(r, Config{DialectConfig: legacyapi.DialectConfig{Enabled: &off}}, legacyapi.Deps{Store: e.st})
	if len(walk(r)) != 0 {
		t.Fatal("a disabled dialect mounted routes")
	}
}

func walk(r *mux.Router) []string {
	var out []string
	_ = r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		p, _ := route.GetPathTemplate()
		out = append(out, p)
		return nil
	})
	return out
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 3})
	for i := range 3 {
		res := e.do("GET", "/api/application/users", e.ro, "")
		res.expect(t, 200, "")
		if res.header.Get("X-RateLimit-Limit") != "3" || res.header.Get("X-RateLimit-Remaining") != fmt.Sprint(2-i) {
			t.Fatalf("headers %v", res.header)
		}
	}
	// The limit is per owner: another key of the same admin is throttled too.
	res := e.do("GET", "/api/application/users", e.rw, "")
	res.expect(t, 429, `{"errors":[{"code":"ThrottleRequestsException","status":"429","detail":"Too Many Attempts."}]}`)
	if res.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	e.do("GET", "/api/application/users", e.plain, "").expect(t, 403, body403Admin)
	_ = http.StatusOK
}

func TestKeyCache(t *testing.T) {
	e := newEnv(t, Config{KeyCacheTTL: 300 * time.Millisecond})
	e.do("GET", "/api/application/users", e.ro, "").expect(t, 200, "")
	fresh := e.key(e.admin, "read")
	// Demote the owner: the cached key keeps working for at most the TTL,
	// a key not looked up yet is refused at once.
	if err := e.st.Write(context.Background(), store.Actor{Door: "test"}, func(tx store.Tx) error {
		_, err := tx.UpdateUser(context.Background(), e.admin.ID, func(u *store.User) error {
			store.SetPrivilegeFlag(u, store.PrivilegeAdmin, false)
			return nil
		})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/api/application/users", fresh, "").expect(t, 403, body403Admin)
	time.Sleep(350 * time.Millisecond)
	e.do("GET", "/api/application/users", e.ro, "").expect(t, 403, body403Admin)
}
