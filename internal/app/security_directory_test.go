package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/ldapsync"
	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/legacyapi/usersapi"
)

// Finding 5: directory linking by e-mail (link_by: [userName, emails],
// the default) adopted a local account that held its own API key: after
// the sync the key belonged to the directory user (and would carry the
// directory's groups), an account takeover of every new directory user
// whose address someone registered first. Now the entry is skipped and
// reported as a credential conflict; the key stays with the local
// account, which stays local, and the directory's alice is not made.
func TestSecurityDirectoryLinkingNeverAdoptsCredentials(t *testing.T) {
	dir := ldaptest.Start(t, ldaptest.Options{LDIF: `dn: uid=alice,` + ldaptest.PeopleDN + `
objectClass: inetOrgPerson
uid: alice
cn: Alice Smith
givenName: Alice
sn: Smith
mail: alice@example.com
userPassword: ` + ldaptest.HashPassword("wonderland") + `
`})
	s := startSec(t, false, func(c *config.Config) {
		c.LDAP.Sources = []ldapsync.SourceConfig{{
			Name: "corp", URL: dir.URL, BindDN: ldaptest.SyncDN, BindPassword: ldaptest.SyncPassword,
			Users: ldapsync.UserSearch{BaseDN: ldaptest.PeopleDN},
		}}
	})
	// mallory registered alice's address first and holds a Users API key.
	status, m := s.scim("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"mallory","emails":[{"value":"alice@example.com","primary":true}]}`)
	if status != 201 {
		t.Fatalf("SCIM create mallory: %d %v", status, m)
	}
	mallory := s.stored("mallory")
	key := s.key(usersapi.Dialect, usersapi.NewKey, mallory)

	rep, err := s.srv.App.Syncer().SyncOnce(context.Background(), "corp", ldapsync.RunOptions{})
	if rep == nil {
		t.Fatalf("sync: %v", err)
	}
	if rep.Users.Linked != 0 || rep.CredentialConflicts != 1 || len(rep.Errors) != 1 ||
		!strings.Contains(rep.Errors[0].Error, `local user mallory (same e-mail "alice@example.com") holds 1 API key (usersapi)`) {
		t.Fatalf("sync: %v %s %+v", err, rep.Summary(), rep.Errors)
	}
	if u := s.stored("mallory"); u.Source.Name != "" || u.ID != mallory.ID {
		t.Fatalf("mallory was linked to the directory: %+v", u.Source)
	}
	status, d := s.usersAPIAs(key, "GET", fmt.Sprintf("/%d", mallory.Key), "")
	if status != 200 || d["username"] != "mallory" {
		t.Fatalf("mallory's key after the sync: %d %v", status, d)
	}
	// The directory's alice is not reachable through mallory's key by any
	// name: it was not made, and mallory's view is mallory's own.
	if _, err := s.srv.Store.GetUserByUserName(context.Background(), "alice"); err == nil {
		t.Fatal("a user alice was created beside mallory's address")
	}
}
