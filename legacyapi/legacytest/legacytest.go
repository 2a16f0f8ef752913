// Package legacytest holds what the legacy dialects' tests share: a real
// SQLite store in a temporary directory, a clock tests can move, and API
// keys issued the way the command line issues them.
package legacytest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at a fixed moment.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock on.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// OpenStore opens a store on a new SQLite file that is closed when the test
// ends; now, if not nil, is the store's clock.
func OpenStore(t testing.TB, now func() time.Time) *sqlite.DB {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "store.db"), sqlite.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// IssueKey stores an API key of the dialect for the user and returns it.
func IssueKey(t testing.TB, st store.Store, dialect, token string, identifierLen int, userKey int64, name string, scopes ...string) string {
	t.Helper()
	if _, err := auth.IssueKey(context.Background(), st, store.Actor{Door: "test"}, dialect, token, identifierLen,
		userKey, name, scopes); err != nil {
		t.Fatal(err)
	}
	return token
}
