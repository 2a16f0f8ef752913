// Package usersapi serves the "Users API" at /api/users (the nginx-love WAF
// panel's user management; routes and errors in README.md, the user mapping
// in ../README.md) on the shared store. The documented contract (integer ids, name, role admin|user,
// active, a pagination object, 422 with details) is the primary surface;
// objects and errors also carry the real product's keys where the two do not
// collide (username, fullName, status, lastLogin, message), so its own web
// UI's reads keep working too.
package usersapi

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/legacyapi"
)

// Dialect names this API in credentials, logs and the activity log.
const Dialect = "usersapi"

// Credential kinds of the tokens POST /api/auth/login issues: access
// tokens are auth.Sessions of this dialect, refresh tokens their own
// kind. Long-lived keys from the command line are auth.KeyKind(Dialect).
var (
	SessionKind = auth.SessionKind(Dialect)
	RefreshKind = "refresh:" + Dialect
)

// Token prefixes tell the kinds apart without a second lookup.
const (
	keyPrefix     = "uak_"
	sessionPrefix = "uat_"
	refreshPrefix = "uar_"
)

// Config is the dialect's configuration (yaml key legacy.usersapi):
//
//	usersapi:
//	  enabled: true
//	  prefix: ""
//	  token_ttl: 15m      # access tokens from POST /api/auth/login
//	  refresh_ttl: 168h   # a login's refresh tokens end a week after it …
//	  session_idle: 12h   # … or when left unused for 12 hours
//	  max_limit: 100      # cap on ?limit=
//	  lockout_failures: 5 # failed logins within lockout_window that lock an account; -1 = never
//	  lockout_window: 15m
type Config struct {
	legacyapi.DialectConfig `yaml:",inline"`
	// TokenTTL is the lifetime of a login's access token; 0 means 15 minutes.
	TokenTTL time.Duration `yaml:"token_ttl"`
	// RefreshTTL is the lifetime of a login: its refresh tokens (each
	// used once, rotated) end this long after the login; 0 means 7 days.
	RefreshTTL time.Duration `yaml:"refresh_ttl"`
	// SessionIdle ends a login whose refresh token is left unused this
	// long; 0 means 12 hours, negative never.
	SessionIdle time.Duration `yaml:"session_idle"`
	// MaxLimit caps the page size of listings; 0 means 100.
	MaxLimit int `yaml:"max_limit"`
	// LockoutFailures locks an account after more failed logins than this
	// within LockoutWindow; 0 means 5, <0 never.
	LockoutFailures int `yaml:"lockout_failures"`
	// LockoutWindow is how long failed logins count; 0 means 15 minutes.
	LockoutWindow time.Duration `yaml:"lockout_window"`
	// LockoutDelay and LockoutMaxDelay bound the delay that failures
	// spread over addresses add (default 1s, doubling, up to 15s).
	LockoutDelay    time.Duration `yaml:"lockout_delay"`
	LockoutMaxDelay time.Duration `yaml:"lockout_max_delay"`
}

// sessions are the login access tokens: 15 minutes, locked after more
// than 5 failures in 15 minutes unless configured otherwise.
func (c Config) sessions() *auth.Sessions {
	// An access token lives a fixed time; the login lives on in its
	// refresh tokens (refreshes).
	s := legacyapi.SessionConfig{Idle: -1, Absolute: c.TokenTTL, LockoutFailures: c.LockoutFailures,
		LockoutWindow: c.LockoutWindow, LockoutDelay: c.LockoutDelay, LockoutMaxDelay: c.LockoutMaxDelay}.
		Sessions(Dialect, legacyapi.SessionConfig{Absolute: 15 * time.Minute, LockoutWindow: 15 * time.Minute})
	s.NewID = func() string { return auth.NewToken(sessionPrefix) }
	return s
}

