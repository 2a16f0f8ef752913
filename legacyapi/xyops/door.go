package xyops

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/legacyapi"
)

// Door is the xyOps dialect as the composition root mounts it.
type Door struct{ legacyapi.Door[Config] }

// New returns the dialect's door.
func New(cfg Config, deps legacyapi.Deps) *Door {
	return &Door{legacyapi.NewDoor(Dialect, cfg, deps, Mount)}
}

// RateKey is the API key or session a request carries.
func (d *Door) RateKey(r *http.Request) string {
	return legacyapi.Credential(r, []string{"X-API-Key", "X-Session-ID"}, []string{sessionCookie})
}

// IsLogin reports whether the request is user/login.
func (d *Door) IsLogin(r *http.Request) bool {
	return r.URL.Path == d.Config().Prefix+"/api/user/login"
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
