package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/postgres/pgtest"
)

// bigGroup makes a group holding the first members of n seeded users.
func bigGroup(t testing.TB, db *DB, users, members int) *store.Group {
	t.Helper()
	ctx := context.Background()
	seedSQL(t, db, users)
	g := &store.Group{DisplayName: "everyone"}
	if err := db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error { return tx.CreateGroup(ctx, g) }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO memberships (group_key, member_type, member_key)
 SELECT $1, 0, key FROM users ORDER BY key LIMIT $2`, g.Key, members); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestAddManyMembersToALargeGroup: one write adds thousands of members to
// a group that already has many, skipping present ones, recording each
// addition and bumping each new member's version, in a fixed number of
// statements (see insertMembers).
func TestAddManyMembersToALargeGroup(t *testing.T) {
	c := pgtest.Start(t)
	db := openFresh(t, c)
	ctx := context.Background()
	g := bigGroup(t, db, 20000, 15000)
	var refs []store.MemberRef
	for i := 14901; i <= 20000; i++ { // 100 present, 5,000 new
		refs = append(refs, store.MemberRef{ID: fmt.Sprintf("id-%d", i)})
	}
	var added int
	if err := db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) (err error) {
		added, err = tx.AddMembers(ctx, g.ID, refs)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if added != 5000 {
		t.Fatalf("added %d, want 5000", added)
	}
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE group_key = $1`, g.Key).Scan(&n); err != nil || n != 20000 {
		t.Fatalf("members %d %v", n, err)
	}
	if _, total, _ := db.ListActivity(ctx, store.ActivityQuery{Action: "group.members.add"}); total != 5000 {
		t.Fatalf("%d activity entries, want 5000", total)
	}
	acts, _, _ := db.ListActivity(ctx, store.ActivityQuery{Action: "group.members.add", Ascending: true, Limit: 2})
	if len(acts) != 2 || acts[0].Detail != "member=id-15001" || acts[1].Detail != "member=id-15002" {
		t.Fatalf("activity not in request order: %+v", acts)
	}
	got, _ := db.GetGroup(ctx, g.ID, false)
	if got.Meta.Version != 2 {
		t.Fatalf("group version %d, want 2", got.Meta.Version)
	}
	if u, _ := db.GetUser(ctx, "id-20000"); u.Meta.Version != 2 {
		t.Fatalf("new member's version %d, want 2", u.Meta.Version)
	}
	if u, _ := db.GetUser(ctx, "id-14901"); u.Meta.Version != 1 {
		t.Fatalf("present member's version %d, want 1", u.Meta.Version)
	}
}

// BenchmarkAddMembersToLargeGroup: 10,000 members added to a group of
// 100,000 in one write (the figure; README gives SQLite's).
func BenchmarkAddMembersToLargeGroup(b *testing.B) {
	c := pgtest.Start(b)
	db := openFresh(b, c)
	ctx := context.Background()
	const have, add = 100000, 10000
	g := bigGroup(b, db, have+add*b.N, have)
	next := have + 1
	b.ResetTimer()
	for range b.N {
		refs := make([]store.MemberRef, 0, add)
		for range add {
			refs = append(refs, store.MemberRef{ID: fmt.Sprintf("id-%d", next)})
			next++
		}
		if err := db.Write(ctx, store.Actor{Door: "bench"}, func(tx store.Tx) error {
			_, err := tx.AddMembers(ctx, g.ID, refs)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}
