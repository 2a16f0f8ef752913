// Package teststore opens the store a test runs on: a new SQLite file by
// default, a new PostgreSQL database when SCIMBRIDGE_TEST_STORE says so.
// A package's test reruns some of its tests on PostgreSQL with
// RunOnPostgreSQL, so that a door's suite, unchanged, proves the door on
// both backends.
package teststore

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/postgres"
	"github.com/scimbridge/scimbridge/store/postgres/pgtest"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// Env names the environment variable that picks the backend Open opens: a
// postgres:// URL of a server's postgres database for a new database on
// that server, "postgres" for a cluster of the test's own, anything else
// SQLite.
const Env = "SCIMBRIDGE_TEST_STORE"

// Open opens a store on the backend Env picks, closed when the test ends;
// now, if not nil, is its clock.
func Open(t testing.TB, now func() time.Time) store.Store {
	t.Helper()
	url := PostgresURL(t)
	if url == "" {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "store.db"), sqlite.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 8, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// PostgresURL returns the URL of a new, empty PostgreSQL database when Env
// picks PostgreSQL, else "" (SQLite).
func PostgresURL(t testing.TB) string {
	t.Helper()
	switch choice := os.Getenv(Env); {
	case choice == "postgres":
		return pgtest.Start(t).NewDatabase(t)
	case postgres.IsURL(choice):
		return pgtest.NewDatabaseAt(t, choice)
	}
	return ""
}

// RunOnPostgreSQL runs the tests of the calling package that match
// pattern again, in a child process of the test binary whose Open opens
// databases of one PostgreSQL cluster started here. It skips (or, with
// CI=true, fails) without PostgreSQL or when the child skips a test (it
// lacks what the test needs), and fails when the child runs no test.
func RunOnPostgreSQL(t *testing.T, pattern string) {
	t.Helper()
	if os.Getenv(Env) != "" {
		t.Skip("already on the backend " + Env + " names")
	}
	c := pgtest.Start(t)
	cmd := exec.Command(os.Args[0], "-test.run", pattern, "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), Env+"="+c.URL("postgres"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("on PostgreSQL: %v\n%s", err, out)
	}
	passed := strings.Count(string(out), "--- PASS")
	if strings.Contains(string(out), "--- SKIP") {
		// The child skips only where CI=true would have failed it.
		t.Skipf("on PostgreSQL some tests skipped:\n%s", out)
	}
	if passed == 0 {
		t.Fatalf("on PostgreSQL no test ran:\n%s", out)
	}
	t.Logf("%d tests (subtests included) passed on PostgreSQL", passed)
}
