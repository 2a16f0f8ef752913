package app_test

// Cross-door tests for the Pterodactyl, Users API and XP-Dev dialects: a
// user written through one door reads naturally through SCIM and the other
// dialects (legacyapi/README.md), and the reverse.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/legacyapi/pterodactyl"
	"github.com/scimbridge/scimbridge/legacyapi/usersapi"
	"github.com/scimbridge/scimbridge/legacyapi/xpdev"
	"github.com/scimbridge/scimbridge/store"
)

// doors is a running scimbridge with an administrator holding a key for
// each of the three dialects.
type doors struct {
	t                   *testing.T
	srv                 *apptest.Server
	ptero, users, xpdev string
}

func startDoors(t *testing.T) *doors {
	t.Helper()
	srv := apptest.Start(t)
	d := &doors{t: t, srv: srv}
	// The administrator is provisioned through SCIM, as an IdP would.
	res := d.scim("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"boss","name":{"givenName":"Bo","familyName":"Boss"},"roles":[{"value":"admin"}],
		"emails":[{"value":"boss@example.com","primary":true}],"password":"boss-password"}`, 201)
	admin, err := srv.Store.GetUser(context.Background(), res["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	issue := func(dialect string, newKey func() (string, int)) string {
		token, n := newKey()
		if _, err := auth.IssueKey(context.Background(), srv.Store, store.Actor{Door: "test"}, dialect, token, n,
			admin.Key, "cross-door", []string{"read", "write"}); err != nil {
			t.Fatal(err)
		}
		return token
	}
	d.ptero = issue(pterodactyl.Dialect, pterodactyl.NewKey)
	d.users = issue(usersapi.Dialect, usersapi.NewKey)
	d.xpdev = issue(xpdev.Dialect, xpdev.NewKey)
	return d
}

// decodeStatus checks the status and decodes a JSON object body (or nothing).
func decodeStatus(t *testing.T, res *http.Response, want int) map[string]any {
	t.Helper()
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, want, b)
	}
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
	return m
}

func (d *doors) scim(method, path, body string, want int) map[string]any {
	d.t.Helper()
	var b any
	if body != "" {
		b = body
	}
	return decodeStatus(d.t, d.srv.Do(d.t, method, path, b), want)
}

func (d *doors) call(method, path, body string, want int, header, value string) map[string]any {
	d.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, d.srv.URL+path, rd)
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header.Set(header, value)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	return decodeStatus(d.t, res, want)
}

func (d *doors) pterodactyl(method, path, body string, want int) map[string]any {
	d.t.Helper()
	m := d.call(method, "/api/application/users"+path, body, want, "Authorization", "Bearer "+d.ptero)
	if m == nil {
		return nil
	}
	return m["attributes"].(map[string]any)
}

func (d *doors) usersAPI(method, path, body string, want int) map[string]any {
	d.t.Helper()
	m := d.call(method, "/api/users"+path, body, want, "Authorization", "Bearer "+d.users)
	data, _ := m["data"].(map[string]any)
	return data
}

func (d *doors) xpdevAPI(method, path, body string, want int) map[string]any {
	d.t.Helper()
	return d.call(method, "/api/v1/user"+path, body, want, xpdev.TokenHeader, d.xpdev)
}

func expectFields(t *testing.T, door string, got map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s: %s = %v, want %v (all: %v)", door, k, got[k], v, got)
		}
	}
}

func roleValues(scimUser map[string]any) string {
	var out []string
	roles, _ := scimUser["roles"].([]any)
	for _, r := range roles {
		out = append(out, r.(map[string]any)["value"].(string))
	}
	return strings.Join(out, ",")
}

func TestCrossDoorFromPterodactyl(t *testing.T) {
	d := startDoors(t)
	p := d.pterodactyl("POST", "", `{"username":"panel.user","email":"panel@example.com","first_name":"Pan","last_name":"El",
		"external_id":"ext-77","root_admin":true,"language":"en","password":"panel-password"}`, 201)
	id := int64(p["id"].(float64))

	s := d.scim("GET", "/scim/v2/Users/"+p["uuid"].(string), "", 200)
	expectFields(t, "scim", s, map[string]any{"userName": "panel.user", "externalId": "ext-77", "displayName": "Pan El",
		"preferredLanguage": "en", "active": true})
	if name := s["name"].(map[string]any); name["givenName"] != "Pan" || name["familyName"] != "El" {
		t.Errorf("scim name %v", name)
	}
	if roleValues(s) != "admin" || !strings.Contains(fmt.Sprint(s["emails"]), "panel@example.com") {
		t.Errorf("scim roles/emails %v %v", s["roles"], s["emails"])
	}
	expectFields(t, "usersapi", d.usersAPI("GET", fmt.Sprintf("/%d", id), "", 200), map[string]any{
		"id": id, "name": "Pan El", "email": "panel@example.com", "role": "admin", "active": true, "username": "panel.user"})
	expectFields(t, "xpdev", d.xpdevAPI("GET", fmt.Sprintf("/%d", id), "", 200), map[string]any{
		"id": id, "username": "panel.user", "email": "panel@example.com", "userRole": "Administrator"})

	// The password set through the panel logs in through the Users API.
	login := d.call("POST", "/api/auth/login", `{"username":"panel.user","password":"panel-password"}`, 200, "X-None", "")
	if login["data"].(map[string]any)["accessToken"] == "" {
		t.Fatal("no token")
	}
	// Deleted through the panel, gone everywhere.
	d.call("DELETE", fmt.Sprintf("/api/application/users/%d", id), "", 204, "Authorization", "Bearer "+d.ptero)
	d.scim("GET", "/scim/v2/Users/"+p["uuid"].(string), "", 404)
	d.usersAPI("GET", fmt.Sprintf("/%d", id), "", 404)
	d.xpdevAPI("GET", fmt.Sprintf("/%d", id), "", 404)
}

func TestCrossDoorFromUsersAPI(t *testing.T) {
	d := startDoors(t)
	u := d.usersAPI("POST", "", `{"name":"Jane Q Doe","email":"jane@example.com","password":"password123","role":"admin","active":true,
		"timezone":"Europe/Berlin","language":"de"}`, 201)
	id := int64(u["id"].(float64))
	d.usersAPI("PUT", fmt.Sprintf("/%d/permissions", id), `{"permissions":[{"resource":"domains","actions":["read","update"]}]}`, 200)

	// The panel has only "en" installed: a language outside its set is
	// shown as its default (issue 11, round trips), while the store and
	// SCIM keep "de".
	p := d.pterodactyl("GET", fmt.Sprintf("/%d", id), "", 200)
	expectFields(t, "pterodactyl", p, map[string]any{"username": "jane@example.com", "email": "jane@example.com",
		"first_name": "Jane", "last_name": "Q Doe", "root_admin": true, "language": "en", "external_id": nil})
	expectFields(t, "xpdev", d.xpdevAPI("GET", fmt.Sprintf("/%d", id), "", 200), map[string]any{
		"username": "jane@example.com", "timezone": "Europe/Berlin", "userRole": "Administrator"})
	s := d.scim("GET", "/scim/v2/Users/"+p["uuid"].(string), "", 200)
	expectFields(t, "scim", s, map[string]any{"displayName": "Jane Q Doe", "timezone": "Europe/Berlin", "preferredLanguage": "de"})
	ents := fmt.Sprint(s["entitlements"])
	if !strings.Contains(ents, "domains:read") || !strings.Contains(ents, "domains:update") {
		t.Errorf("scim entitlements %v", s["entitlements"])
	}
	// An inactive user through the Users API is inactive in SCIM.
	d.usersAPI("PATCH", fmt.Sprintf("/%d/status", id), `{"status":"inactive"}`, 200)
	expectFields(t, "scim", d.scim("GET", "/scim/v2/Users/"+p["uuid"].(string), "", 200), map[string]any{"active": false})
}

func TestCrossDoorFromXPDev(t *testing.T) {
	d := startDoors(t)
	x := d.xpdevAPI("POST", "", `{"username":"xpuser","email":"xp@example.com","password":"FGdfosad","userRole":"User","timezone":"Asia/Tokyo"}`, 200)
	id := int64(x["id"].(float64))
	expectFields(t, "usersapi", d.usersAPI("GET", fmt.Sprintf("/%d", id), "", 200), map[string]any{
		"name": "xpuser", "email": "xp@example.com", "role": "user", "timezone": "Asia/Tokyo", "username": "xpuser"})
	p := d.pterodactyl("GET", fmt.Sprintf("/%d", id), "", 200)
	expectFields(t, "pterodactyl", p, map[string]any{"username": "xpuser", "root_admin": false, "first_name": "", "last_name": ""})
	expectFields(t, "scim", d.scim("GET", "/scim/v2/Users/"+p["uuid"].(string), "", 200), map[string]any{
		"userName": "xpuser", "timezone": "Asia/Tokyo", "active": true})
	// The panel gives it a name; XP-Dev still shows five keys.
	d.pterodactyl("PATCH", fmt.Sprintf("/%d", id), `{"username":"xpuser","email":"xp@example.com","first_name":"Xavier","last_name":"Pe"}`, 200)
	if got := d.xpdevAPI("GET", fmt.Sprintf("/%d", id), "", 200); len(got) != 5 {
		t.Errorf("xpdev object %v", got)
	}
	expectFields(t, "usersapi", d.usersAPI("GET", fmt.Sprintf("/%d", id), "", 200), map[string]any{"name": "Xavier Pe"})
}

func TestCrossDoorFromSCIM(t *testing.T) {
	d := startDoors(t)
	s := d.scim("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"bjensen@example.com","externalId":"okta-1","name":{"givenName":"Barbara","familyName":"Jensen"},
		"emails":[{"value":"bjensen@example.com","type":"work","primary":true}],"timezone":"America/Los_Angeles"}`, 201)
	uuid := s["id"].(string)
	u, err := d.srv.Store.GetUser(context.Background(), uuid)
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/%d", u.Key)
	expectFields(t, "pterodactyl", d.pterodactyl("GET", "/external/okta-1", "", 200), map[string]any{
		"id": u.Key, "uuid": uuid, "username": "bjensen@example.com", "first_name": "Barbara", "root_admin": false})

	// Update in SCIM (a full replace): a new family name, the admin role,
	// deactivated.
	d.scim("PUT", "/scim/v2/Users/"+uuid, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"bjensen@example.com","externalId":"okta-1","name":{"givenName":"Barbara","familyName":"Jensen-Smith"},
		"emails":[{"value":"bjensen@example.com","type":"work","primary":true}],"timezone":"America/Los_Angeles",
		"roles":[{"value":"admin"}],"active":false}`, 200)
	expectFields(t, "pterodactyl", d.pterodactyl("GET", path, "", 200), map[string]any{"last_name": "Jensen-Smith", "root_admin": true})
	expectFields(t, "usersapi", d.usersAPI("GET", path, "", 200), map[string]any{
		"name": "Barbara Jensen-Smith", "role": "admin", "active": false, "status": "inactive", "timezone": "America/Los_Angeles"})
	expectFields(t, "xpdev", d.xpdevAPI("GET", path, "", 200), map[string]any{"userRole": "Administrator", "timezone": "America/Los_Angeles"})

	// The panel edits it back without renaming it (its userName is no
	// panel-style name) and SCIM sees the change.
	d.pterodactyl("PATCH", path, `{"username":"bjensen@example.com","email":"bjensen@example.com","first_name":"Babs","last_name":"Jensen-Smith","root_admin":false}`, 200)
	s = d.scim("GET", "/scim/v2/Users/"+uuid, "", 200)
	if s["name"].(map[string]any)["givenName"] != "Babs" || roleValues(s) != "" || s["userName"] != "bjensen@example.com" {
		t.Errorf("scim after panel edit: %v", s)
	}
}

// BenchmarkPterodactylVsSCIM measures the panel's list (per_page=50) and
// get-by-id next to their SCIM equivalents at 100,000 users, server side
// only (handler, store, encoding; no network), as BenchmarkSCIMHandler does.
func BenchmarkPterodactylVsSCIM(b *testing.B) {
	// No rate limit: the benchmark is far above 240 requests a minute.
	s := apptest.Start(b, func(c *config.Config) { c.Legacy.Pterodactyl.RateLimit = -1 })
	const n = 100000
	ids := seedUsers(b, s.Store, n)
	admin, err := s.Store.GetUser(context.Background(), ids[0])
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Store.Write(context.Background(), store.Actor{Door: "bench"}, func(tx store.Tx) error {
		_, err := tx.UpdateUser(context.Background(), admin.ID, func(u *store.User) error {
			store.SetPrivilege(u, store.PrivilegeAdmin)
			return nil
		})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	key, idLen := pterodactyl.NewKey()
	if _, err := auth.IssueKey(context.Background(), s.Store, store.Actor{Door: "bench"}, pterodactyl.Dialect, key, idLen,
		admin.Key, "bench", []string{"read"}); err != nil {
		b.Fatal(err)
	}
	keys := make([]int64, 0, n)
	page, err := s.Store.ListUsers(context.Background(), store.Query{Limit: n})
	if err != nil {
		b.Fatal(err)
	}
	for _, u := range page.Users {
		keys = append(keys, u.Key)
	}
	h := s.App.Handler()
	run := func(b *testing.B, auth string, path func(i int) string) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				req := httptest.NewRequest("GET", path(i), nil)
				req.Header.Set("Authorization", auth)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", path(i), rec.Code, rec.Body)
				}
			}
		})
	}
	ptero, scim := "Bearer "+key, "Bearer "+apptest.Token
	b.Run("pterodactyl/list-50-page1", func(b *testing.B) {
		run(b, ptero, func(int) string { return "/api/application/users?per_page=50" })
	})
	b.Run("scim/list-50-page1", func(b *testing.B) {
		run(b, scim, func(int) string { return "/scim/v2/Users?startIndex=1&count=50" })
	})
	b.Run("pterodactyl/list-50-random-page", func(b *testing.B) {
		run(b, ptero, func(i int) string {
			return fmt.Sprintf("/api/application/users?per_page=50&page=%d", 1+(i*7919)%(n/50))
		})
	})
	b.Run("scim/list-50-random-page", func(b *testing.B) {
		run(b, scim, func(i int) string {
			return fmt.Sprintf("/scim/v2/Users?count=50&startIndex=%d", 1+50*((i*7919)%(n/50)))
		})
	})
	b.Run("pterodactyl/get", func(b *testing.B) {
		run(b, ptero, func(i int) string { return fmt.Sprintf("/api/application/users/%d", keys[(i*7919)%n]) })
	})
	b.Run("scim/get", func(b *testing.B) {
		run(b, scim, func(i int) string { return "/scim/v2/Users/" + ids[(i*7919)%n] })
	})
}
