package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// createAtVersion makes a database file as a build whose newest migration
// was version would have left it, then runs seed on it.
func createAtVersion(t *testing.T, path string, version int, seed string) {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+path+"?_foreign_keys=on&_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range migrationFiles() {
		if m.version > version {
			break
		}
		body, err := fs.ReadFile(migrations, "migrations/"+m.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if _, err := raw.Exec(`INSERT INTO schema_migrations VALUES (?, 0)`, m.version); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := raw.Exec(seed); err != nil {
		t.Fatalf("seed: %v", err)
	}
}

// The state a database of the schema before AUTOINCREMENT can be in: key
// 4 was used twice (OLD deleted, NEW got its key), key 5 and group key 3
// were deleted for good, and "ÄRNE" and "ärne" coexist because userNames
// folded ASCII case only.
const seedVersion4 = `
INSERT INTO users (key, id, user_name, display_name, active, created, last_modified, version, password_hash, doc) VALUES
 (1, 'id-alice', 'alice', 'Alice A', 1, 1, 1, 3, '$argon2id$x', '{"userName":"alice","active":true,"title":"Boss"}'),
 (2, 'id-arne-upper', 'ÄRNE', NULL, 1, 2, 2, 1, NULL, '{"userName":"ÄRNE","active":true}'),
 (3, 'id-arne-lower', 'ärne', NULL, 0, 3, 3, 1, NULL, '{"userName":"ärne","active":false}'),
 (4, 'id-new', 'newcomer', NULL, 1, 9, 9, 1, NULL, '{"userName":"newcomer","active":true}');
INSERT INTO user_emails VALUES (1, 0, 'alice@example.com', 'work', 1), (1, 1, 'a@home.example', 'home', 0),
 (4, 0, 'new@example.com', NULL, 0);
INSERT INTO groups (key, id, display_name, created, last_modified, version) VALUES
 (1, 'gid-staff', 'staff', 1, 1, 1), (2, 'gid-all', 'all', 1, 1, 1);
INSERT INTO memberships VALUES (1, 0, 1), (1, 0, 4), (2, 1, 1);
UPDATE counts SET n = 4 WHERE name = 'users';
UPDATE counts SET n = 2 WHERE name = 'groups';
UPDATE counts SET n = 1 WHERE name = 'nested';
INSERT INTO activity (seq, at, door, principal, address, action, resource_type, resource_id, resource_key, user_key, detail) VALUES
 (1, 1, 'scim', 't', '', 'user.create', 'User', 'id-alice', 1, 1, ''),
 (2, 1, 'scim', 't', '', 'user.create', 'User', 'id-old', 4, 4, ''),
 (3, 1, 'scim', 't', '', 'group.members.add', 'Group', 'gid-staff', 1, 4, 'member=id-old'),
 (4, 1, 'usersapi', 'old', '10.0.0.9', 'login', 'User', 'id-old', 4, 4, ''),
 (5, 1, 'scim', 't', '', 'user.delete', 'User', 'id-old', 4, 4, ''),
 (6, 1, 'scim', 't', '', 'user.create', 'User', 'id-gone', 5, 5, ''),
 (7, 1, 'scim', 't', '', 'user.delete', 'User', 'id-gone', 5, 5, ''),
 (8, 1, 'scim', 't', '', 'user.create', 'User', 'id-new', 4, 4, ''),
 (9, 1, 'scim', 't', '', 'group.members.add', 'Group', 'gid-staff', 1, 4, 'member=id-new'),
 (10, 1, 'scim', 't', '', 'group.delete', 'Group', 'gid-gone', 3, 0, '');
`

// TestMigrationFromVersion4 opens a database made by the schema before
// AUTOINCREMENT, userName keys and activity user ids: every row stays,
// new keys start above every key ever used, and history stays with the
// user it was about.
func TestMigrationFromVersion4(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v4.db")
	createAtVersion(t, path, 4, seedVersion4)
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	// Rows, columns, e-mails, memberships and counts are kept.
	alice, err := db.GetUserByKey(ctx, 1)
	if err != nil || alice.ID != "id-alice" || alice.Title != "Boss" || alice.DisplayName != "Alice A" ||
		alice.PasswordHash != "$argon2id$x" || alice.Meta.Version != 3 {
		t.Fatalf("alice after migration: %+v %v", alice, err)
	}
	for _, email := range []string{"ALICE@example.com", "a@home.example"} {
		page, err := db.ListUsers(ctx, store.Query{Filter: store.Compare{Attr: "emails.value", Op: store.OpEq, Value: email}, Limit: 5})
		if err != nil || page.Total != 1 || page.Users[0].ID != "id-alice" {
			t.Fatalf("e-mail index lost %s: %+v %v", email, page, err)
		}
	}
	staff, err := db.GetGroup(ctx, "gid-staff", true)
	if err != nil || len(staff.Members) != 2 {
		t.Fatalf("memberships after migration: %+v %v", staff, err)
	}
	if got, _ := db.GetUser(ctx, "id-alice"); len(got.Groups) != 2 {
		t.Fatalf("alice's direct and nested groups: %+v", got.Groups)
	}
	if page, _ := db.ListUsers(ctx, store.Query{Limit: 0}); page.Total != 4 {
		t.Fatalf("user count %d, want 4", page.Total)
	}

	// Keys go on above every key ever used, deleted ones included.
	var next *store.User
	if err := db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
		next = &store.User{UserName: "after"}
		if err := tx.CreateUser(ctx, next); err != nil {
			return err
		}
		return tx.CreateGroup(ctx, &store.Group{DisplayName: "after"})
	}); err != nil {
		t.Fatal(err)
	}
	if next.Key != 6 {
		t.Fatalf("first user after the migration got key %d, want 6 (5 was used)", next.Key)
	}
	g, err := db.ListGroups(ctx, store.Query{Filter: store.Compare{Attr: "displayName", Op: store.OpEq, Value: "after"}, Limit: 1})
	if err != nil || g.Groups[0].Key != 4 {
		t.Fatalf("first group after the migration: %+v %v, want key 4 (3 was used)", g, err)
	}

	// Each entry stays with the user it was about, though key 4 was
	// reused; the deleted users' histories are found by their ids.
	history := func(id string) []int64 {
		acts, _, err := db.ListActivity(ctx, store.ActivityQuery{UserID: id, Ascending: true})
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, a := range acts {
			seqs = append(seqs, a.Seq)
		}
		return seqs
	}
	for id, want := range map[string][]int64{"id-old": {2, 3, 4, 5}, "id-gone": {6, 7}, "id-new": {8, 9}, "id-alice": {1}} {
		if got := history(id); !slices.Equal(got, want) {
			t.Errorf("history of %s: %v, want %v", id, got, want)
		}
	}

	// Names that collide under the new comparison both stay and both
	// work; no third joins them.
	for name, want := range map[string]string{"ÄRNE": "id-arne-upper", "ärne": "id-arne-lower", "Ärne": "id-arne-upper"} {
		if u, err := db.GetUserByUserName(ctx, name); err != nil || u.ID != want {
			t.Errorf("GetUserByUserName(%q): %+v %v, want %s", name, u, err, want)
		}
	}
	err = db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error { return tx.CreateUser(ctx, &store.User{UserName: "Ärne"}) })
	if store.KindOf(err) != store.KindConflict {
		t.Fatalf("a third Ärne: %v", err)
	}
	if err := db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
		_, err := tx.UpdateUser(ctx, "id-arne-lower", func(u *store.User) error { u.Active = true; return nil })
		return err
	}); err != nil {
		t.Fatalf("a user that collides from before cannot be changed: %v", err)
	}

	wantIntact(t, "after the migration", db.r)
	rows, err := db.r.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Fatal("foreign key violations after the migration")
	}
	rows.Close()
	var schema string
	if err := db.r.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = 'users'`).Scan(&schema); err != nil ||
		!strings.Contains(schema, "AUTOINCREMENT") {
		t.Fatalf("users table: %s %v", schema, err)
	}
}
