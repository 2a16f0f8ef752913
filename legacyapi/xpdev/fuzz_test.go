package xpdev

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/legacyapi/legacytest"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

var fuzzMethods = []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPut}

// fuzzEnv is a live XP-Dev API on a real SQLite file with an owner's token.
type fuzzEnv struct {
	h    http.Handler
	key  string
	logs *bytes.Buffer
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	st := legacytest.OpenStore(f, nil)
	e := &fuzzEnv{logs: &bytes.Buffer{}}
	r := mux.NewRouter()
	Mount(r, Config{}, legacyapi.Deps{Store: st, MaxBody: 64 << 10, Log: slog.New(slog.NewTextHandler(e.logs, nil))})
	e.h = r
	owner := storetest.CreateUser(f, st, &store.User{UserName: "owner", Active: true,
		Roles: []store.Value{{Type: store.RoleType, Value: store.PrivilegeOwner.String()}}, Emails: []store.Value{{Value: "owner@example.com", Primary: true}}})
	storetest.CreateUser(f, st, &store.User{UserName: "dev", Active: true, Emails: []store.Value{{Value: "dev@example.com"}}})
	token, n := NewKey()
	legacytest.IssueKey(f, st, Dialect, token, n, owner.Key, "fuzz", "read", "write")
	e.key = token
	return e
}

// FuzzRequest sends any method, user id, body and content type. The answer
// must be XP-Dev's own: never a 5xx; errors are {"message": "…"}; successes
// a user object (with an id), a list of them, or a message.
func FuzzRequest(f *testing.F) {
	f.Add(uint8(1), "", []byte(`{"username":"new","email":"new@example.com","password":"pw-123456","timezone":"UTC"}`), true, true)
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, method uint8, id string, body []byte, jsonType, withKey bool) {
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		path := "/api/v1/user"
		if id != "" {
			path += "/" + url.PathEscape(id)
		}
		req, err := http.NewRequest(m, "http://127.0.0.1"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		if jsonType {
			req.Header.Set("Content-Type", "application/json")
		}
		if withKey {
			req.Header.Set(TokenHeader, e.key)
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		res := rec.Result()
		raw := rec.Body.Bytes()
		if res.StatusCode == http.StatusMovedPermanently && res.Header.Get("Location") != "" {
			return // the router's own redirect to the clean path ("/users/." → "/users/")
		}
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s: HTTP %d %s\nlog: %s", m, path, res.StatusCode, raw, e.logs.String())
		}
		if res.StatusCode < 300 && len(raw) == 0 {
			return // DELETE answers 200 without a body
		}
		var any json.RawMessage
		if err := json.Unmarshal(raw, &any); err != nil {
			if res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed {
				return // the router's plain answer for a path outside the API (an id with a slash)
			}
			t.Fatalf("%s %s: HTTP %d, not JSON: %q", m, path, res.StatusCode, raw)
		}
		if res.StatusCode >= 400 {
			var msg struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(raw, &msg) != nil || msg.Message == "" {
				t.Fatalf("%s %s: malformed error (HTTP %d): %s", m, path, res.StatusCode, raw)
			}
		}
	})
}
