package ldapsync

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store"
)

func TestAdminEndpoint(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "Alice", "A", "")})
	st := newStore(t)
	s := newSyncer(t, st, sourceFor(srv))
	mux := http.NewServeMux()
	mux.Handle("/admin/sync/", s.AdminHandler())
	hs := httptest.NewServer(mux)
	defer hs.Close()

	do := func(method, path string, wantStatus int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, hs.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v", method, path, err)
		}
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: status %d, want %d: %v", method, path, resp.StatusCode, wantStatus, body)
		}
		return body
	}
	body := do("GET", "/admin/sync/status", 200)
	srcs := body["sources"].([]any)
	if len(srcs) != 1 || srcs[0].(map[string]any)["name"] != "corp" || srcs[0].(map[string]any)["lastRun"] != nil {
		t.Fatalf("status before any run: %v", body)
	}
	body = do("POST", "/admin/sync/run?source=corp&full=true&wait=true", 200)
	rep := body["reports"].([]any)[0].(map[string]any)
	if rep["mode"] != "full" || rep["users"].(map[string]any)["created"] != float64(1) {
		t.Fatalf("run report: %v", body)
	}
	if u := mustUser(t, st, "alice"); u.Source.Name != "corp" {
		t.Fatal("run over HTTP did not sync")
	}
	body = do("GET", "/admin/sync/", 200)
	last := body["sources"].([]any)[0].(map[string]any)
	if last["lastRun"] == nil || last["lastSuccess"] == nil || last["consecutiveFailures"] != float64(0) {
		t.Fatalf("status after run: %v", body)
	}
	do("POST", "/admin/sync/run?source=nope", 404)
	do("GET", "/admin/sync/run", 405)
	do("POST", "/admin/sync/status", 405)
	do("POST", "/admin/sync/run?full=maybe", 400)
	do("GET", "/admin/sync/other", 404)

	// Without wait the run starts in the background.
	do("POST", "/admin/sync/run", 202)
	waitFor(t, 10*time.Second, "the background run", func() bool {
		st := s.Status()[0]
		return !st.Running && st.LastRun != nil && st.LastRun.Mode == "incremental"
	})
	s.bg.Wait()
}

// The admin API shows the write-back's state and its dead changes, and
// lets an operator retry them and deliver now.
func TestAdminWriteBackEndpoints(t *testing.T) {
	srv := writableServer(t, ldaptest.Options{LDIF: "dn: uid=kim," + ldaptest.PeopleDN + "\nobjectClass: inetOrgPerson\nuid: kim\ncn: K\nsn: K\n\n"})
	st := newStore(t)
	cfg := writeBackFor(t, srv)
	cfg.WriteBack.LinkAttribute = "none"
	s := newSyncer(t, st, cfg)
	hs := httptest.NewServer(s.AdminHandler())
	defer hs.Close()
	do := func(method, path string, wantStatus int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, hs.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: %d %v (want %d)", method, path, resp.StatusCode, body, wantStatus)
		}
		return body
	}
	createUser(t, s, st, &store.User{UserName: "kim", Active: true, Name: store.Name{FamilyName: "K"}})
	createUser(t, s, st, &store.User{UserName: "lee", Active: true, Name: store.Name{FamilyName: "L"}})
	body := do("GET", "/admin/sync/writeback", 200)
	if wb := body["writeBack"].(map[string]any); wb["pending"] != float64(2) || wb["dead"] != float64(0) || wb["oldestSeconds"] == nil {
		t.Fatalf("status with two pending: %v", body)
	}
	body = do("POST", "/admin/sync/writeback/deliver", 200)
	if rep := body["report"].(map[string]any); rep["delivered"] != float64(1) || rep["dead"] != float64(1) {
		t.Fatalf("deliver: %v", body)
	}
	body = do("GET", "/admin/sync/writeback/", 200)
	dead := body["dead"].([]any)
	if len(dead) != 1 || dead[0].(map[string]any)["object"] != "User kim" ||
		!strings.Contains(dead[0].(map[string]any)["lastError"].(string), "already exists") ||
		body["writeBack"].(map[string]any)["lastError"] == nil {
		t.Fatalf("dead letters: %v", body)
	}
	seq := int64(dead[0].(map[string]any)["seq"].(float64))
	do("POST", "/admin/sync/writeback/retry?seq=x", 400)
	do("GET", "/admin/sync/writeback/retry", 405)
	do("POST", "/admin/sync/writeback", 405)
	do("POST", "/admin/sync/writeback/other", 404)
	if body = do("POST", "/admin/sync/writeback/retry?seq="+strconv.FormatInt(seq, 10), 200); body["revived"] != float64(1) {
		t.Fatalf("retry: %v", body)
	}
	if body = do("GET", "/admin/sync/writeback", 200); body["writeBack"].(map[string]any)["pending"] != float64(1) {
		t.Fatalf("after retry: %v", body)
	}
	// The sync endpoints are still there beside.
	do("GET", "/admin/sync/status", 200)

	plain := newSyncer(t, newStore(t), sourceFor(srv))
	hp := httptest.NewServer(plain.AdminHandler())
	defer hp.Close()
	resp, err := http.Get(hp.URL + "/admin/sync/writeback")
	if err != nil || resp.StatusCode != 404 {
		t.Fatalf("write-back endpoint without write-back: %v %v", resp, err)
	}
	resp.Body.Close()
}
