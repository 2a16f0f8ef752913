package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
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

// secretScan drives a full scenario through every door, remembering each
// secret a client sent or received and every response body, then checks
// that no secret appears anywhere it must not: the server's logs, the
// response bodies (except the one answer that hands a new token out), the
// activity log and the raw bytes of the SQLite file and its WAL.
type secretScan struct {
	t       *testing.T
	s       *apptest.Server
	secrets map[string]string // secret → what it is
	// bodies are every response body, by request.
	bodies []recorded
	// handedOut: the response that issued a token may contain it.
	handedOut map[string]int // secret → index into bodies
}

type recorded struct {
	what string
	body string
}

func (sc *secretScan) secret(what, value string) string {
	sc.secrets[value] = what
	return value
}

// do sends a request and records its answer; headers are name/value pairs.
func (sc *secretScan) do(method, path string, body io.Reader, headers ...string) (int, string, *http.Response) {
	sc.t.Helper()
	req, err := http.NewRequest(method, sc.s.URL+path, body)
	if err != nil {
		sc.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		sc.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		sc.t.Fatal(err)
	}
	sc.bodies = append(sc.bodies, recorded{what: method + " " + path, body: string(raw)})
	return res.StatusCode, string(raw), res
}

// scim sends a SCIM request with the static token.
func (sc *secretScan) scim(method, path string, body any, want int) map[string]any {
	sc.t.Helper()
	raw, _ := json.Marshal(body)
	status, text, _ := sc.do(method, "/scim/v2"+path, bytes.NewReader(raw),
		"Authorization", "Bearer "+apptest.Token, "Content-Type", "application/scim+json")
	if status != want {
		sc.t.Fatalf("%s %s: HTTP %d, want %d: %s", method, path, status, want, text)
	}
	var doc map[string]any
	_ = json.Unmarshal([]byte(text), &doc)
	if strings.Contains(strings.ToLower(text), `"password"`) {
		sc.t.Fatalf("%s %s: the answer has a password attribute: %s", method, path, text)
	}
	return doc
}

func jsonBody(v any) io.Reader {
	raw, _ := json.Marshal(v)
	return bytes.NewReader(raw)
}

