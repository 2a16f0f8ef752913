package pterodactyl

import (
	"net/http"

	"github.com/scimbridge/scimbridge/legacyapi"
)

// Door is the Pterodactyl dialect as the composition root mounts it.
type Door struct{ legacyapi.Door[Config] }

// New returns the dialect's door.
func New(cfg Config, deps legacyapi.Deps) *Door {
	return &Door{legacyapi.NewDoor(Dialect, cfg, deps, Mount)}
}

// RateKey is the API key a request carries.
func (d *Door) RateKey(r *http.Request) string { return legacyapi.Credential(r, nil, nil) }

// IsLogin reports false: application API keys have no login.
func (d *Door) IsLogin(*http.Request) bool { return false }

// Refuse answers a request turned away at the edge as the panel does.
func (d *Door) Refuse(w http.ResponseWriter, _ *http.Request, status int) {
	if status == http.StatusTooManyRequests {
		w.Header().Set("X-RateLimit-Remaining", "0")
		writeError(w, status, "ThrottleRequestsException", "Too Many Attempts.")
		return
	}
	writeError(w, status, "HttpException", legacyapi.RefusalMessage(status))
}
