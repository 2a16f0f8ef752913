// Package xyops serves the xyOps user self-service API
// (/api/app/<name>/v1: get_user_activity, user_settings, logout_all) and the
// pixl-server-user login layer it relies on (/api/user/login,
// resume_session, logout, and the admin_* user management calls) on the
// shared store.
//
// The wire format (../README.md, section xyOps): a {code:0} envelope on
// success, {code:"…",description:"…"} on failure, HTTP status mapped from
// the code only on versioned (/vN) URLs.
package xyops

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/ratelimit"
)

// Dialect names this API in credentials, logs and the activity log.
const Dialect = "xyops"

// Config is the dialect's configuration (yaml key legacy.xyops):
//
//	legacy:
//	  xyops:
//	    enabled: true
//	    prefix: ""            # mount below another path
//	    session_idle: 12h     # a session left unused this long ends
//	    session_max: 168h     # … and a week after its login (xyOps: 365 days)
//	    lockout_failures: 5   # lock after more than 5 failed logins …
//	    lockout_window: 1h    # … within this window; -1 disables
//	    api_key_max_per_sec: 0  # per-key rate limit; 0: none
//	    allowed_origins: []   # browser origins besides the server's own
type Config struct {
	legacyapi.DialectConfig `yaml:",inline"`
	// SessionIdle ends a session left unused this long (default 12h;
	// negative: never).
	SessionIdle time.Duration `yaml:"session_idle"`
	// SessionMax ends a session this long after its login, however used
	// (default 7 days; xyOps' own default is 365 days, too long for a
	// session that a stolen cookie keeps alive).
	SessionMax time.Duration `yaml:"session_max"`
	// SessionTTL is the older name of SessionMax, read when SessionMax is
	// not set.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// LockoutFailures locks an address out of an account after more failed
	// password checks than this within LockoutWindow (default 5; negative
	// disables the lockout).
	LockoutFailures int `yaml:"lockout_failures"`
	// LockoutWindow is the period failures are counted in (default 1h).
	LockoutWindow time.Duration `yaml:"lockout_window"`
	// LockoutDelay and LockoutMaxDelay bound the delay that failures
	// spread over addresses add (default 1s, doubling, up to 15s).
	LockoutDelay    time.Duration `yaml:"lockout_delay"`
	LockoutMaxDelay time.Duration `yaml:"lockout_max_delay"`
	// APIKeyMaxPerSec limits each API key's requests per second (0: no
	// limit); over it, calls fail with code "rate" (HTTP 429 on /v1).
	APIKeyMaxPerSec int `yaml:"api_key_max_per_sec"`
	// AllowedOrigins are the origins (https://ui.example.com) whose pages
	// may use the session_id cookie besides the server's own: a
	// state-changing request a browser says comes from another origin is
	// refused when its session is the cookie's, and so is a login
	// (legacyapi.OriginCheck). The CSRF token is checked besides.
	AllowedOrigins []string `yaml:"allowed_origins"`
}

// NewKey returns a new API key in xyOps' format (24 case-sensitive
// alphanumerics, sent as X-API-Key) and how many of its leading characters
// are a public identifier (none).
func NewKey() (token string, identifierLen int) { return auth.RandomString(24), 0 }

type server struct {
	cfg      Config
	deps     legacyapi.Deps
	log      *slog.Logger
	sessions *auth.Sessions
	rate     *ratelimit.Windows
	// cookiePath is where the session cookie applies.
	cookiePath string
	origins    *legacyapi.OriginCheck
}

// Mount adds the dialect's routes to r (at the vendor's paths, below
// cfg.Prefix when set).
func Mount(r *mux.Router, cfg Config, deps legacyapi.Deps) {
	if !cfg.On() {
		return
	}
	s := newServer(cfg, deps)
	base := r
	if cfg.Prefix != "" {
		base = r.PathPrefix(cfg.Prefix).Subrouter()
	}
	base.HandleFunc("/api/app/{name}/v{version:[0-9]+}", s.serveApp)
	base.HandleFunc("/api/app/{name}/v{version:[0-9]+}/", s.serveApp)
	base.HandleFunc("/api/app/{name}", s.serveApp)
	base.HandleFunc("/api/user/{name}", s.serveUser)
}

func newServer(cfg Config, deps legacyapi.Deps) *server {
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	path := strings.TrimSuffix(cfg.Prefix, "/") + "/"
	s := &server{cfg: cfg, deps: deps, log: log.With("dialect", Dialect), cookiePath: path,
		rate: ratelimit.NewWindows(cfg.APIKeyMaxPerSec, time.Second, true),
		// The session lifetime and lockout, with the dialect's defaults.
		sessions: cfg.sessions()}
	var err error
	if s.origins, err = legacyapi.NewOriginCheck(cfg.AllowedOrigins); err != nil {
		// config.Validate refuses this before serve starts; a caller that
		// skipped it still gets the same-origin rule.
		s.log.Error("legacy.xyops.allowed_origins", "err", err)
		s.origins, _ = legacyapi.NewOriginCheck(nil)
	}
	return s
}

