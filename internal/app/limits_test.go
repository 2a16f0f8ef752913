package app_test

// The store's limits hold in every door: the same oversized or malformed
// value is refused by each, in that door's own format, and nothing is
// written; whatever a door accepts, SCIM can read and write back.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/legacyapi/usersapi"
	"github.com/scimbridge/scimbridge/legacyapi/xyops"
	"github.com/scimbridge/scimbridge/store"
)

// limitDoors is a running scimbridge with an administrator holding a Users
// API key and an xyOps key, and the XStudio admin logged in.
type limitDoors struct {
	t                       *testing.T
	srv                     *apptest.Server
	usersKey, xyKey, xsSess string
}

const xstudioLimitsPassword = "Xs-limits-admin-password"

func startLimitDoors(t *testing.T) *limitDoors {
	t.Helper()
	srv := apptest.Start(t, func(c *config.Config) {
		c.Legacy.XStudio.AdminPassword = xstudioLimitsPassword
		c.Legacy.XStudio.AdminEmail = "xsadmin@example.com"
	})
	d := &limitDoors{t: t, srv: srv}
	status, body := d.send("POST", "/scim/v2/Users", strings.NewReader(`{"schemas":["`+userSchema+`"],
		"userName":"boss","roles":[{"value":"admin"},{"value":"admin","type":"xyops.privilege"}],
		"emails":[{"value":"boss@example.com","primary":true}],"password":"boss-password"}`),
		"Authorization", "Bearer "+apptest.Token, "Content-Type", "application/scim+json")
	if status != 201 {
		t.Fatalf("SCIM create admin: HTTP %d %s", status, body)
	}
	boss, err := srv.Store.GetUserByUserName(context.Background(), "boss")
	if err != nil {
		t.Fatal(err)
	}
	issue := func(dialect, token string, n int) string {
		if _, err := auth.IssueKey(context.Background(), srv.Store, store.Actor{Door: "test"}, dialect, token, n,
			boss.Key, "limits", []string{"read", "write"}); err != nil {
			t.Fatal(err)
		}
		return token
	}
	usersKey, n := usersapi.NewKey()
	d.usersKey = issue(usersapi.Dialect, usersKey, n)
	xyKey, _ := xyops.NewKey()
	d.xyKey = issue(xyops.Dialect, xyKey, 0)

	req, err := http.NewRequest("POST", srv.URL+"/xqual/api?command=authenticate", strings.NewReader(url.Values{
		"username": {"admin"}, "password": {xstudioLimitsPassword}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if d.xsSess = cookieOf(res, "JSESSIONID"); d.xsSess == "" {
		t.Fatalf("XStudio login: HTTP %d", res.StatusCode)
	}
	return d
}

// send makes a request; headers are name/value pairs.
func (d *limitDoors) send(method, path string, body io.Reader, headers ...string) (int, string) {
	d.t.Helper()
	req, err := http.NewRequest(method, d.srv.URL+path, body)
	if err != nil {
		d.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	return res.StatusCode, string(raw)
}

func (d *limitDoors) scim(method, path string, doc any) (int, string) {
	d.t.Helper()
	raw, _ := json.Marshal(doc)
	return d.send(method, "/scim/v2"+path, bytes.NewReader(raw), "Authorization", "Bearer "+apptest.Token,
		"Content-Type", "application/scim+json")
}

func (d *limitDoors) usersAPI(fields map[string]any) (int, string) {
	d.t.Helper()
	return d.send("POST", "/api/users", jsonBody(fields), "Authorization", "Bearer "+d.usersKey, "Content-Type", "application/json")
}

func (d *limitDoors) xyOps(fields map[string]any) (int, string) {
	d.t.Helper()
	return d.send("POST", "/api/user/admin_create", jsonBody(fields), "X-API-Key", d.xyKey, "Content-Type", "application/json")
}

func (d *limitDoors) xStudio(fields map[string]string) (int, string) {
	d.t.Helper()
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	mw.Close()
	return d.send("POST", "/xqual/api?command=createUser", &form, "Content-Type", mw.FormDataContentType(),
		"Cookie", "JSESSIONID="+d.xsSess)
}

// counts is what a refused request must not change.
func (d *limitDoors) counts() [2]int {
	d.t.Helper()
	page, err := d.srv.Store.ListUsers(context.Background(), store.Query{Limit: 0})
	if err != nil {
		d.t.Fatal(err)
	}
	_, acts, err := d.srv.Store.ListActivity(context.Background(), store.ActivityQuery{Limit: 1, Action: "user.create"})
	if err != nil {
		d.t.Fatal(err)
	}
	return [2]int{page.Total, acts}
}

// TestEveryDoorRefusesWhatTheStoreRefuses sends the values the fault tests
// got through (a 1,000,004-byte userName, megabyte names, a NUL in a
// userName) to every door that creates users from free-form strings.
func TestEveryDoorRefusesWhatTheStoreRefuses(t *testing.T) {
	d := startLimitDoors(t)
	huge := strings.Repeat("a", 1_000_004)
	const pw = "limits-password-1"
	for _, tc := range []struct {
		name   string
		send   func() (int, string)
		status int
		want   string // in the body
	}{
		{"Users API userName", func() (int, string) {
			return d.usersAPI(map[string]any{"name": "Huge", "email": "h1@example.com", "password": pw, "username": huge})
		}, 422, `"details":{"userName":"userName is longer than 256 characters"}`},
		{"Users API name", func() (int, string) {
			return d.usersAPI(map[string]any{"name": huge, "email": "h2@example.com", "password": pw})
		}, 422, `is longer than 1024 characters`},
		{"Users API NUL in userName", func() (int, string) {
			return d.usersAPI(map[string]any{"name": "Nul", "email": "h3@example.com", "password": pw, "username": "nul\x00admin"})
		}, 422, `"details":{"userName":"userName must not contain control characters (U+0000)"}`},
		{"xyOps userName", func() (int, string) {
			return d.xyOps(map[string]any{"username": huge, "email": "h4@example.com", "full_name": "Huge", "password": pw})
		}, 200, `{"code":"api","description":"Invalid parameter: userName is longer than 256 characters"}`},
		{"xyOps full_name", func() (int, string) {
			return d.xyOps(map[string]any{"username": "hugename", "email": "h5@example.com", "full_name": huge, "password": pw})
		}, 200, `{"code":"api","description":"Invalid parameter: displayName is longer than 1024 characters"}`},
		{"XStudio name", func() (int, string) {
			return d.xStudio(map[string]string{"name": huge, "email": "h6@example.com", "password": pw})
		}, 200, `{"message":"userName is longer than 256 characters","result":"failure"}`},
		{"XStudio first name", func() (int, string) {
			return d.xStudio(map[string]string{"name": "hugefirst", "firstName": huge, "email": "h7@example.com", "password": pw})
		}, 200, `{"message":"name.givenName is longer than 1024 characters","result":"failure"}`},
		{"XStudio U+202E in name", func() (int, string) {
			return d.xStudio(map[string]string{"name": "\u202Enimda", "email": "h8@example.com", "password": pw})
		}, 200, `{"message":"userName must not contain invisible formatting characters (U+202E)","result":"failure"}`},
		{"SCIM NUL in userName", func() (int, string) {
			return d.scim("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "scim\x00admin"})
		}, 400, `"scimType":"invalidValue","detail":"userName must not contain control characters (U+0000)"`},
		{"SCIM userName", func() (int, string) {
			return d.scim("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": huge})
		}, 400, `"scimType":"invalidValue","detail":"userName is longer than 256 characters"`},
		// The one string the store never sees keeps SCIM's own limit.
		{"SCIM password", func() (int, string) {
			return d.scim("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "longpw",
				"password": strings.Repeat("p", store.MaxTextBytes+1)})
		}, 400, `"scimType":"invalidValue","detail":"password is longer than 65536 bytes"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := d.counts()
			status, body := tc.send()
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("HTTP %d %.300s\nwant HTTP %d with %s", status, body, tc.status, tc.want)
			}
			if after := d.counts(); after != before {
				t.Fatalf("a refused create was written: users and creates %v → %v", before, after)
			}
		})
	}
}

// TestWhatADoorAcceptsSCIMWritesBack: a user at the limits, created
// through a legacy door, reads through SCIM and goes back with PUT as it
// came (the fault tests found megabyte names SCIM could not write back).
func TestWhatADoorAcceptsSCIMWritesBack(t *testing.T) {
	d := startLimitDoors(t)
	name := strings.Repeat("n", store.MaxUserNameLen)
	status, body := d.xyOps(map[string]any{"username": name, "email": "limit@example.com",
		"full_name": strings.Repeat("é", store.MaxNameLen), "password": "limits-password-1"})
	if status != 200 || !strings.HasPrefix(body, `{"code":0`) {
		t.Fatalf("xyOps create at the limits: HTTP %d %.300s", status, body)
	}
	u, err := d.srv.Store.GetUserByUserName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	status, body = d.scim("GET", "/Users/"+u.ID, nil)
	if status != 200 {
		t.Fatalf("SCIM GET: HTTP %d %.300s", status, body)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if status, body = d.scim("PUT", "/Users/"+u.ID, doc); status != 200 {
		t.Fatalf("SCIM PUT of what SCIM read: HTTP %d %.300s", status, body)
	}
}
