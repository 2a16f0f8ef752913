package postgres

import (
	"context"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/postgres/pgtest"
)

// TestMigrateIdentityRules: a database at schema version 2 (before the
// identity rules) with data in it migrates to the current schema: userName
// keys filled and unique, the younger of two names the new comparison
// finds equal parked and still found by its exact name, activity entries
// named by user id, externalIds moved to the default domain.
func TestMigrateIdentityRules(t *testing.T) {
	c := pgtest.Start(t)
	url := c.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, m := range migrationFiles()[:2] {
		body, err := fs.ReadFile(migrations, "migrations/"+m.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied timestamptz NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, now()), (2, now())`,
		`INSERT INTO users (id, user_name, external_id, active, created, last_modified, version, doc) VALUES
 ('u1', 'ÄRNE', 'ext-1', true, now(), now(), 1, '{"userName":"ÄRNE"}'),
 ('u2', 'ärne', NULL, true, now(), now(), 1, '{"userName":"ärne"}'),
 ('u3', 'bob', NULL, true, now(), now(), 1, '{"userName":"bob"}')`,
		`INSERT INTO groups (id, display_name, external_id, created, last_modified, version) VALUES ('g1', 'Eng', 'gext', now(), now(), 1)`,
		`INSERT INTO activity (at, door, principal, address, action, resource_type, resource_id, resource_key, user_key, detail) VALUES
 (now(), 'scim', '', '', 'user.create', 'User', 'u3', 3, 3, ''),
 (now(), 'scim', '', '', 'group.members.add', 'Group', 'g1', 1, 3, 'member=u3')`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db, err := Open(ctx, url, Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, want := range map[string]string{"ärne": "u2", "ÄRNE": "u1", "Ärne": "u1", "BOB": "u3"} {
		u, err := db.GetUserByUserName(ctx, name)
		if err != nil || u.ID != want {
			t.Errorf("GetUserByUserName(%q): %+v %v, want %s", name, u, err, want)
		}
	}
	err = db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error { return tx.CreateUser(ctx, &store.User{UserName: "Ärne"}) })
	if store.KindOf(err) != store.KindConflict {
		t.Errorf("a third form of a migrated name: %v, want a conflict", err)
	}
	if u, err := db.GetUser(ctx, "u1"); err != nil || u.ExternalID != "ext-1" {
		t.Errorf("user externalId after the migration: %+v %v", u, err)
	}
	if g, err := db.GetGroup(ctx, "g1", false); err != nil || g.ExternalID != "gext" {
		t.Errorf("group externalId after the migration: %+v %v", g, err)
	}
	acts, total, err := db.ListActivity(ctx, store.ActivityQuery{UserID: "u3"})
	if err != nil || total != 2 || len(acts) != 2 {
		t.Errorf("activity of u3 by id: %+v (%d) %v", acts, total, err)
	}
}