func cookieOf(res *http.Response, name string) string {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

const userSchema = "urn:ietf:params:scim:schemas:core:2.0:User"
const patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

func TestSecretsNeverLeak(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "secrets.db")
	xstudioAdminPW := "Xs-Admin-" + auth.RandomString(20)
	s := apptest.Start(t, func(c *config.Config) {
		c.DB = dbPath
		c.Legacy.XStudio.AdminPassword = xstudioAdminPW
		c.Legacy.XStudio.AdminEmail = "admin@example.com"
	})
	sc := &secretScan{t: t, s: s, secrets: map[string]string{}, handedOut: map[string]int{}}
	sc.secret("static SCIM token", apptest.Token)
	sc.secret("static admin token", apptest.AdminToken)
	sc.secret("XStudio admin password", xstudioAdminPW)
	pw := func(what string) string { return sc.secret(what, "Pw-"+auth.RandomString(24)) }
	ctx := context.Background()

	// SCIM: passwords through POST, PUT, PATCH (with and without a path),
	// Bulk, and requests that fail with a password in them.
	p1, p2, p3, p4 := pw("SCIM POST password"), pw("SCIM PUT password"), pw("SCIM PATCH password"), pw("SCIM PATCH no-path password")
	u := sc.scim("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "leaky",
		"password": p1, "active": true, "emails": []map[string]any{{"value": "leaky@example.com", "primary": true}},
		"roles": []map[string]any{{"value": "admin", "type": "xyops.privilege"}}}, 201)
	id := u["id"].(string)
	sc.scim("PUT", "/Users/"+id, map[string]any{"schemas": []string{userSchema}, "userName": "leaky", "password": p2,
		"active": true, "emails": []map[string]any{{"value": "leaky@example.com", "primary": true}},
		"roles": []map[string]any{{"value": "admin", "type": "xyops.privilege"}}}, 200)
	sc.scim("PATCH", "/Users/"+id, map[string]any{"schemas": []string{patchSchema},
		"Operations": []map[string]any{{"op": "replace", "path": "password", "value": p3}}}, 200)
	sc.scim("PATCH", "/Users/"+id, map[string]any{"schemas": []string{patchSchema},
		"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"password": p4, "title": "Leaker"}}}}, 200)
	sc.scim("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "leaky", "password": pw("password of a duplicate user")}, 409)
	sc.scim("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": 42, "password": pw("password beside a bad userName")}, 400)
	sc.scim("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "badpw", "password": []string{pw("password in a list")}}, 400)
	sc.scim("PATCH", "/Users/"+id, map[string]any{"schemas": []string{patchSchema},
		"Operations": []map[string]any{{"op": "replace", "path": "password[value eq \"x\"]", "value": pw("password in a bad PATCH")}}}, 400)
	bulk := sc.scim("POST", "/Bulk", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"},
		"Operations": []map[string]any{
			{"method": "POST", "path": "/Users", "bulkId": "b1", "data": map[string]any{"schemas": []string{userSchema},
				"userName": "bulky", "password": pw("Bulk POST password"), "active": true}},
			{"method": "PATCH", "path": "/Users/bulkId:b1", "data": map[string]any{"schemas": []string{patchSchema},
				"Operations": []map[string]any{{"op": "replace", "path": "password", "value": pw("Bulk PATCH password")}}}},
			{"method": "POST", "path": "/Users", "data": map[string]any{"schemas": []string{userSchema},
				"userName": "leaky", "password": pw("Bulk POST conflicting password")}},
		}}, 200)
	if ops, _ := bulk["Operations"].([]any); len(ops) != 3 {
		t.Fatalf("bulk: %v", bulk)
	}
	if st, _, _ := sc.do("GET", "/scim/v2/Users", nil, "Authorization", "Bearer "+sc.secret("wrong SCIM token", "scim_"+auth.RandomString(32))); st != 401 {
		t.Fatalf("wrong token: HTTP %d", st)
	}

	// A SCIM token issued through the admin API: shown once, then used
	// and revoked.
	status, text, _ := sc.do("POST", "/admin/tokens", jsonBody(map[string]string{"name": "okta", "userName": "leaky"}),
		"Authorization", "Bearer "+apptest.AdminToken, "Content-Type", "application/json")
	if status != 201 {
		t.Fatalf("admin create token: HTTP %d %s", status, text)
	}
	var issued struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(text), &issued); err != nil || issued.Token == "" {
		t.Fatalf("admin create token: %s", text)
	}
	sc.secret("SCIM token issued by /admin/tokens", issued.Token)
	sc.handedOut[issued.Token] = len(sc.bodies) - 1
	if st, body, _ := sc.do("GET", "/scim/v2/Me", nil, "Authorization", "Bearer "+issued.Token); st != 200 {
		t.Fatalf("issued token: HTTP %d %s", st, body)
	}
	if st, body, _ := sc.do("GET", "/admin/tokens", nil, "Authorization", "Bearer "+apptest.AdminToken); st != 200 {
		t.Fatalf("list tokens: HTTP %d %s", st, body)
	}
	if st, body, _ := sc.do("DELETE", fmt.Sprintf("/admin/tokens/%d", issued.ID), nil, "Authorization", "Bearer "+apptest.AdminToken); st != 204 {
		t.Fatalf("revoke token: HTTP %d %s", st, body)
	}
	sc.do("GET", "/admin/activity?limit=1000", nil, "Authorization", "Bearer "+sc.secret("wrong admin token", "sbadm_"+auth.RandomString(32)))

	// xyOps: login (right and wrong), the session, an API key, an admin
	// call creating a user with a password, logout_all with the password.
	status, text, res := sc.do("POST", "/api/user/login", jsonBody(map[string]string{"username": "leaky", "password": p4}),
		"Content-Type", "application/json")
	session := cookieOf(res, "session_id")
	if status != 200 || session == "" {
		t.Fatalf("xyOps login: HTTP %d %s", status, text)
	}
	sc.secret("xyOps session id", session)
	var login struct {
		CSRF string `json:"csrf_token"`
	}
	_ = json.Unmarshal([]byte(text), &login)
	sc.do("POST", "/api/user/login", jsonBody(map[string]string{"username": "leaky", "password": pw("wrong xyOps password")}),
		"Content-Type", "application/json")
	sc.do("POST", "/api/user/login", jsonBody(map[string]string{"username": "nobody", "password": pw("xyOps password of an unknown user")}),
		"Content-Type", "application/json")
	xyCall := func(path string, body any) string {
		_, text, _ := sc.do("POST", path, jsonBody(body), "Content-Type", "application/json",
			"Cookie", "session_id="+session, "X-CSRF-Token", login.CSRF)
		return text
	}
	if text := xyCall("/api/user/admin_create", map[string]any{"username": "kim", "email": "kim@example.com",
		"full_name": "Kim", "password": pw("xyOps admin_create password")}); !strings.HasPrefix(text, `{"code":0`) {
		t.Fatalf("xyOps admin_create: %s", text)
	}
	xyCall("/api/user/admin_update", map[string]any{"username": "kim", "new_password": pw("xyOps admin_update password")})
	xyCall("/api/app/user_settings/v1", map[string]any{"full_name": "Leaky", "password": pw("xyOps settings password"),
		"new_password": pw("xyOps settings new password")})
	key, _ := xyops.NewKey()
	if _, err := auth.IssueKey(ctx, s.Store, store.Actor{Door: "cli"}, xyops.Dialect, sc.secret("xyOps API key", key), 0,
		userKey(t, s, "leaky"), "ci", []string{"read"}); err != nil {
		t.Fatal(err)
	}
	if st, body, _ := sc.do("POST", "/api/app/get_user_activity/v1", jsonBody(map[string]any{"limit": 50}),
		"Content-Type", "application/json", "X-API-Key", key); st != 200 || !strings.HasPrefix(body, `{"code":0`) {
		t.Fatalf("xyOps API key: HTTP %d %s", st, body)
	}
	sc.do("POST", "/api/app/get_user_activity/v1", jsonBody(map[string]any{}), "Content-Type", "application/json",
		"X-API-Key", sc.secret("wrong xyOps API key", auth.RandomString(24)))
	xyCall("/api/app/logout_all/v1", map[string]any{"password": p4})

	// XStudio: the configured admin logs in, creates a user with a
	// password, changes its own password; a wrong login.
	status, text, res = sc.do("POST", "/xqual/api?command=authenticate", strings.NewReader(url.Values{
		"username": {"admin"}, "password": {xstudioAdminPW}}.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	jsession := cookieOf(res, "JSESSIONID")
	if jsession == "" || !strings.Contains(text, `"success"`) {
		t.Fatalf("XStudio login: HTTP %d %s", status, text)
	}
	sc.secret("XStudio session id", jsession)
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for k, v := range map[string]string{"name": "xsuser", "email": "xs@example.com", "password": pw("XStudio createUser password")} {
		_ = mw.WriteField(k, v)
	}
	mw.Close()
	if _, text, _ := sc.do("POST", "/xqual/api?command=createUser&parentFolderId=1", &form, "Content-Type", mw.FormDataContentType(),
		"Cookie", "JSESSIONID="+jsession); !strings.Contains(text, `"success"`) {
		t.Fatalf("XStudio createUser: %s", text)
	}
	newAdminPW := pw("XStudio updateUserPassword password")
	if _, text, _ := sc.do("POST", "/xqual/api?command=updateUserPassword", strings.NewReader(url.Values{"password": {newAdminPW}}.Encode()),
		"Content-Type", "application/x-www-form-urlencoded", "Cookie", "JSESSIONID="+jsession); !strings.Contains(text, `"success"`) {
		t.Fatalf("XStudio updateUserPassword: %s", text)
	}
	sc.do("POST", "/xqual/api?command=authenticate&username=admin&password="+url.QueryEscape(pw("wrong XStudio password")), nil)

	// Pterodactyl: an application key creates and updates a user with
	// passwords; a wrong key.
	ptKey, ptIDLen := pterodactyl.NewKey()
	issueKey(t, s, pterodactyl.Dialect, sc.secret("Pterodactyl application key", ptKey), ptIDLen, "leaky")
	ptHeaders := []string{"Authorization", "Bearer " + ptKey, "Content-Type", "application/json", "Accept", "application/json"}
	status, text, _ = sc.do("POST", "/api/application/users", jsonBody(map[string]any{"email": "pt@example.com", "username": "ptuser",
		"first_name": "Pt", "last_name": "User", "password": pw("Pterodactyl create password")}), ptHeaders...)
	if status != 201 {
		t.Fatalf("Pterodactyl create: HTTP %d %s", status, text)
	}
	ptUser := userKey(t, s, "ptuser")
	if st, body, _ := sc.do("PATCH", fmt.Sprintf("/api/application/users/%d", ptUser), jsonBody(map[string]any{"email": "pt@example.com",
		"username": "ptuser", "first_name": "Pt", "last_name": "User", "password": pw("Pterodactyl update password")}), ptHeaders...); st != 200 {
		t.Fatalf("Pterodactyl update: HTTP %d %s", st, body)
	}
	sc.do("POST", "/api/application/users", jsonBody(map[string]any{"email": "bad", "username": "bad user", "password": pw("Pterodactyl invalid-create password")}), ptHeaders...)
	sc.do("GET", "/api/application/users", nil, "Authorization", "Bearer "+sc.secret("wrong Pterodactyl key", "ptla_"+auth.RandomString(43)), "Accept", "application/json")

	// Users API: login (tokens handed out once), refresh, a user created
	// and its password changed, a wrong login, logout.
	status, text, _ = sc.do("POST", "/api/auth/login", jsonBody(map[string]string{"username": "leaky", "password": p4}), "Content-Type", "application/json")
	var ua struct {
		Data struct {
			AccessToken  string `json:"accessToken"`
			RefreshToken string `json:"refreshToken"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(text), &ua); err != nil || status != 200 || ua.Data.AccessToken == "" || ua.Data.RefreshToken == "" {
		t.Fatalf("Users API login: HTTP %d %s", status, text)
	}
	sc.secret("Users API access token", ua.Data.AccessToken)
	sc.secret("Users API refresh token", ua.Data.RefreshToken)
	sc.handedOut[ua.Data.AccessToken] = len(sc.bodies) - 1
	sc.handedOut[ua.Data.RefreshToken] = len(sc.bodies) - 1
	uaHeaders := []string{"Authorization", "Bearer " + ua.Data.AccessToken, "Content-Type", "application/json"}
	uaFirstPW := pw("Users API create password")
	status, text, _ = sc.do("POST", "/api/users", jsonBody(map[string]any{"username": "uauser", "email": "ua@example.com",
		"name": "UA User", "password": uaFirstPW, "role": "user"}), uaHeaders...)
	if status != 201 {
		t.Fatalf("Users API create: HTTP %d %s", status, text)
	}
	uaPW := pw("Users API new password")
	if st, body, _ := sc.do("PUT", fmt.Sprintf("/api/users/%d/password", userKey(t, s, "uauser")), jsonBody(map[string]any{
		"currentPassword": uaFirstPW, "newPassword": uaPW, "confirmPassword": uaPW}), uaHeaders...); st >= 300 {
		t.Fatalf("Users API password change: HTTP %d %s", st, body)
	}
	sc.do("POST", "/api/auth/login", jsonBody(map[string]string{"username": "uauser", "password": pw("wrong Users API password")}), "Content-Type", "application/json")
	status, text, _ = sc.do("POST", "/api/auth/refresh", jsonBody(map[string]string{"refreshToken": ua.Data.RefreshToken}), "Content-Type", "application/json")
	var refreshed struct {
		Data struct {
			AccessToken string `json:"accessToken"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(text), &refreshed); err != nil || status != 200 || refreshed.Data.AccessToken == "" {
		t.Fatalf("Users API refresh: HTTP %d %s", status, text)
	}
	sc.secret("Users API refreshed access token", refreshed.Data.AccessToken)
	sc.handedOut[refreshed.Data.AccessToken] = len(sc.bodies) - 1
	sc.do("POST", "/api/auth/logout", jsonBody(map[string]string{"refreshToken": ua.Data.RefreshToken}),
		"Authorization", "Bearer "+refreshed.Data.AccessToken, "Content-Type", "application/json")
	uaKey, uaIDLen := usersapi.NewKey()
	issueKey(t, s, usersapi.Dialect, sc.secret("Users API key", uaKey), uaIDLen, "leaky")
	if st, body, _ := sc.do("GET", "/api/users", nil, "Authorization", "Bearer "+uaKey); st != 200 {
		t.Fatalf("Users API key: HTTP %d %s", st, body)
	}

	// XP-Dev: a token creates a user with a password; a wrong token.
	xpKey, xpIDLen := xpdev.NewKey()
	issueKey(t, s, xpdev.Dialect, sc.secret("XP-Dev token", xpKey), xpIDLen, "leaky")
	status, text, _ = sc.do("POST", "/api/v1/user", jsonBody(map[string]any{"username": "xpuser", "email": "xp@example.com",
		"password": pw("XP-Dev create password"), "timezone": "UTC", "userRole": "User"}), xpdev.TokenHeader, xpKey, "Content-Type", "application/json")
	if status >= 300 {
		t.Fatalf("XP-Dev create: HTTP %d %s", status, text)
	}
	sc.do("GET", "/api/v1/user", nil, xpdev.TokenHeader, sc.secret("wrong XP-Dev token", auth.RandomString(32)))

	// Every password that was accepted is stored as an argon2id hash.
	for name, password := range map[string]string{"leaky": p4, "admin": newAdminPW, "xsuser": "", "kim": "", "ptuser": "", "uauser": uaPW, "xpuser": ""} {
		u, err := s.Store.GetUserByUserName(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			t.Errorf("%s: password stored as %.12q…, not an argon2id hash", name, u.PasswordHash)
		}
		if password == "" {
			continue // set through a door; the hash format is what matters
		}
		if ok, err := auth.CheckPassword(u.PasswordHash, password); err != nil || !ok {
			t.Errorf("%s: the stored hash does not match the last password set (%v)", name, err)
		}
	}

	sc.scan(ctx, dbPath)
}

// issueKey stores an API key for a user as `scimbridge apikey create` does.
func issueKey(t *testing.T, s *apptest.Server, dialect, token string, idLen int, userName string) {
	t.Helper()
	if _, err := auth.IssueKey(context.Background(), s.Store, store.Actor{Door: "cli"}, dialect, token, idLen,
		userKey(t, s, userName), "ci", []string{"read", "write"}); err != nil {
		t.Fatal(err)
	}
}

func userKey(t *testing.T, s *apptest.Server, name string) int64 {
	u, err := s.Store.GetUserByUserName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.Key
}

// scan looks for every secret in the logs, the response bodies, the
// activity log and the database files.
func (sc *secretScan) scan(ctx context.Context, dbPath string) {
	t := sc.t
	places := map[string]string{"server log": sc.s.Logs()}
	if len(places["server log"]) == 0 {
		t.Fatal("the server logged nothing: the log scan would prove nothing")
	}
	acts, total, err := sc.s.Store.ListActivity(ctx, store.ActivityQuery{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != total || total < 10 {
		t.Fatalf("activity log: %d of %d entries", len(acts), total)
	}
	actJSON, _ := json.Marshal(acts)
	places["activity log"] = string(actJSON)
	if err := sc.s.Store.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		raw, err := os.ReadFile(dbPath + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		places["database file "+filepath.Base(dbPath+suffix)] = string(raw)
	}
	if len(places["database file secrets.db"]) < 4096 {
		t.Fatal("database file is empty: the scan would prove nothing")
	}
	for i, b := range sc.bodies {
		places[fmt.Sprintf("response %d (%s)", i, b.what)] = b.body
	}
	leaks := 0
	for value, what := range sc.secrets {
		for where, text := range places {
			if !strings.Contains(text, value) {
				continue
			}
			if i, ok := sc.handedOut[value]; ok && where == fmt.Sprintf("response %d (%s)", i, sc.bodies[i].what) {
				continue // the one answer that hands the token out
			}
			leaks++
			t.Errorf("LEAK: %s found in %s", what, where)
		}
	}
	t.Logf("scanned %d secrets in the server log (%d bytes), %d response bodies, %d activity entries and %d bytes of database files; %d leaks",
		len(sc.secrets), len(places["server log"]), len(sc.bodies), total,
		len(places["database file secrets.db"])+len(places["database file secrets.db-wal"])+len(places["database file secrets.db-shm"]), leaks)
	for value, i := range sc.handedOut {
		if !strings.Contains(sc.bodies[i].body, value) {
			t.Errorf("%s: the issuing answer does not contain it (the scan may be wrong)", sc.secrets[value])
		}
	}
}
