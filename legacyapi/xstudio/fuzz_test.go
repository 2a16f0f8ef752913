package xstudio

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/legacyapi/legacytest"
)

// fuzzContentTypes are the body encodings FuzzCommand sends; the boundary
// of the multipart one is fixed so seeds can carry real parts.
var fuzzContentTypes = []string{
	"application/x-www-form-urlencoded",
	"multipart/form-data; boundary=fuzzboundary",
	"application/json",
	"",
}

// fuzzEnv is a live XStudio door on a real SQLite file with an admin
// session.
type fuzzEnv struct {
	h       http.Handler
	session string
	logs    *bytes.Buffer
}

const fuzzAdminPW = "fuzz-admin-pw"

// slowRequest is how long one request may take; a body of at most 64 KiB
// that keeps the server busy longer is a denial-of-service bug.
const slowRequest = 5 * time.Second

func newFuzzEnv(f *testing.F) *fuzzEnv {
	st := legacytest.OpenStore(f, nil)
	e := &fuzzEnv{logs: &bytes.Buffer{}}
	r := mux.NewRouter()
	Mount(r, Config{AdminPassword: fuzzAdminPW, AdminEmail: "admin@acme.com", LockoutFailures: -1},
		legacyapi.Deps{Store: st, Log: slog.New(slog.NewTextHandler(e.logs, nil)), Passwords: &auth.Verifier{}, MaxBody: 64 << 10})
	e.h = r
	if !e.login() {
		f.Fatal("admin cannot log in")
	}
	return e
}

func (e *fuzzEnv) login() bool {
	req := httptest.NewRequest("POST", "/xqual/api?command=authenticate&username=admin&password="+fuzzAdminPW, nil)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			e.session = c.Value
			return true
		}
	}
	return false
}

// FuzzCommand sends any query string and body, as any content type, with
// and without the admin's session. XStudio answers everything with HTTP
// 200 and a JSON envelope whose result is "success" or "failure" (with a
// message); "internal error" means an unexpected error reached the client.
func FuzzCommand(f *testing.F) {
	f.Add(false, "command=getUsersTree", uint8(0), []byte(""), true)
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, get bool, query string, ctype uint8, body []byte, withSession bool) {
		method := http.MethodPost
		if get {
			method = http.MethodGet
		}
		req, err := http.NewRequest(method, "http://127.0.0.1/xqual/api?"+query, bytes.NewReader(body))
		if err != nil {
			return // not a URL a client can send
		}
		if ct := fuzzContentTypes[int(ctype)%len(fuzzContentTypes)]; ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if withSession {
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: e.session})
		}
		rec := httptest.NewRecorder()
		start := time.Now()
		e.h.ServeHTTP(rec, req)
		if took := time.Since(start); took > slowRequest {
			t.Fatalf("%s ?%q: took %s (body %d bytes)", method, query, took, len(body))
		}
		res := rec.Result()
		raw := rec.Body.Bytes()
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s ?%s: HTTP %d %q: %q", method, query, res.StatusCode, res.Header.Get("Content-Type"), raw)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s ?%s: not JSON: %q", method, query, raw)
		}
		switch doc["result"] {
		case "success":
		case "failure":
			msg, _ := doc["message"].(string)
			if msg == "" || msg == "internal error" {
				t.Fatalf("%s ?%s: failure %q\nlog: %s", method, query, msg, e.logs.String())
			}
		default:
			t.Fatalf("%s ?%s: no result: %s", method, query, raw)
		}
		if withSession && strings.Contains(query+string(body), "logout") || strings.Contains(query+string(body), "delete") ||
			strings.Contains(query+string(body), "admin") {
			e.relogin()
		}
	})
}

// relogin renews the admin session when a fuzzed command ended it.
func (e *fuzzEnv) relogin() {
	req := httptest.NewRequest("GET", "/xqual/api?command=getTeams", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: e.session})
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if strings.Contains(rec.Body.String(), `"result":"success"`) {
		return
	}
	e.login()
}
