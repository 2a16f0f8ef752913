package ldapsync

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
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
