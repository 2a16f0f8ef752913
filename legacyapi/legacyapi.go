// Package legacyapi holds what every legacy vendor dialect shares: its
// dependencies, JSON reading and writing, page maths, API-key issue and
// lookup, and the client address. Each dialect lives in its own package
// (legacyapi/pterodactyl, legacyapi/usersapi, …) with its routes, auth,
// envelopes and errors, and serves the same store as every other door.
package legacyapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/internal/login"
	"github.com/scimbridge/scimbridge/store"
)

// Deps is what a dialect needs to serve.
type Deps struct {
	Store     store.Store
	Log       *slog.Logger
	Passwords *login.Verifier
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

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// Body decoding errors, for each dialect to render in its own format.
var (
	ErrBodyTooLarge = errors.New("request body too large")
	ErrMalformed    = errors.New("malformed JSON body")
)

// DecodeJSON reads a JSON object body of at most limit bytes into v.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return ErrBodyTooLarge
		}
		return ErrMalformed
	}
	if err := json.Unmarshal(body, v); err != nil {
		return ErrMalformed
	}
	return nil
}

// IntParam parses a query parameter as an int, returning def when absent
// and ok=false when present but not a number.
func IntParam(r *http.Request, name string, def int) (int, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// ClientIP returns the request's remote address without the port.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Actor builds the activity actor for a request through a dialect.
func Actor(r *http.Request, door, principal string) store.Actor {
	return store.Actor{Door: door, Principal: principal, Address: ClientIP(r)}
}

// BearerToken returns the token of an "Authorization: Bearer …" header.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// StatusOf maps a store error kind to the HTTP status most dialects use.
func StatusOf(err error) int {
	switch store.KindOf(err) {
	case store.KindNotFound:
		return http.StatusNotFound
	case store.KindConflict:
		return http.StatusConflict
	case store.KindInvalid:
		return http.StatusUnprocessableEntity
	case store.KindPreconditionFailed:
		return http.StatusPreconditionFailed
	case store.KindUnauthorized:
		return http.StatusUnauthorized
	case store.KindForbidden:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}
