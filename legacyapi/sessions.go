package legacyapi

import (
	"time"

	"github.com/scimbridge/scimbridge/auth"
)

// DefaultLockoutFailures is how many failed logins within the lockout
// window every dialect with logins tolerates unless configured otherwise.
const DefaultLockoutFailures = 5

// SessionConfig is what a dialect's configuration says about its logins
// (its session_ttl or token_ttl, lockout_failures and lockout_window keys).
type SessionConfig struct {
	// TTL is a session's lifetime; 0 or less means the dialect's default.
	TTL time.Duration
	// LockoutFailures locks an account after more failed logins than this
	// within LockoutWindow; 0 means DefaultLockoutFailures, less never.
	LockoutFailures int
	// LockoutWindow is how long failed logins count; 0 or less means the
	// dialect's default.
	LockoutWindow time.Duration
}

// Sessions returns the dialect's login sessions with c's settings, each one
// left unset taking its default (defaultTTL, DefaultLockoutFailures,
// defaultWindow). The dialect may set the rest (Sliding, NewID) on the
// result.
func (c SessionConfig) Sessions(dialect string, defaultTTL, defaultWindow time.Duration) *auth.Sessions {
	if c.TTL <= 0 {
		c.TTL = defaultTTL
	}
	if c.LockoutFailures == 0 {
		c.LockoutFailures = DefaultLockoutFailures
	}
	if c.LockoutWindow <= 0 {
		c.LockoutWindow = defaultWindow
	}
	return &auth.Sessions{Dialect: dialect, TTL: c.TTL, MaxFailures: max(c.LockoutFailures, 0), Window: c.LockoutWindow}
}
