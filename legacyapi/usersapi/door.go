package usersapi

import (
	"net/http"

	"github.com/scimbridge/scimbridge/legacyapi"
)

// Door is the Users API dialect as the composition root mounts it.
type Door struct{ legacyapi.Door[Config] }

// New returns the dialect's door.
func New(cfg Config, deps legacyapi.Deps) *Door {
	return &Door{legacyapi.NewDoor(Dialect, cfg, deps, Mount)}
}

// RateKey is the access token a request carries.
func (d *Door) RateKey(r *http.Request) string { return legacyapi.Credential(r, nil, nil) }

// IsLogin reports whether the request is POST /api/auth/login.
func (d *Door) IsLogin(r *http.Request) bool {
	return r.URL.Path == d.Config().Prefix+"/api/auth/login"
}

// Refuse answers a request turned away at the edge in the API's envelope.
func (d *Door) Refuse(w http.ResponseWriter, _ *http.Request, status int) {
	fail(w, status, legacyapi.RefusalMessage(status))
}
