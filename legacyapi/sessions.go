package legacyapi

import (
	"time"

	"github.com/scimbridge/scimbridge/auth"
)

// DefaultLockoutFailures is how many failed logins within the lockout
// window every dialect with logins tolerates unless configured otherwise.
const DefaultLockoutFailures = 5

// SessionConfig is what a dialect's configuration says about its logins
// (its session_idle, session_max, lockout_* keys). A zero field takes the
// dialect's default.
type SessionConfig struct {
	// Idle ends a session left unused this long; less than 0: never (a
	// fixed lifetime).
	Idle time.Duration
	// Absolute ends a session this long after its login.
	Absolute time.Duration
	// LockoutFailures locks an address out of an account after more failed
	// password checks than this within LockoutWindow; 0 means
	// DefaultLockoutFailures, less never (and no delays either).
	LockoutFailures int
	// LockoutWindow is how long failed checks count.
	LockoutWindow time.Duration
	// LockoutDelay and LockoutMaxDelay bound the progressive delay
	// (auth.Lockout).
	LockoutDelay, LockoutMaxDelay time.Duration
}

// Sessions returns the dialect's login sessions with c's settings, each one
// left unset taking the default's (and then auth's). The dialect may set
// the rest (NewID) on the result.
func (c SessionConfig) Sessions(dialect string, def SessionConfig) *auth.Sessions {
	pick := func(v, d time.Duration) time.Duration {
		if v <= 0 {
			return d
		}
		return v
	}
	idle := c.Idle
	switch {
	case idle == 0:
		idle = def.Idle
	case idle < 0:
		idle = 0 // no idle timeout: a fixed lifetime
	}
	failures := c.LockoutFailures
	if failures == 0 {
		failures = def.LockoutFailures
	}
	if failures == 0 {
		failures = DefaultLockoutFailures
	}
	return &auth.Sessions{Dialect: dialect, Idle: max(idle, 0), Absolute: pick(c.Absolute, def.Absolute),
		Lockout: auth.Lockout{MaxFailures: max(failures, 0), Window: pick(c.LockoutWindow, def.LockoutWindow),
			Delay: pick(c.LockoutDelay, def.LockoutDelay), MaxDelay: pick(c.LockoutMaxDelay, def.LockoutMaxDelay)}}
}
