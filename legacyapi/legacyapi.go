// Package legacyapi holds what every legacy vendor dialect shares: its
// dependencies and configuration (legacyapi.go), the user-model views that
// map vendor fields onto SCIM attributes (usermodel.go), the HTTP routing
// mechanics (routing.go) and the login-session settings (sessions.go).
// Each dialect lives in its own package (legacyapi/pterodactyl,
// legacyapi/usersapi, …) with its routes, auth, envelopes and errors, and
// serves the same store as every other door; README.md maps each vendor's
// fields and errors.
package legacyapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/store"
)

// Deps is what a dialect needs to serve.
type Deps struct {
	Store     store.Store
	Log       *slog.Logger
	Passwords *auth.Verifier
	// MaxBody limits request bodies; 0 means 1 MiB.
	MaxBody int64
	// Now is the clock (tests may replace it).
	Now func() time.Time
}

// Clock returns d.Now or time.Now.
func (d Deps) Clock() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// BodyLimit returns the configured body limit.
func (d Deps) BodyLimit() int64 {
	if d.MaxBody > 0 {
		return d.MaxBody
	}
	return 1 << 20
}

// DialectConfig is the configuration every dialect has.
type DialectConfig struct {
	// Enabled turns the dialect on; every dialect is on by default.
	Enabled *bool `yaml:"enabled"`
	// Prefix re-mounts the dialect's routes below another path.
	Prefix string `yaml:"prefix"`
}

// On reports whether the dialect is enabled (default: yes).
func (c DialectConfig) On() bool { return c.Enabled == nil || *c.Enabled }

// Actor builds the activity actor for a request through a dialect.
func Actor(r *http.Request, door, principal string) store.Actor {
	return store.Actor{Door: door, Principal: principal, Address: httpjson.ClientIP(r)}
}
