package legacyapi

import (
	"testing"
	"time"
)

func TestSessionConfig(t *testing.T) {
	def := SessionConfig{Idle: time.Hour, Absolute: 24 * time.Hour, LockoutWindow: 15 * time.Minute}
	for _, tc := range []struct {
		name              string
		cfg               SessionConfig
		idle, abs, window time.Duration
		failures          int
	}{
		{"defaults", SessionConfig{}, time.Hour, 24 * time.Hour, 15 * time.Minute, DefaultLockoutFailures},
		{"negative durations", SessionConfig{Absolute: -1, LockoutWindow: -time.Second}, time.Hour, 24 * time.Hour, 15 * time.Minute, DefaultLockoutFailures},
		{"configured", SessionConfig{Idle: time.Minute, Absolute: 2 * time.Minute, LockoutFailures: 2, LockoutWindow: time.Second},
			time.Minute, 2 * time.Minute, time.Second, 2},
		{"no idle timeout", SessionConfig{Idle: -1}, 0, 24 * time.Hour, 15 * time.Minute, DefaultLockoutFailures},
		{"no lockout", SessionConfig{LockoutFailures: -1}, time.Hour, 24 * time.Hour, 15 * time.Minute, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.cfg.Sessions("test", def)
			if s.Dialect != "test" || s.Idle != tc.idle || s.Absolute != tc.abs || s.Lockout.Window != tc.window ||
				s.Lockout.MaxFailures != tc.failures {
				t.Fatalf("%+v", s)
			}
		})
	}
}
