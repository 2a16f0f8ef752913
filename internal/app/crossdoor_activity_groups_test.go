// Cross-door tests for xyOps and XStudio: a SCIM user logs in through
// xyOps and sees SCIM changes in its activity; XStudio teams are SCIM
// groups; an XStudio profile given over SCIM grants its rights.
package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/internal/config"
)

func decode(t *testing.T, res *http.Response) map[string]any {
	t.Helper()
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: not JSON: %s", res.Request.URL, raw)
	}
	return out
}

// A user created over SCIM logs in through xyOps and sees a later SCIM
// change in its xyOps activity.
func TestCrossDoorSCIMToXyOps(t *testing.T) {
	s := apptest.Start(t)
	res := s.Do(t, "POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"xdoor","password":"Cross-Door-1","active":true,"displayName":"Cross Door",
		"emails":[{"value":"xdoor@example.com","primary":true}]}`)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("SCIM create: %d", res.StatusCode)
	}
	scimID := decode(t, res)["id"].(string)

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	res, err := client.Post(s.URL+"/api/user/login", "application/json",
		strings.NewReader(`{"username":"xdoor","password":"Cross-Door-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	login := decode(t, res)
	if login["code"] != 0.0 || login["user"].(map[string]any)["email"] != "xdoor@example.com" {
		t.Fatalf("xyOps login: %v", login)
	}

	res = s.Do(t, "PUT", "/scim/v2/Users/"+scimID, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"xdoor","active":true,"displayName":"Cross Door","title":"Auditor",
		"emails":[{"value":"xdoor@example.com","primary":true}]}`)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("SCIM replace: %d", res.StatusCode)
	}
	res.Body.Close()

	res, err = client.Get(s.URL + "/api/app/get_user_activity/v1")
	if err != nil {
		t.Fatal(err)
	}
	act := decode(t, res)
	rows, _ := act["rows"].([]any)
	if len(rows) < 3 {
		t.Fatalf("activity: %v", act)
	}
	first, second := rows[0].(map[string]any), rows[1].(map[string]any)
	if first["action"] != "user_update" || !strings.Contains(first["description"].(string), "via scim") ||
		second["action"] != "user_login" {
		t.Fatalf("activity rows: %v", rows)
	}
	if last := rows[len(rows)-1].(map[string]any); last["action"] != "user_create" {
		t.Fatalf("oldest row: %v", last)
	}
}

// A team created through XStudio is a SCIM Group, and a SCIM Group is an
// XStudio team.
func TestCrossDoorXStudioTeamsAreSCIMGroups(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) { c.Legacy.XStudio.AdminPassword = "xstudio-admin" })
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	post := func(command string, params url.Values) map[string]any {
		t.Helper()
		params.Set("command", command)
		res, err := client.Post(s.URL+"/xqual/api?"+params.Encode(), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		out := decode(t, res)
		if out["result"] != "success" {
			t.Fatalf("%s: %v", command, out)
		}
		return out
	}
	post("authenticate", url.Values{"username": {"admin"}, "password": {"xstudio-admin"}})
	post("createTeam", url.Values{"teamName": {"Release Managers"}})

	res := s.Do(t, "GET", "/scim/v2/Groups?filter="+url.QueryEscape(`displayName eq "Release Managers"`), nil)
	list := decode(t, res)
	if list["totalResults"] != 1.0 {
		t.Fatalf("SCIM groups: %v", list)
	}

	res = s.Do(t, "POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"From SCIM"}`)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("SCIM group create: %d", res.StatusCode)
	}
	res.Body.Close()
	res, err := client.Get(s.URL + "/xqual/api/getTeams")
	if err != nil {
		t.Fatal(err)
	}
	teams := decode(t, res)["teams"].([]any)
	var names []string
	for _, tm := range teams {
		names = append(names, tm.(map[string]any)["name"].(string))
	}
	if strings.Join(names, ",") != "Release Managers,From SCIM" {
		t.Fatalf("XStudio teams: %v", names)
	}
}

// An XStudio profile assigned over SCIM (as a role) grants its rights, and
// a change made through XStudio shows in the user's xyOps activity.
func TestCrossDoorXStudioProfilesAndXyOpsActivity(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) { c.Legacy.XStudio.AdminPassword = "xstudio-admin" })
	xstudio := func(user, pw string) func(method, command string, params url.Values, body io.Reader, ctype string) map[string]any {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		call := func(method, command string, params url.Values, body io.Reader, ctype string) map[string]any {
			t.Helper()
			req, _ := http.NewRequest(method, s.URL+"/xqual/api/"+command+"?"+params.Encode(), body)
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return decode(t, res)
		}
		if r := call("POST", "authenticate", url.Values{"username": {user}, "password": {pw}}, nil, ""); r["result"] != "success" {
			t.Fatalf("authenticate %s: %v", user, r)
		}
		return call
	}
	admin := xstudio("admin", "xstudio-admin")
	body := "--b\r\nContent-Disposition: form-data; name=\"rights\"\r\n\r\n[{\"module\":\"users\",\"rights\":[\"read\"]}]\r\n--b--\r\n"
	r := admin("POST", "createProfile", url.Values{"profileName": {"Viewer"}}, strings.NewReader(body), "multipart/form-data; boundary=b")
	if r["result"] != "success" {
		t.Fatalf("createProfile: %v", r)
	}
	profileID := strings.TrimSuffix(jsonString(r["profileId"]), ".0")

	res := s.Do(t, "POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"viewer","password":"Viewer-Pw-1","active":true,
		"roles":[{"type":"xstudio.profile","value":"`+profileID+`"}]}`)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("SCIM create: %d", res.StatusCode)
	}
	res.Body.Close()
	viewer := xstudio("viewer", "Viewer-Pw-1")
	if r := viewer("GET", "getUsersTree", url.Values{}, nil, ""); r["result"] != "success" {
		t.Fatalf("viewer cannot read the tree: %v", r)
	}
	if r := viewer("GET", "getUserForm", url.Values{}, nil, ""); r["message"] != "insufficient rights" {
		t.Fatalf("viewer may create users: %v", r)
	}
	rights := viewer("GET", "getUserActionRights", url.Values{}, nil, "")
	if jsonString(rights["rights"]) != `[{"module":"users","rights":["read"]}]` {
		t.Fatalf("viewer rights: %v", rights)
	}

	// The admin renames the viewer's family name through XStudio …
	u, err := s.Store.GetUserByUserName(t.Context(), "viewer")
	if err != nil {
		t.Fatal(err)
	}
	body = "--b\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\n" + jsonString(u.Key) +
		"\r\n--b\r\nContent-Disposition: form-data; name=\"lastName\"\r\n\r\nWatcher\r\n--b--\r\n"
	if r := admin("POST", "updateUserDetails", url.Values{}, strings.NewReader(body), "multipart/form-data; boundary=b"); r["result"] != "success" {
		t.Fatalf("updateUserDetails: %v", r)
	}
	// … and the viewer sees it in its xyOps activity.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	res, err = client.Post(s.URL+"/api/user/login", "application/json", strings.NewReader(`{"username":"viewer","password":"Viewer-Pw-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = client.Get(s.URL + "/api/app/get_user_activity/v1?limit=10")
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, row := range decode(t, res)["rows"].([]any) {
		row := row.(map[string]any)
		if row["action"] == "user_update" && strings.Contains(row["description"].(string), "via xstudio by admin") {
			found = true
		}
	}
	if !found {
		t.Fatal("the XStudio change is not in the xyOps activity")
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
