package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/ldapsync"
	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
)

// Directory users reach the other doors: SCIM lists them and their groups,
// and a legacy login checks the password by a bind to the directory.
func TestSyncedUsersThroughSCIMAndLegacyLogin(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: `dn: uid=alice,` + ldaptest.PeopleDN + `
objectClass: inetOrgPerson
uid: alice
cn: Alice Smith
givenName: Alice
sn: Smith
mail: alice@example.com
userPassword: ` + ldaptest.HashPassword("wonderland") + `

dn: cn=dev,` + ldaptest.GroupsDN + `
objectClass: groupOfNames
cn: dev
member: uid=alice,` + ldaptest.PeopleDN + `
`})
	s := apptest.Start(t, func(c *config.Config) {
		c.LDAP.Sources = []ldapsync.SourceConfig{{
			Name: "corp", URL: srv.URL, BindDN: ldaptest.SyncDN, BindPassword: ldaptest.SyncPassword,
			Users: ldapsync.UserSearch{BaseDN: ldaptest.PeopleDN}, Groups: ldapsync.GroupSearch{BaseDN: ldaptest.GroupsDN},
		}}
	})
	rep, err := s.App.Syncer().SyncOnce(context.Background(), "corp", ldapsync.RunOptions{})
	if err != nil || rep.Users.Created != 1 || rep.Groups.Created != 1 {
		t.Fatalf("sync: %v %s", err, rep.Summary())
	}

	get := func(path string) map[string]any {
		t.Helper()
		resp := s.Do(t, "GET", path, nil)
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		return body
	}
	users := get("/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "alice"`))
	if users["totalResults"] != float64(1) {
		t.Fatalf("SCIM users: %v", users)
	}
	alice := users["Resources"].([]any)[0].(map[string]any)
	if alice["name"].(map[string]any)["familyName"] != "Smith" || alice["active"] != true {
		t.Fatalf("SCIM alice: %v", alice)
	}
	groups := get("/scim/v2/Groups?filter=" + url.QueryEscape(`displayName eq "dev"`))
	dev := groups["Resources"].([]any)[0].(map[string]any)
	members, _ := dev["members"].([]any)
	if len(members) != 1 || members[0].(map[string]any)["value"] != alice["id"] {
		t.Fatalf("SCIM dev members: %v", dev)
	}

	login := func(password string) map[string]any {
		t.Helper()
		resp, err := http.Post(s.URL+"/api/user/login", "application/json",
			strings.NewReader(`{"username":"alice","password":"`+password+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body
	}
	if r := login("wonderland"); r["code"] != float64(0) {
		t.Fatalf("login with the directory password: %v", r)
	}
	if r := login("wrong"); r["code"] != "login" {
		t.Fatalf("login with a wrong password: %v", r)
	}
}
