// Package apptest starts a complete scimbridge on 127.0.0.1 with a real
// SQLite file, for tests that cross doors; or, as the commands do, on
// PostgreSQL when cfg.DB is a postgres:// URL (a test that reruns others
// on PostgreSQL: store/teststore).
package apptest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/app"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/postgres"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/teststore"
)

// Token is the SCIM bearer token the test server accepts.
const Token = "apptest-scim-token-0123456789"

// AdminToken is the admin bearer token the test server accepts.
const AdminToken = "apptest-admin-token-0123456789"

// Server is a running scimbridge.
type Server struct {
	URL string // e.g. http://127.0.0.1:40123
	// Store is the SQLite store; nil on PostgreSQL.
	Store *sqlite.DB
	// DB is the store whichever the backend.
	DB   store.Store
	App  *app.App
	logs *lockedWriter
}

// Logs returns everything the server has logged so far.
func (s *Server) Logs() string {
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	return s.logs.w.(*strings.Builder).String()
}

// Start runs a server until the test ends; configure adjusts the config
// before the app is built.
func Start(t testing.TB, configure ...func(*config.Config)) *Server {
	t.Helper()
	return StartWrapped(t, nil, configure...)
}

// StartWrapped is Start with the store wrapped before the app gets it
// (wrap may be nil): a test watches what the doors ask of the store.
func StartWrapped(t testing.TB, wrap func(store.Store) store.Store, configure ...func(*config.Config)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.DB = filepath.Join(t.TempDir(), "scimbridge.db")
	if url := teststore.PostgresURL(t); url != "" {
		cfg.DB = url
	}
	cfg.SCIM.Token = Token
	cfg.Admin.Token = AdminToken
	// Door tests log in often; the login limit has tests of its own.
	cfg.RateLimit.LoginPerMinute = 0
	for _, f := range configure {
		f(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var st interface {
		store.Store
		Close() error
	}
	var lite *sqlite.DB
	var err error
	if postgres.IsURL(cfg.DB) {
		st, err = postgres.Open(context.Background(), cfg.DB, postgres.Options{MaxConns: 16, Policy: cfg.Identity.Policy()})
	} else {
		lite, err = sqlite.Open(context.Background(), cfg.DB, sqlite.Options{Policy: cfg.Identity.Policy()})
		st = lite
	}
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedWriter{w: &strings.Builder{}}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var doorStore store.Store = st
	if wrap != nil {
		doorStore = wrap(st)
	}
	a, err := app.New(cfg, doorStore, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		st.Close()
	})
	return &Server{URL: srv.URL, Store: lite, DB: st, App: a, logs: logs}
}

// Do sends a request with the SCIM token and returns the response; body
// may be nil, a string or []byte.
func (s *Server) Do(t testing.TB, method, path string, body any, header ...string) *http.Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = strings.NewReader(string(b))
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
