package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/ldapsync"
	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
)

// With the directory down, a login of a directory user has one outcome per
// door, in the door's own format: the door's answer to an unavailable
// store (auth.ErrDirectoryUnavailable is store.KindUnavailable), as
// legacyapi/README.md lists.
func TestLoginWithTheDirectoryDown(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: "dn: uid=alice," + ldaptest.PeopleDN +
		"\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice\nsn: A\nmail: alice@example.com\nuserPassword: " +
		ldaptest.HashPassword("wonderland") + "\n"})
	s := apptest.Start(t, func(c *config.Config) {
		c.LDAP.Sources = []ldapsync.SourceConfig{{
			Name: "corp", URL: srv.URL, BindDN: ldaptest.SyncDN, BindPassword: ldaptest.SyncPassword,
			Users: ldapsync.UserSearch{BaseDN: ldaptest.PeopleDN},
		}}
	})
	if _, err := s.App.Syncer().SyncOnce(context.Background(), "corp", ldapsync.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()

	post := func(path, contentType, body string) (int, http.Header, map[string]any) {
		t.Helper()
		resp, err := http.Post(s.URL+path, contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, raw)
		}
		return resp.StatusCode, resp.Header, out
	}
	for _, tc := range []struct {
		door, path, contentType, body string
		status                        int
		field, want                   string
	}{
		{"xyops", "/api/user/login", "application/json", `{"username":"alice","password":"wonderland"}`, 200, "code", "busy"},
		{"usersapi", "/api/auth/login", "application/json", `{"username":"alice","password":"wonderland"}`, 503, "error", "Authentication service unavailable"},
		{"xstudio", "/xqual/api?command=authenticate&username=alice&password=wonderland", "application/x-www-form-urlencoded", "", 200, "message", "service unavailable"},
	} {
		status, header, body := post(tc.path, tc.contentType, tc.body)
		if status != tc.status || body[tc.field] != tc.want {
			t.Errorf("%s login with the directory down: %d %v, want %d %s=%q", tc.door, status, body, tc.status, tc.field, tc.want)
		}
		if tc.door != "usersapi" && header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", tc.door)
		}
	}
}
