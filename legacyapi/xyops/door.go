package xyops

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/legacyapi"
)

// Door is the xyOps dialect as the composition root mounts it.
type Door struct {
	cfg  Config
	deps legacyapi.Deps
}

// New returns the dialect's door.
func New(cfg Config, deps legacyapi.Deps) *Door { return &Door{cfg: cfg, deps: deps} }

// Name names the door in logs and metrics.
func (d *Door) Name() string { return Dialect }

// Routes adds the dialect's routes (below its configured prefix) to r.
func (d *Door) Routes(r *mux.Router) { Mount(r, d.cfg, d.deps) }

// RateKey is the API key or session a request carries.
func (d *Door) RateKey(r *http.Request) string {
	return legacyapi.Credential(r, []string{"X-API-Key", "X-Session-ID"}, []string{sessionCookie})
}

// IsLogin reports whether the request is user/login.
func (d *Door) IsLogin(r *http.Request) bool {
	return r.URL.Path == d.cfg.Prefix+"/api/user/login"
}

// Refuse answers a request turned away at the edge in the xyOps envelope:
// HTTP 200 with the error code, except on versioned URLs.
func (d *Door) Refuse(w http.ResponseWriter, r *http.Request, status int) {
	code := "rate"
	if status != http.StatusTooManyRequests {
		code = "busy"
	}
	c := &call{w: w, r: r, versioned: mux.Vars(r)["version"] != ""}
	c.send(fail(code, legacyapi.RefusalMessage(status)))
}
