package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// TestExternalIDMigrationKeepsValues: a database from before provisioning
// domains (externalId a unique column) keeps its values, now in the
// default domain, and loses the uniqueness.
func TestExternalIDMigrationKeepsValues(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range migrationFiles() {
		if m.version >= 10 {
			break
		}
		body, err := fs.ReadFile(migrations, "migrations/"+m.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if _, err := old.Exec(`INSERT INTO schema_migrations VALUES (?, 0)`, m.version); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO users (id, user_name, external_id, active, created, last_modified, version, doc)
 VALUES ('u1', 'ann', 'ext-ann', 1, 1, 1, 1, '{"userName":"ann","externalId":"ext-ann","active":true}')`,
		`INSERT INTO users (id, user_name, active, created, last_modified, version, doc)
 VALUES ('u2', 'bob', 1, 1, 1, 1, '{"userName":"bob","active":true}')`,
		`INSERT INTO groups (id, display_name, external_id, created, last_modified, version) VALUES ('g1', 'Eng', 'ext-g', 1, 1, 1)`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if u, err := db.GetUser(ctx, "u1"); err != nil || u.ExternalID != "ext-ann" {
		t.Fatalf("u1 after the migration: %+v, %v", u, err)
	}
	if u, err := db.GetUser(store.WithDomain(ctx, "okta"), "u1"); err != nil || u.ExternalID != "" {
		t.Fatalf("u1 in another domain: %+v, %v", u, err)
	}
	if g, err := db.GetGroup(ctx, "g1", false); err != nil || g.ExternalID != "ext-g" {
		t.Fatalf("g1 after the migration: %+v, %v", g, err)
	}
	page, err := db.ListUsers(ctx, store.Query{Filter: store.Compare{Attr: "externalId", Op: store.OpEq, Value: "ext-ann"}, Limit: 10})
	if err != nil || page.Total != 1 || page.Users[0].ID != "u1" {
		t.Fatalf("externalId eq after the migration: %+v, %v", page, err)
	}
	// No longer unique.
	err = db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
		_, err := tx.UpdateUser(ctx, "u2", func(u *store.User) error { u.ExternalID = "ext-ann"; return nil })
		return err
	})
	if err != nil {
		t.Fatalf("a second user with ext-ann: %v", err)
	}
}
