package pterodactyl

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/legacyapi/legacytest"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

var fuzzMethods = []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete}

// fuzzPanel is a live panel API on a real SQLite file with an admin's
// read+write key; the rate limit is off so inputs are not all 429s.
type fuzzPanel struct {
	h        http.Handler
	key      string
	adminKey int64
	logs     *bytes.Buffer
}

func newFuzzPanel(f *testing.F) *fuzzPanel {
	st := legacytest.OpenStore(f, nil)
	p := &fuzzPanel{logs: &bytes.Buffer{}}
	r := mux.NewRouter()
	Mount(r, Config{RateLimit: -1, KeyCacheTTL: -1}, legacyapi.Deps{Store: st, MaxBody: 64 << 10,
		Log: slog.New(slog.NewTextHandler(p.logs, nil))})
	p.h = r
	admin := storetest.CreateUser(f, st, &store.User{UserName: "root", Active: true,
		Roles: []store.Value{{Value: "admin"}}, Emails: []store.Value{{Value: "root@example.com", Primary: true}}})
	storetest.CreateUser(f, st, &store.User{UserName: "victim", Active: true, ExternalID: "ext-1",
		Emails: []store.Value{{Value: "victim@example.com", Primary: true}}})
	p.adminKey = admin.Key
	token, idLen := NewKey()
	legacytest.IssueKey(f, st, Dialect, token, idLen, admin.Key, "fuzz", "read", "write")
	p.key = token
	return p
}

// FuzzRequest sends any method, user id, query and body to the users API.
// The answer must be the panel's own: never a 5xx; errors are a non-empty
// "errors" list whose entries carry a code, a detail and the HTTP status;
// successes are Fractal objects (or 204 without a body).
func FuzzRequest(f *testing.F) {
	f.Add(uint8(1), "", "", []byte(`{"email":"a@example.com","username":"a","first_name":"A","last_name":"B"}`), true)
	p := newFuzzPanel(f)
	f.Fuzz(func(t *testing.T, method uint8, id, query string, body []byte, withKey bool) {
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		path := "/api/application/users"
		if id != "" {
			if m == http.MethodDelete && id == strconv.FormatInt(p.adminKey, 10) {
				return // deleting the key's owner would end the fuzzing session
			}
			path += "/" + url.PathEscape(id)
		}
		req, err := http.NewRequest(m, "http://127.0.0.1"+path+"?"+query, bytes.NewReader(body))
		if err != nil {
			return // not a URL a client can send
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		if withKey {
			req.Header.Set("Authorization", "Bearer "+p.key)
		}
		rec := httptest.NewRecorder()
		p.h.ServeHTTP(rec, req)
		res := rec.Result()
		raw := rec.Body.Bytes()
		if res.StatusCode == http.StatusMovedPermanently && res.Header.Get("Location") != "" {
			return // the router's own redirect to the clean path ("/users/." → "/users/")
		}
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s?%s: HTTP %d %s\nlog: %s", m, path, query, res.StatusCode, raw, p.logs.String())
		}
		if res.StatusCode == http.StatusNoContent && len(raw) == 0 {
			return
		}
		var doc struct {
			Object string `json:"object"`
			Errors []struct {
				Code, Status, Detail string
			} `json:"errors"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s %s?%s: HTTP %d, not JSON: %q", m, path, query, res.StatusCode, raw)
		}
		if res.StatusCode >= 400 {
			if len(doc.Errors) == 0 {
				t.Fatalf("%s %s?%s: HTTP %d without an errors list: %s", m, path, query, res.StatusCode, raw)
			}
			for _, e := range doc.Errors {
				if e.Code == "" || e.Detail == "" || e.Status != strconv.Itoa(res.StatusCode) {
					t.Fatalf("%s %s?%s: malformed error (HTTP %d): %s", m, path, query, res.StatusCode, raw)
				}
			}
			return
		}
		if doc.Object == "" {
			t.Fatalf("%s %s?%s: HTTP %d without a Fractal object: %s", m, path, query, res.StatusCode, raw)
		}
	})
}
