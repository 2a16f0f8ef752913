package app

import (
	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/legacyapi/pterodactyl"
	"github.com/scimbridge/scimbridge/legacyapi/usersapi"
	"github.com/scimbridge/scimbridge/legacyapi/xpdev"
	"github.com/scimbridge/scimbridge/legacyapi/xstudio"
	"github.com/scimbridge/scimbridge/legacyapi/xyops"
)

// mountLegacy mounts each enabled vendor dialect at its real paths.
func mountLegacy(r *mux.Router, cfg config.Legacy, deps legacyapi.Deps) {
	pterodactyl.Mount(r, cfg.Pterodactyl, deps)
	usersapi.Mount(r, cfg.UsersAPI, deps)
	xpdev.Mount(r, cfg.XPDev, deps)
	xyops.Mount(r, cfg.XyOps, deps)
	xstudio.Mount(r, cfg.XStudio, deps)
}

// KeyFormats maps each dialect to its API-key generator, for the CLI.
var KeyFormats = map[string]func() (string, int){
	pterodactyl.Dialect: pterodactyl.NewKey,
	usersapi.Dialect:    usersapi.NewKey,
	xpdev.Dialect:       xpdev.NewKey,
	xyops.Dialect:       xyops.NewKey,
	xstudio.Dialect:     xstudio.NewKey,
}
