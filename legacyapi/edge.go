package legacyapi

import (
	"net/http"

	"github.com/gorilla/mux"
)

// RefusalMessage is the text a dialect shows when the server turns a
// request away before it reaches the dialect: 429 (the client is over its
// rate limit) or 503 (the server is overloaded).
func RefusalMessage(status int) string {
	if status == http.StatusTooManyRequests {
		return "Too many requests: slow down and retry later."
	}
	return "The server is busy: retry later."
}

// Credential returns the first credential a request carries among the
// Authorization header, the named headers and the named cookies, for
// keying rate limits (the caller hashes it), or "".
func Credential(r *http.Request, headers, cookies []string) string {
	if v := r.Header.Get("Authorization"); v != "" {
		return v
	}
	for _, h := range headers {
		if v := r.Header.Get(h); v != "" {
			return v
		}
	}
	for _, name := range cookies {
		if c, err := r.Cookie(name); err == nil && c.Value != "" {
			return c.Value
		}
	}
	return ""
}

// Door is what every dialect's door has in common: its name, its
// configuration and dependencies, and the function that mounts its routes.
// A dialect embeds it and adds its own edge (RateKey, IsLogin, Refuse).
type Door[C any] struct {
	dialect string
	cfg     C
	deps    Deps
	mount   func(*mux.Router, C, Deps)
}

// NewDoor returns the door of a dialect that mount mounts.
func NewDoor[C any](dialect string, cfg C, deps Deps, mount func(*mux.Router, C, Deps)) Door[C] {
	return Door[C]{dialect: dialect, cfg: cfg, deps: deps, mount: mount}
}

// Name names the door in logs and metrics.
func (d Door[C]) Name() string { return d.dialect }

// Routes adds the dialect's routes (below its configured prefix) to r.
func (d Door[C]) Routes(r *mux.Router) { d.mount(r, d.cfg, d.deps) }

// Config is the dialect's configuration.
func (d Door[C]) Config() C { return d.cfg }

// Deps are the dialect's dependencies.
func (d Door[C]) Deps() Deps { return d.deps }
