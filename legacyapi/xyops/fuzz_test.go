package xyops

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/legacyapi/legacytest"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// fuzzCalls are the API names FuzzRequest sends its body to (the last one
// is unknown, to reach the router's own error).
var fuzzCalls = []string{
	"/api/user/login", "/api/user/resume_session", "/api/user/logout",
	"/api/user/admin_create", "/api/user/admin_update", "/api/user/admin_delete",
	"/api/user/admin_get_user", "/api/user/admin_get_users",
	"/api/app/get_user_activity/v1", "/api/app/user_settings/v1", "/api/app/logout_all/v1",
	"/api/app/get_user_activity", "/api/app/user_settings", "/api/user/no_such_call",
}

// fuzzEnv is a live xyOps door on a real SQLite file with an admin who
// holds a session and an API key.
type fuzzEnv struct {
	h             http.Handler
	st            store.Store
	cookie, csrf  string
	apiKey        string
	logs          *bytes.Buffer
	adminPassword string
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	st := legacytest.OpenStore(f, nil)
	e := &fuzzEnv{st: st, logs: &bytes.Buffer{}, adminPassword: "fuzz-boss-pw"}
	hash, err := auth.HashPassword(e.adminPassword)
	if err != nil {
		f.Fatal(err)
	}
	boss := storetest.CreateUser(f, st, &store.User{UserName: "boss", Active: true, PasswordHash: hash,
		Roles: []store.Value{{Value: "admin", Type: privilegeRole}}})
	e.apiKey, _ = NewKey()
	legacytest.IssueKey(f, st, Dialect, e.apiKey, 0, boss.Key, "fuzz")
	r := mux.NewRouter()
	// A dialect writes its own bodies; the logger is kept to explain a failure.
	Mount(r, Config{LockoutFailures: -1}, legacyapi.Deps{Store: st, Log: slog.New(slog.NewTextHandler(e.logs, nil)),
		Passwords: &auth.Verifier{}, MaxBody: 64 << 10})
	e.h = r
	if !e.login() {
		f.Fatal("admin cannot log in")
	}
	return e
}

// login starts a new admin session (fuzzed calls may end the old one).
func (e *fuzzEnv) login() bool {
	body, _ := json.Marshal(map[string]string{"username": "boss", "password": e.adminPassword})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/api/user/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	e.h.ServeHTTP(rec, req)
	var doc map[string]any
	if json.Unmarshal(rec.Body.Bytes(), &doc) != nil || doc["code"] != 0.0 {
		return false
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie {
			e.cookie, e.csrf = c.Value, doc["csrf_token"].(string)
		}
	}
	return e.cookie != ""
}

// FuzzRequest sends any body to every call with each kind of credential.
// The answer must be xyOps' own: a JSON envelope whose code is 0 (or the
// router's numeric 1), or an error code with a description — never
// "internal" — or pixl-server-web's plain-text 400/413 for a body that is
// not JSON.
func FuzzRequest(f *testing.F) {
	f.Add(uint8(0), uint8(0), []byte(`{"username":"boss","password":"x"}`))
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, call, auth uint8, body []byte) {
		path := fuzzCalls[int(call)%len(fuzzCalls)]
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		switch auth % 4 {
		case 1:
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: e.cookie})
			req.Header.Set("X-CSRF-Token", e.csrf)
		case 2:
			req.Header.Set("X-API-Key", e.apiKey)
		case 3:
			req.Header.Set("X-API-Key", "not-a-key")
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		res := rec.Result()
		raw, _ := io.ReadAll(res.Body)
		checkAnswer(t, path, res, raw, e.logs)
		if auth%4 == 1 && (strings.Contains(path, "logout") || strings.Contains(path, "admin_")) {
			e.relogin(t)
		}
	})
}

// relogin renews the admin session when a fuzzed call ended it.
func (e *fuzzEnv) relogin(t *testing.T) {
	req := httptest.NewRequest("POST", "/api/user/resume_session", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: e.cookie})
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if strings.HasPrefix(rec.Body.String(), `{"code":0`) {
		return
	}
	e.login() // may fail if a fuzzed admin call changed the admin; inputs then run without a session
}

func checkAnswer(t *testing.T, path string, res *http.Response, raw []byte, logs *bytes.Buffer) {
	t.Helper()
	versioned := strings.Contains(path, "/v1")
	if res.Header.Get("Content-Type") != "application/json" {
		// Only a body that is not JSON gets the web server's plain answer.
		if (res.StatusCode == 400 && string(raw) == "400 Bad Request\n") ||
			(res.StatusCode == 413 && string(raw) == "413 Request Entity Too Large\n") {
			return
		}
		t.Fatalf("%s: HTTP %d %q: %q", path, res.StatusCode, res.Header.Get("Content-Type"), raw)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: HTTP %d, not JSON: %q", path, res.StatusCode, raw)
	}
	switch code := doc["code"].(type) {
	case float64:
		if code != 0 && code != 1 {
			t.Fatalf("%s: numeric code %v: %s", path, code, raw)
		}
		if res.StatusCode != 200 {
			t.Fatalf("%s: HTTP %d for code %v", path, res.StatusCode, code)
		}
	case string:
		if code == "" || code == "internal" {
			t.Fatalf("%s: code %q: %s\nlog: %s", path, code, raw, logs.String())
		}
		if d, _ := doc["description"].(string); d == "" {
			t.Fatalf("%s: error without description: %s", path, raw)
		}
		want := 200
		if versioned {
			want = statusOf(code)
		}
		if res.StatusCode != want {
			t.Fatalf("%s: HTTP %d for code %q, want %d", path, res.StatusCode, code, want)
		}
	default:
		t.Fatalf("%s: answer without code: %s", path, raw)
	}
}
