package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/ldapsync"
	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
)

// A user created and given a new password over SCIM reaches the directory
// with its password, through the running server's write-back (woken by the
// SCIM write itself); /readyz, /metrics and the admin API show the outbox.
func TestWriteBackThroughSCIM(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{SyncWrites: true})
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "wb.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	s := apptest.Start(t, func(c *config.Config) {
		c.LDAP.Sources = []ldapsync.SourceConfig{{
			Name: "corp", URL: srv.URL, BindDN: ldaptest.SyncDN, BindPassword: ldaptest.SyncPassword,
			Users: ldapsync.UserSearch{BaseDN: ldaptest.PeopleDN}, Groups: ldapsync.GroupSearch{BaseDN: ldaptest.GroupsDN},
			Interval: time.Hour,
			WriteBack: ldapsync.WriteBack{Enabled: true, UserBase: ldaptest.PeopleDN, GroupBase: ldaptest.GroupsDN,
				PasswordKeyFile: keyFile, PollInterval: time.Hour},
		}}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.App.RunBackground(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	resp := s.Do(t, "POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"zoe","password":"first-Pass1","name":{"givenName":"Zoe","familyName":"Quinn"},
		"emails":[{"value":"zoe@example.com","primary":true}]}`)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	dn := "uid=zoe," + ldaptest.PeopleDN
	bind := func(pw string) bool {
		c, err := ldap.DialURL(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.Bind(dn, pw) == nil
	}
	// The poll interval is an hour: only the SCIM write's wake-up delivers.
	waitFor(t, 10*time.Second, "zoe in the directory with her password", func() bool { return bind("first-Pass1") })

	u, err := s.DB.GetUserByUserName(context.Background(), "zoe")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "zoe linked to her entry", func() bool {
		u, err = s.DB.GetUserByUserName(context.Background(), "zoe")
		return err == nil && u.Source.Name == "corp" && u.Source.ID != ""
	})
	resp = s.Do(t, "PATCH", "/scim/v2/Users/"+u.ID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"replace","value":{"password":"second-Pass2","title":"Pilot"}}]}`)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("patch: %d", resp.StatusCode)
	}
	waitFor(t, 10*time.Second, "the new password in the directory", func() bool { return bind("second-Pass2") && !bind("first-Pass1") })

	_, body, _ := get(t, s.URL+"/readyz")
	if !strings.Contains(body, `"writeBack":{"state":"ok","pending":0,"dead":0`) {
		t.Fatalf("readyz: %s", body)
	}
	_, metrics, _ := get(t, s.URL+"/metrics")
	for _, want := range []string{"scimbridge_writeback_pending 0", "scimbridge_writeback_dead 0",
		"scimbridge_writeback_delivered_total 3", `scimbridge_writeback_source_consecutive_failures{source="corp"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	status, body, _ := send(t, "GET", s.URL+"/admin/sync/writeback", "", "Authorization", "Bearer "+apptest.AdminToken)
	if status != 200 || !strings.Contains(body, `"pending":0`) {
		t.Fatalf("admin write-back status: %d %s", status, body)
	}
	if strings.Contains(s.Logs(), "first-Pass1") || strings.Contains(s.Logs(), "second-Pass2") {
		t.Fatal("a password reached the logs")
	}
}

// waitFor polls cond until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
