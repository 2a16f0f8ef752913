package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/store/postgres"
	"github.com/scimbridge/scimbridge/store/postgres/pgtest"
)

func TestDBLabelHidesThePassword(t *testing.T) {
	for in, want := range map[string]string{
		"./scimbridge.db": "./scimbridge.db",
		"postgres://scim:s3cret@db.example:5432/scim?sslmode=require": "postgres://scim:xxxxx@db.example:5432/scim",
		"postgresql://db.example/scim":                                "postgresql://db.example/scim",
	} {
		if got := dbLabel(in); got != want {
			t.Errorf("dbLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCommandsOnPostgreSQL: --db takes a postgres:// URL. A command other
// than serve refuses a database scimbridge never migrated (as it refuses a
// missing SQLite file) and leaves it empty; once the schema is there it
// works on it; backup and restore, which copy SQLite files, point to
// PostgreSQL's own tools.
func TestCommandsOnPostgreSQL(t *testing.T) {
	cluster := pgtest.Start(t)
	url := cluster.NewDatabase(t)
	ctx := context.Background()
	var out bytes.Buffer
	err := run(ctx, []string{"user", "list", "--db", url}, &out, &out)
	if !errors.Is(err, postgres.ErrNoSchema) {
		t.Fatalf("user list on an empty database: %v\n%s", err, out.String())
	}
	if _, err := postgres.Open(ctx, url, postgres.Options{Existing: true}); !errors.Is(err, postgres.ErrNoSchema) {
		t.Fatalf("the refused command created the schema: %v", err)
	}
	// serve's open: migrate.
	db, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, args := range [][]string{
		{"user", "create", "ann", "--email", "ann@example.com", "--db", url},
		{"token", "create", "--name", "okta", "--db", url},
		{"user", "list", "--db", url},
	} {
		out.Reset()
		if err := run(ctx, args, &out, &out); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
	}
	if !strings.Contains(out.String(), "ann") {
		t.Fatalf("user list: %s", out.String())
	}
	for _, args := range [][]string{
		{"backup", "--out", t.TempDir() + "/b.db", "--db", url},
		{"restore", "--from", "/dev/null", "--db", url},
	} {
		if err := run(ctx, args, &out, &out); !errors.Is(err, errPostgresFile) {
			t.Errorf("%v: %v, want the pointer to pg_dump", args, err)
		}
	}
}
