package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

func openTemp(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// wantIntact fails the test unless PRAGMA integrity_check finds db whole.
func wantIntact(t testing.TB, where string, db *sql.DB) {
	t.Helper()
	if got := columnText(t, db, 0, `PRAGMA integrity_check`); len(got) != 1 || got[0] != "ok" {
		t.Fatalf("%s: integrity_check: %v", where, got)
	}
}

// columnText reads column i of every row query returns, as text.
func columnText(t testing.TB, db *sql.DB, i int, query string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		dest := make([]any, len(cols))
		for j := range dest {
			dest[j] = new(any)
		}
		var s string
		dest[i] = &s
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestStoreBehaviour(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestStoreSharedEmails(t *testing.T) {
	storetest.RunSharedEmails(t, func(t *testing.T) store.Store {
		db, err := Open(context.Background(), filepath.Join(t.TempDir(), "shared.db"), Options{Policy: store.Policy{SharedEmails: true}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "re.db")
	db, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := storetest.CreateUser(t, db, &store.User{UserName: "persist"})
	db.Close()
	db, err = Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, err := db.GetUser(context.Background(), u.ID); err != nil || got.UserName != "persist" {
		t.Fatalf("after reopen: %+v %v", got, err)
	}
}

func TestJSONPath(t *testing.T) {
	for in, want := range map[string]string{
		"name.givenName":          "$.name.givenName",
		"enterprise.manager.$ref": `$.enterprise.manager."$ref"`,
		"emails[0].value":         "$.emails[0].value",
	} {
		if got := jsonPath(in); got != want {
			t.Errorf("jsonPath(%q) = %q, want %q", in, got, want)
		}
	}
}
