package usersapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/legacyapi/legacytest"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

var (
	fuzzMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	// fuzzPaths: {id} is replaced by the fuzzed id.
	fuzzPaths = []string{
		"/api/users", "/api/users/", "/api/users/stats", "/api/users/{id}", "/api/users/{id}/status",
		"/api/users/{id}/password", "/api/users/{id}/reset-password", "/api/users/{id}/permissions",
		"/api/users/{id}/activity", "/api/auth/login", "/api/auth/refresh", "/api/auth/logout",
	}
)

// fuzzEnv is a live Users API on a real SQLite file with an admin's
// read+write key.
type fuzzEnv struct {
	h    http.Handler
	key  string
	logs *bytes.Buffer
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	st := legacytest.OpenStore(f, nil)
	e := &fuzzEnv{logs: &bytes.Buffer{}}
	r := mux.NewRouter()
	Mount(r, Config{LockoutFailures: -1}, legacyapi.Deps{Store: st, MaxBody: 64 << 10, Passwords: &auth.Verifier{},
		Log: slog.New(slog.NewTextHandler(e.logs, nil))})
	e.h = r
	admin := storetest.CreateUser(f, st, &store.User{UserName: "ada", Active: true, Roles: []store.Value{{Value: "admin"}},
		Emails: []store.Value{{Value: "admin@example.com", Primary: true}}})
	storetest.CreateUser(f, st, &store.User{UserName: "user", Active: true, Emails: []store.Value{{Value: "user@example.com"}}})
	token, n := NewKey()
	legacytest.IssueKey(f, st, Dialect, token, n, admin.Key, "fuzz", "read", "write")
	e.key = token
	return e
}

// FuzzRequest sends any method, route, id, query and body. The answer must
// be the API's own: never a 5xx (its handlers turn panics into 500s);
// errors are {"success":false,"error":…,"message":…} with both texts set;
// successes are {"success":true,…}.
func FuzzRequest(f *testing.F) {
	f.Add(uint8(1), uint8(0), "", "", []byte(`{"username":"new","email":"new@example.com","password":"Secret-123","role":"user"}`), true)
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, method, route uint8, id, query string, body []byte, withKey bool) {
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		path := fuzzPaths[int(route)%len(fuzzPaths)]
		path = string(bytes.ReplaceAll([]byte(path), []byte("{id}"), []byte(url.PathEscape(id))))
		req, err := http.NewRequest(m, "http://127.0.0.1"+path+"?"+query, bytes.NewReader(body))
		if err != nil {
			return // not a URL a client can send
		}
		req.Header.Set("Content-Type", "application/json")
		if withKey {
			req.Header.Set("Authorization", "Bearer "+e.key)
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		res := rec.Result()
		raw := rec.Body.Bytes()
		if res.StatusCode == http.StatusMovedPermanently && res.Header.Get("Location") != "" {
			return // the router's own redirect to the clean path ("/users/." → "/users/")
		}
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s?%s: HTTP %d %s\nlog: %s", m, path, query, res.StatusCode, raw, e.logs.String())
		}
		var doc struct {
			Success *bool  `json:"success"`
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			if res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed {
				// The router's plain answers for paths outside the API
				// (an id with a slash) are not the dialect's.
				return
			}
			t.Fatalf("%s %s?%s: HTTP %d, not JSON: %q", m, path, query, res.StatusCode, raw)
		}
		switch {
		case doc.Success == nil:
			t.Fatalf("%s %s?%s: HTTP %d without success: %s", m, path, query, res.StatusCode, raw)
		case res.StatusCode >= 400 && (*doc.Success || doc.Error == "" || doc.Message == ""):
			t.Fatalf("%s %s?%s: malformed error (HTTP %d): %s", m, path, query, res.StatusCode, raw)
		case res.StatusCode < 400 && !*doc.Success:
			t.Fatalf("%s %s?%s: HTTP %d but success false: %s", m, path, query, res.StatusCode, raw)
		}
	})
}
