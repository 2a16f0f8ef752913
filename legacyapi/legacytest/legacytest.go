// Package legacytest holds what the legacy dialects' tests share: a real
// SQLite store in a temporary directory (or, with SCIMBRIDGE_TEST_STORE=
// postgres, a real PostgreSQL database), a clock tests can move, and API
// keys issued the way the command line issues them.
package legacytest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/postgres"
	"github.com/scimbridge/scimbridge/store/postgres/pgtest"
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

// StoreEnv names the environment variable that picks the backend Open
// opens: a postgres:// URL of a server's postgres database for a new
// database on that server, "postgres" for a cluster of the test's own,
// anything else SQLite. A dialect's test runs its own suite again with it
// set (RunOnPostgreSQL).
const StoreEnv = "SCIMBRIDGE_TEST_STORE"

// Open opens a store on the backend StoreEnv picks, a new SQLite file by
// default, closed when the test ends; now, if not nil, is its clock.
func Open(t testing.TB, now func() time.Time) store.Store {
	t.Helper()
	if choice := os.Getenv(StoreEnv); choice == "postgres" || postgres.IsURL(choice) {
		var url string
		if choice == "postgres" {
			url = pgtest.Start(t).NewDatabase(t)
		} else {
			url = pgtest.NewDatabaseAt(t, choice)
		}
		st, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 8, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	return OpenStore(t, now)
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

// RunOnPostgreSQL runs the tests of the calling package that match
// pattern again, in a child process of the test binary whose Open opens
// PostgreSQL stores: the dialect's unchanged suite on the other
// backend. It skips (or, with CI=true, fails) without PostgreSQL.
func RunOnPostgreSQL(t *testing.T, pattern string) {
	t.Helper()
	if os.Getenv(StoreEnv) != "" {
		t.Skip("already on the backend " + StoreEnv + " names")
	}
	// One cluster for the whole suite; each store gets a database of it.
	c := pgtest.Start(t)
	cmd := exec.Command(os.Args[0], "-test.run", pattern, "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), StoreEnv+"="+c.URL("postgres"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the suite on PostgreSQL: %v\n%s", err, out)
	}
	passed := strings.Count(string(out), "--- PASS")
	if passed == 0 || strings.Contains(string(out), "--- SKIP") {
		t.Fatalf("the suite on PostgreSQL ran no test or skipped some:\n%s", out)
	}
	t.Logf("%d tests passed on PostgreSQL", passed)
}
