package app

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/legacyapi/pterodactyl"
	"github.com/scimbridge/scimbridge/legacyapi/usersapi"
	"github.com/scimbridge/scimbridge/legacyapi/xpdev"
	"github.com/scimbridge/scimbridge/legacyapi/xstudio"
	"github.com/scimbridge/scimbridge/legacyapi/xyops"
)

// A Door is one way into the store (SCIM, a legacy dialect, the admin API)
// as the composition root sees it: it names itself, adds its routes, and
// answers for its own edge. The root mounts each door on a subrouter of its
// own and wraps it in the same middleware (request log, metrics, limits),
// which learns the door's name from it; the root itself knows no door's
// paths, headers, cookies or envelopes.
type Door interface {
	// Name labels the door's log lines and metrics ("scim", "xyops").
	Name() string
	// Routes adds the door's routes, below its configured prefix, to r:
	// the door's own subrouter.
	Routes(r *mux.Router)
	// RateKey is the credential a request carries ("" for none), for
	// per-credential rate limits; the root hashes it before keeping it.
	RateKey(r *http.Request) string
	// IsLogin reports whether the request is a login, which gets the
	// stricter per-address login limit. It must read the request exactly
	// as the door does.
	IsLogin(r *http.Request) bool
	// Refuse answers a request the edge turns away, 429 (over a rate
	// limit) or 503 (overloaded), in the door's own format. Retry-After is
	// already set.
	Refuse(w http.ResponseWriter, r *http.Request, status int)
}

// pathCanonicaliser is a door that rewrites its request paths before
// routing (SCIM accepts "/users" for "/Users").
type pathCanonicaliser interface {
	CanonicalPath(r *http.Request)
}

// legacyDoors returns the enabled legacy dialects.
func legacyDoors(cfg config.Legacy, deps legacyapi.Deps) []Door {
	var doors []Door
	if cfg.Pterodactyl.On() {
		doors = append(doors, pterodactyl.New(cfg.Pterodactyl, deps))
	}
	if cfg.UsersAPI.On() {
		doors = append(doors, usersapi.New(cfg.UsersAPI, deps))
	}
	if cfg.XPDev.On() {
		doors = append(doors, xpdev.New(cfg.XPDev, deps))
	}
	if cfg.XyOps.On() {
		doors = append(doors, xyops.New(cfg.XyOps, deps))
	}
	if cfg.XStudio.On() {
		doors = append(doors, xstudio.New(cfg.XStudio, deps))
	}
	return doors
}

// KeyFormats maps each dialect to its API-key generator, for the CLI.
var KeyFormats = map[string]func() (string, int){
	pterodactyl.Dialect: pterodactyl.NewKey,
	usersapi.Dialect:    usersapi.NewKey,
	xpdev.Dialect:       xpdev.NewKey,
	xyops.Dialect:       xyops.NewKey,
	xstudio.Dialect:     xstudio.NewKey,
}