// NewKey returns a long-lived bearer key ("uak_" + 43 characters); its
// first 12 characters identify it in listings.
func NewKey() (token string, identifierLen int) { return auth.NewToken(keyPrefix), 12 }

type server struct {
	cfg      Config
	deps     legacyapi.Deps
	log      *slog.Logger
	sessions *auth.Sessions
	// refreshes are the logins' refresh tokens.
	refreshes *auth.RefreshTokens

	sweepMu   sync.Mutex
	lastSweep time.Time // when expired login tokens were last removed
}

// Mount adds the dialect's routes to r (at the vendor's paths, below
// cfg.Prefix when set).
func Mount(r *mux.Router, cfg Config, deps legacyapi.Deps) {
	if !cfg.On() {
		return
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = 7 * 24 * time.Hour
	}
	if cfg.MaxLimit <= 0 {
		cfg.MaxLimit = 100
	}
	idle := cfg.SessionIdle
	switch {
	case idle == 0:
		idle = auth.DefaultIdle
	case idle < 0:
		idle = 0
	}
	s := &server{cfg: cfg, deps: deps, log: deps.Log, sessions: cfg.sessions(),
		refreshes: &auth.RefreshTokens{Kind: RefreshKind, SessionKind: SessionKind, Prefix: refreshPrefix,
			Idle: idle, Absolute: cfg.RefreshTTL}}
	if s.log == nil {
		s.log = slog.Default()
	}
	m := func(h map[string]http.HandlerFunc) http.HandlerFunc { return legacyapi.Methods(h, s.routeNotFound) }

	auth := cfg.Prefix + "/api/auth"
	r.HandleFunc(auth+"/login", m(map[string]http.HandlerFunc{http.MethodPost: s.safe(s.login)}))
	r.HandleFunc(auth+"/refresh", m(map[string]http.HandlerFunc{http.MethodPost: s.safe(s.refresh)}))
	r.HandleFunc(auth+"/logout", m(map[string]http.HandlerFunc{http.MethodPost: s.authed(false, s.logout)}))

	api := r.PathPrefix(cfg.Prefix + "/api/users").Subrouter()
	api.HandleFunc("", m(map[string]http.HandlerFunc{
		http.MethodGet:  s.authed(false, s.list),
		http.MethodPost: s.authed(true, s.create),
	}))
	api.HandleFunc("/", m(map[string]http.HandlerFunc{
		http.MethodGet:  s.authed(false, s.list),
		http.MethodPost: s.authed(true, s.create),
	}))
	api.HandleFunc("/stats", m(map[string]http.HandlerFunc{http.MethodGet: s.authed(false, s.stats)}))
	api.HandleFunc("/{id}", m(map[string]http.HandlerFunc{
		http.MethodGet:    s.authed(false, s.withTarget(s.get)),
		http.MethodPut:    s.authed(true, s.withTarget(s.update)),
		http.MethodDelete: s.authed(true, s.withTarget(s.delete)),
	}))
	api.HandleFunc("/{id}/status", m(map[string]http.HandlerFunc{http.MethodPatch: s.authed(true, s.withTarget(s.setStatus))}))
	api.HandleFunc("/{id}/password", m(map[string]http.HandlerFunc{http.MethodPut: s.authed(true, s.withTarget(s.changePassword))}))
	api.HandleFunc("/{id}/reset-password", m(map[string]http.HandlerFunc{http.MethodPost: s.authed(true, s.withTarget(s.resetPassword))}))
	api.HandleFunc("/{id}/permissions", m(map[string]http.HandlerFunc{
		http.MethodGet: s.authed(false, s.withTarget(s.getPermissions)),
		http.MethodPut: s.authed(true, s.withTarget(s.putPermissions)),
	}))
	api.HandleFunc("/{id}/activity", m(map[string]http.HandlerFunc{http.MethodGet: s.authed(false, s.withTarget(s.activity))}))
	api.NotFoundHandler = http.HandlerFunc(s.routeNotFound)
}
