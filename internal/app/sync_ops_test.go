package app_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/ldapsync"
	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
)

// TestSyncThroughAdminReadyzAndMetrics runs a directory sync the way an
// operator would, against a real slapd, and reads its outcome from /readyz
// and /metrics.
func TestSyncThroughAdminReadyzAndMetrics(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: `dn: uid=ops1,` + ldaptest.PeopleDN + `
objectClass: inetOrgPerson
uid: ops1
cn: Ops One
sn: One
mail: ops1@example.com
`})
	s := apptest.Start(t, func(c *config.Config) {
		c.LDAP.Sources = []ldapsync.SourceConfig{{
			Name: "corp", URL: srv.URL, BindDN: ldaptest.SyncDN, BindPassword: ldaptest.SyncPassword,
			Users: ldapsync.UserSearch{BaseDN: ldaptest.PeopleDN}, Groups: ldapsync.GroupSearch{BaseDN: ldaptest.GroupsDN},
		}}
	})
	_, body, _ := get(t, s.URL+"/readyz")
	if !strings.Contains(body, `"name":"corp","state":"never-run"`) {
		t.Fatalf("readyz before a run: %s", body)
	}
	admin := []string{"Authorization", "Bearer " + apptest.AdminToken}
	if status, _, _ := send(t, "POST", s.URL+"/admin/sync/run?source=corp&wait=true", ""); status != 401 {
		t.Fatalf("sync run without admin token: %d", status)
	}
	status, body, _ := send(t, "POST", s.URL+"/admin/sync/run?source=corp&wait=true", "", admin...)
	var run struct {
		Reports []struct {
			Users struct{ Created int } `json:"users"`
		} `json:"reports"`
	}
	if err := json.Unmarshal([]byte(body), &run); err != nil || status != 200 || len(run.Reports) != 1 || run.Reports[0].Users.Created != 1 {
		t.Fatalf("sync run: %d %s", status, body)
	}
	_, body, _ = get(t, s.URL+"/readyz")
	if !strings.Contains(body, `"name":"corp","state":"ok"`) || !strings.Contains(body, "lastSuccess") {
		t.Fatalf("readyz after a run: %s", body)
	}
	if strings.Contains(body, srv.URL) || strings.Contains(body, ldaptest.SyncDN) {
		t.Fatalf("readyz reveals the directory: %s", body)
	}
	_, metrics, _ := get(t, s.URL+"/metrics")
	for _, want := range []string{
		`scimbridge_sync_runs_total{outcome="success",source="corp"} 1`,
		`scimbridge_sync_last_run_objects{result="created",source="corp",type="users"} 1`,
		`scimbridge_sync_consecutive_failures{source="corp"} 0`,
		`scimbridge_sync_last_run_duration_seconds{source="corp"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The directory goes away: the next run fails and readyz says so,
	// while the server itself stays ready.
	srv.Stop()
	status, _, _ = send(t, "POST", s.URL+"/admin/sync/run?source=corp&wait=true", "", admin...)
	if status == 200 {
		t.Fatalf("sync with the directory down answered %d", status)
	}
	status, body, _ = get(t, s.URL+"/readyz")
	if status != 200 || !strings.Contains(body, `"state":"failing"`) {
		t.Fatalf("readyz with a failing source: %d %s", status, body)
	}
	_, metrics, _ = get(t, s.URL+"/metrics")
	if !strings.Contains(metrics, `scimbridge_sync_runs_total{outcome="failure",source="corp"} 1`) {
		t.Error("failed run not counted")
	}
}
