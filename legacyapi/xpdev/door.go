package xpdev

import (
	"net/http"

	"github.com/scimbridge/scimbridge/legacyapi"
)

// Door is the XP-Dev dialect as the composition root mounts it.
type Door struct{ legacyapi.Door[Config] }

// New returns the dialect's door.
func New(cfg Config, deps legacyapi.Deps) *Door {
	return &Door{legacyapi.NewDoor(Dialect, cfg, deps, Mount)}
}

// RateKey is the API token a request carries.
func (d *Door) RateKey(r *http.Request) string {
	return legacyapi.Credential(r, []string{TokenHeader}, nil)
}

// IsLogin reports false: XP-Dev authenticates every call by its token.
func (d *Door) IsLogin(*http.Request) bool { return false }

// Refuse answers a request turned away at the edge as XP-Dev does.
func (d *Door) Refuse(w http.ResponseWriter, _ *http.Request, status int) {
	fail(w, status, legacyapi.RefusalMessage(status))
}