// sessions are the login sessions: ended after 12 hours unused and 7 days
// after the login (xyOps' session_expire_days is 365), an address locked
// out of an account after more than 5 failures in an hour, unless
// configured otherwise.
func (c Config) sessions() *auth.Sessions {
	absolute := c.SessionMax
	if absolute == 0 {
		absolute = c.SessionTTL
	}
	return legacyapi.SessionConfig{Idle: c.SessionIdle, Absolute: absolute, LockoutFailures: c.LockoutFailures,
		LockoutWindow: c.LockoutWindow, LockoutDelay: c.LockoutDelay, LockoutMaxDelay: c.LockoutMaxDelay}.
		Sessions(Dialect, legacyapi.SessionConfig{Idle: auth.DefaultIdle, Absolute: auth.DefaultAbsolute, LockoutWindow: time.Hour})
}

// call is one API request: its parsed JSON body and how to answer it.
type call struct {
	w         http.ResponseWriter
	r         *http.Request
	params    map[string]any
	versioned bool // status codes follow the error code
	// adminCall: an admin_* call, whose store errors speak of the user
	// its username parameter names.
	adminCall bool
}

var htmlTag = regexp.MustCompile(`<[^>]*>`)

func (c *call) send(v any) {
	status := http.StatusOK
	if e, ok := v.(*apiError); ok {
		e.Description = htmlTag.ReplaceAllString(e.Description, "")
		if c.versioned {
			status = statusOf(e.Code)
		}
	}
	// Like JSON.stringify: no HTML escaping of <, > and &.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if c.r.URL.Query().Get("pretty") == "1" {
		enc.SetIndent("", "\t")
	}
	if err := enc.Encode(v); err != nil {
		httpjson.Write(c.w, http.StatusInternalServerError, fail("internal", "Internal server error."))
		return
	}
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(buf.Bytes())
}

// parse reads the JSON body. A malformed one gets pixl-server-web's plain
// "400 Bad Request" (not JSON) and ok=false.
func (s *server) parse(w http.ResponseWriter, r *http.Request) (*call, bool) {
	c := &call{w: w, r: r, params: map[string]any{}}
	if r.ContentLength == 0 {
		return c, true
	}
	err := httpjson.Decode(w, r, s.deps.BodyLimit(), &c.params)
	switch {
	case errors.Is(err, httpjson.ErrBodyTooLarge):
		http.Error(w, "413 Request Entity Too Large", http.StatusRequestEntityTooLarge)
		return nil, false
	case err != nil:
		http.Error(w, "400 Bad Request", http.StatusBadRequest)
		return nil, false
	}
	if c.params == nil { // a "null" body
		c.params = map[string]any{}
	}
	return c, true
}

func (s *server) serveApp(w http.ResponseWriter, r *http.Request) {
	c, ok := s.parse(w, r)
	if !ok {
		return
	}
	c.versioned = mux.Vars(r)["version"] != ""
	switch name := mux.Vars(r)["name"]; name {
	case "get_user_activity":
		s.getUserActivity(c)
	case "user_settings":
		s.userSettings(c)
	case "logout_all":
		s.logoutAll(c)
	default:
		// The router's own error: numeric code 1, always HTTP 200.
		c.versioned = false
		httpjson.Write(w, http.StatusOK, map[string]any{"code": 1, "description": "Unsupported API: app/api_" + name})
	}
}

func (s *server) serveUser(w http.ResponseWriter, r *http.Request) {
	c, ok := s.parse(w, r)
	if !ok {
		return
	}
	switch name := mux.Vars(r)["name"]; name {
	case "login":
		s.login(c)
	case "resume_session":
		s.resumeSession(c)
	case "logout":
		s.logout(c)
	case "admin_create":
		s.adminCreate(c)
	case "admin_update":
		s.adminUpdate(c)
	case "admin_delete":
		s.adminDelete(c)
	case "admin_get_user":
		s.adminGetUser(c)
	case "admin_get_users":
		s.adminGetUsers(c)
	default:
		httpjson.Write(w, http.StatusOK, map[string]any{"code": 1, "description": "Unsupported API: user/api_" + name})
	}
}

// str returns a string body parameter and whether it was a string.
func (c *call) str(name string) (string, bool) {
	v, ok := c.params[name].(string)
	return v, ok
}
