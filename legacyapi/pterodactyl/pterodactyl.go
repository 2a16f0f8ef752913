// Package pterodactyl serves the Pterodactyl Panel application API for users
// (/api/application/users…) on the shared store, so that panel clients such
// as pterodactyl.js keep working unchanged. The wire format (README.md):
// Fractal envelopes, JSON:API-style error lists, Laravel validation rule
// names, application keys "ptla_…"; the user mapping is in ../README.md.
package pterodactyl

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/ratelimit"
)

// Dialect names this API in credentials, logs and the activity log.
const Dialect = "pterodactyl"

// Config is the dialect's configuration (yaml key legacy.pterodactyl):
//
//	pterodactyl:
//	  enabled: true
//	  prefix: ""                               # mount below another path
//	  base_url: https://panel.example.com       # for meta.resource and page links; default: from the request
//	  languages: [en]                           # values the language field accepts
//	  rate_limit: 240                           # requests per minute per key owner; -1 = off
//	  max_per_page: 1000                        # cap on per_page; -1 = none (the panel has none)
//	  key_cache_ttl: 5s                         # how long a key lookup is reused; -1s = off
type Config struct {
	legacyapi.DialectConfig `yaml:",inline"`
	// BaseURL is the public scheme and host; "" derives it from the request.
	BaseURL string `yaml:"base_url"`
	// Languages are the installed languages the `in` rule accepts; default [en].
	Languages []string `yaml:"languages"`
	// RateLimit is requests per minute per key owner; 0 means 240, <0 off.
	RateLimit int `yaml:"rate_limit"`
	// MaxPerPage caps per_page; 0 means 1000, <0 no cap.
	MaxPerPage int `yaml:"max_per_page"`
	// KeyCacheTTL is how long a successful key lookup (key and owner) is
	// reused; 0 means 5 s, <0 no caching. Revocations, deactivations and
	// demotions take effect within it.
	KeyCacheTTL time.Duration `yaml:"key_cache_ttl"`
}

const (
	defaultRateLimit  = 240
	defaultMaxPerPage = 1000
	defaultPerPage    = 50
	// Laravel's model default, used for per_page=0.
	zeroPerPage = 15
)

// NewKey returns a new application key: "ptla_" plus 11 characters form the
// 16-character public identifier, 32 more the secret (48 in all).
func NewKey() (token string, identifierLen int) {
	return "ptla_" + auth.RandomString(11) + auth.RandomString(32), 16
}

// server holds one mounted instance of the dialect.
type server struct {
	cfg       Config
	deps      legacyapi.Deps
	log       *slog.Logger
	limiter   *ratelimit.Windows
	languages map[string]bool
	keys      *auth.CredentialCache
}

// Mount adds the dialect's routes to r (at the vendor's paths, below
// cfg.Prefix when set).
func Mount(r *mux.Router, cfg Config, deps legacyapi.Deps) {
	if !cfg.On() {
		return
	}
	if len(cfg.Languages) == 0 {
		cfg.Languages = []string{"en"}
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = defaultRateLimit
	}
	if cfg.MaxPerPage == 0 {
		cfg.MaxPerPage = defaultMaxPerPage
	}
	if cfg.KeyCacheTTL == 0 {
		cfg.KeyCacheTTL = 5 * time.Second
	}
	s := &server{cfg: cfg, deps: deps, log: deps.Log, languages: map[string]bool{}, keys: auth.NewCredentialCache(cfg.KeyCacheTTL)}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, l := range cfg.Languages {
		s.languages[l] = true
	}
	if cfg.RateLimit > 0 {
		s.limiter = ratelimit.NewWindows(cfg.RateLimit, time.Minute, false)
	}

	notAllowed := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowedHttpException",
			"The "+r.Method+" method is not supported for this route.")
	}
	api := r.PathPrefix(cfg.Prefix + "/api/application").Subrouter()
	api.HandleFunc("/users", legacyapi.Methods(map[string]http.HandlerFunc{
		http.MethodGet:  s.route(routeOpts{scope: scopeRead}, s.list),
		http.MethodPost: s.route(routeOpts{scope: scopeWrite, body: true}, s.create),
	}, notAllowed))
	api.HandleFunc("/users/external/{external_id}", legacyapi.Methods(map[string]http.HandlerFunc{
		http.MethodGet: s.route(routeOpts{scope: scopeRead, byExternal: true}, s.get),
	}, notAllowed))
	api.HandleFunc("/users/{id}", legacyapi.Methods(map[string]http.HandlerFunc{
		http.MethodGet:    s.route(routeOpts{scope: scopeRead, byID: true}, s.get),
		http.MethodPatch:  s.route(routeOpts{scope: scopeWrite, byID: true, body: true}, s.update),
		http.MethodDelete: s.route(routeOpts{scope: scopeWrite, byID: true}, s.delete),
	}, notAllowed))
	// pterodactyl.js probes GET /servers in its constructor; there are no
	// servers here, so an empty list keeps the client usable.
	api.HandleFunc("/servers", legacyapi.Methods(map[string]http.HandlerFunc{
		http.MethodGet: s.route(routeOpts{scope: scopeNone}, s.servers),
	}, notAllowed))
	api.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { notFound(w) })
}
