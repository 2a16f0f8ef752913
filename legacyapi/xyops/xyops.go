// Package xyops serves the xyops user API on the shared store.
// (Stub: the routes land with the legacy adapter issues.)
package xyops

import (
	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/internal/secret"
	"github.com/scimbridge/scimbridge/legacyapi"
)

// Dialect names this API in credentials, logs and the activity log.
const Dialect = "xyops"

// Config is the dialect's configuration (yaml key legacy.xyops).
type Config struct {
	legacyapi.DialectConfig `yaml:",inline"`
}

// Mount adds the dialect's routes to r (at the vendor's paths, below
// cfg.Prefix when set).
func Mount(r *mux.Router, cfg Config, deps legacyapi.Deps) {}

// NewKey returns a new API key in the dialect's format and how many of its
// leading characters are a public identifier.
func NewKey() (token string, identifierLen int) { return secret.NewToken(""), 0 }
