package legacyapi

import (
	"testing"
	"time"
)

func TestSessionConfig(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cfg         SessionConfig
		ttl, window time.Duration
		failures    int
	}{
		{"defaults", SessionConfig{}, time.Hour, 15 * time.Minute, DefaultLockoutFailures},
		{"negative durations", SessionConfig{TTL: -1, LockoutWindow: -time.Second}, time.Hour, 15 * time.Minute, DefaultLockoutFailures},
		{"configured", SessionConfig{TTL: time.Minute, LockoutFailures: 2, LockoutWindow: time.Second}, time.Minute, time.Second, 2},
		{"no lockout", SessionConfig{LockoutFailures: -1}, time.Hour, 15 * time.Minute, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.cfg.Sessions("test", time.Hour, 15*time.Minute)
			if s.Dialect != "test" || s.TTL != tc.ttl || s.Window != tc.window || s.MaxFailures != tc.failures {
				t.Fatalf("%+v", s)
			}
		})
	}
}
