// Package scimtest starts the SCIM door on its own for tests: the SCIM
// server on a real SQLite file in a temporary directory (or a PostgreSQL
// database: store/teststore), mounted the way
// the composition root mounts it, served over HTTP on 127.0.0.1, with
// bearer tokens the test hands out. It also holds what the conformance
// suites share (conformance.go).
package scimtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/teststore"
)

// Prefix is where the SCIM server is mounted, as in the application.
const Prefix = "/scim/v2"

// Token is the bearer token every test server accepts.
const Token = "scimtest-scim-token-0123456789"

// Server is a running SCIM server.
type Server struct {
	URL   string // e.g. http://127.0.0.1:40123
	Store store.Store
	// Tokens are the bearer tokens the server accepts; add more with Add.
	Tokens *Tokens
	logs   *logBuffer
}

// OpenStore opens a store on a new SQLite file that is closed when the test
// ends.
func OpenStore(t testing.TB) *sqlite.DB {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "scim.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Start runs a SCIM server until the test ends. The options start with the
// store, a debug-level log that Logs returns and the Tokens authenticator;
// configure adjusts them (page sizes, body limits, PATCH answers...).
func Start(t testing.TB, configure ...func(*scim.Options)) *Server {
	t.Helper()
	// SQLite, unless a test reruns the suite on PostgreSQL (teststore).
	st := teststore.Open(t, nil)
	logs := &logBuffer{}
	tokens := NewTokens()
	tokens.Add(Token, &scim.Principal{Name: "scimtest-token"})
	opts := scim.Options{
		Store: st,
		Log:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Auth:  tokens,
	}
	for _, f := range configure {
		f(&opts)
	}
	r := mux.NewRouter()
	scim.New(opts).Mount(r, Prefix)
	// As in the application: the case rewrite wraps the whole router,
	// since routing middleware runs too late to change the path.
	srv := httptest.NewServer(scim.CaseInsensitive(Prefix, r))
	t.Cleanup(srv.Close)
	return &Server{URL: srv.URL, Store: st, Tokens: tokens, logs: logs}
}

// Logs returns everything the server has logged so far.
func (s *Server) Logs() string { return s.logs.String() }

// Do sends a request with Token and returns the response; body may be nil,
// a string or []byte. header holds name, value pairs that are set after
// the defaults (so "Authorization" replaces the token).
func (s *Server) Do(t testing.TB, method, path string, body any, header ...string) *http.Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+Token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// Call sends a SCIM request and decodes the JSON answer (nil for an empty
// one). body is sent as is when a string, else encoded as JSON. An answer
// with a body that is not application/scim+json JSON fails the test.
func (s *Server) Call(t testing.TB, method, path string, body any, header ...string) (int, map[string]any, http.Header) {
	t.Helper()
	var payload any
	switch b := body.(type) {
	case nil:
	case string:
		payload = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		payload = raw
	}
	resp := s.Do(t, method, path, payload, header...)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 {
		return resp.StatusCode, nil, resp.Header
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		t.Fatalf("%s %s: content type %q, body %s", method, path, ct, raw)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s %s: bad JSON %s", method, path, raw)
	}
	return resp.StatusCode, doc, resp.Header
}

// logBuffer collects the server's log lines, written from many requests.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
