package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/postgres/pgtest"
)

// seedSQL fills a store quickly, bypassing Write, for tests that need
// volume rather than history: n users with e-mails, external ids and
// display names, a group for every 10 users, every user in a group.
func seedSQL(t testing.TB, db *DB, n int) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO users (id, user_name, user_name_key, display_name, active, created, last_modified, version, doc)
 SELECT 'id-' || i, 'user' || i, 'user' || i, 'User ' || i, i % 2 = 0, now(), now(), 1,
  jsonb_build_object('userName', 'user' || i, 'active', i % 2 = 0, 'title', 'T' || (i % 7),
   'emails', jsonb_build_array(jsonb_build_object('value', 'user' || i || '@example.com', 'type', 'work')))
 FROM generate_series(1, $1) AS i`,
		`INSERT INTO user_emails (user_key, pos, value, type, is_primary)
 SELECT key, 0, user_name || '@example.com', 'work', false FROM users`,
		`INSERT INTO groups (id, display_name, created, last_modified, version)
 SELECT 'gid-' || i, 'Group ' || i, now(), now(), 1 FROM generate_series(1, $1 / 10) AS i`,
		`INSERT INTO external_ids (resource_type, resource_key, domain, external_id)
 SELECT 0, key, 'default', 'ext-' || substr(id, 4) FROM users`,
		`INSERT INTO external_ids (resource_type, resource_key, domain, external_id)
 SELECT 1, key, 'default', 'gext-' || substr(id, 5) FROM groups`,
		`INSERT INTO memberships (group_key, member_type, member_key)
 SELECT g.key, 0, u.key FROM users u JOIN groups g ON g.key = 1 + u.key % ($1 / 10)`,
	} {
		arg := []any{n}
		if !strings.Contains(q, "$1") {
			arg = nil
		}
		if _, err := db.pool.Exec(ctx, q, arg...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := db.pool.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
}

// TestHotLookupsUseIndexes guards the lookups identity providers make on
// every sync against plans that scan the users, groups or memberships
// table, as store/sqlite's test of the same name does.
func TestHotLookupsUseIndexes(t *testing.T) {
	c := pgtest.Start(t)
	db := openFresh(t, c)
	seedSQL(t, db, 20000)
	eq := func(attr string) store.Query {
		return store.Query{Filter: store.Compare{Attr: attr, Op: store.OpEq, Value: "x"}, Limit: 100, Related: true}
	}
	cases := []struct {
		name  string
		t     *table
		cols  func(domain string) string
		query store.Query
	}{
		{"userName", userTable, userColsWithGroups, eq("userName")},
		{"externalId", userTable, userColsWithGroups, eq("externalId")},
		{"emails.value", userTable, userColsWithGroups, eq("emails.value")},
		{"entra emails value path", userTable, userColsWithGroups, store.Query{Limit: 100, Filter: store.ValueFilter{Attr: "emails",
			Filter: store.And{Left: store.Compare{Attr: "type", Op: store.OpEq, Value: "work"}, Right: store.Compare{Attr: "value", Op: store.OpEq, Value: "x"}}}}},
		{"user displayName", userTable, userColsWithGroups, eq("displayName")},
		{"group displayName", groupTable, groupCols, eq("displayName")},
		{"group externalId", groupTable, groupCols, eq("externalId")},
		{"members.value", groupTable, groupCols, eq("members.value")},
		{"id and members (AWS, Entra)", groupTable, groupCols, store.Query{Limit: 100, Filter: store.And{
			Left: store.Compare{Attr: "id", Op: store.OpEq, Value: "gid-1"}, Right: store.Compare{Attr: "members", Op: store.OpEq, Value: "id-1"}}}},
	}
	for _, tc := range cases {
		sel, err := buildSelect(tc.t, tc.cols, tc.query, store.DefaultDomain)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{{sel.sql, sel.args}, {sel.countSQL, sel.countArgs}} {
			plan := explain(t, db, q.sql, q.args...)
			joined := strings.Join(plan, "\n")
			for i, line := range plan {
				// A sequential scan, or an index walked whole (no Index
				// Cond under it), reads every row.
				full := strings.Contains(line, "Seq Scan on") ||
					strings.Contains(line, "Index Scan using") && (i+1 == len(plan) || !strings.HasPrefix(plan[i+1], "Index Cond:"))
				if full {
					t.Errorf("%s reads a whole table (%s):\n%s", tc.name, line, joined)
				}
			}
		}
	}
}

// TestLockoutQueriesUseIndexes: every login asks the activity log for the
// failures of its account, of its address and of an unknown name, and for
// the account's last login and password change; none of those may read the
// whole log, as store/sqlite's test of the same name checks there.
func TestLockoutQueriesUseIndexes(t *testing.T) {
	c := pgtest.Start(t)
	db := openFresh(t, c)
	ctx := context.Background()
	if _, err := db.pool.Exec(ctx, `INSERT INTO activity (at, door, principal, address, action, resource_type,
 resource_id, resource_key, user_key, user_id, detail)
 SELECT now() - i * interval '1 second', 'scim', 'p', '192.0.2.' || (i % 200),
  (ARRAY['user.update', 'login', 'login.failure', 'password.change'])[1 + i % 4], 'User',
  CASE WHEN i % 10 = 0 THEN 'unknown:' || i ELSE 'id-' || (i % 5000) END, i % 5000, i % 5000,
  CASE WHEN i % 10 = 0 THEN '' ELSE 'id-' || (i % 5000) END, ''
 FROM generate_series(1, 50000) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `ANALYZE activity`); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Hour)
	for _, q := range []store.ActivityQuery{
		{UserID: "id-7", Action: store.ActionLoginFailure, Address: "192.0.2.1", Since: since},
		{UserID: "id-7", Action: store.ActionLoginFailure, Since: since},
		{UserID: "id-7", Action: store.ActionPasswordChange, Since: since},
		{UserID: "id-7", Action: "login", Since: since},
		{Action: store.ActionLoginFailure, Address: "192.0.2.1", Since: since},
		{Action: store.ActionLoginFailure, ResourceID: "unknown:0123456789abcdef", Since: since},
		{Action: store.ActionLoginFailure, ResourceID: "unknown:0123456789abcdef", Address: "192.0.2.1", Since: since},
	} {
		where, args, ok := activityWhere(q)
		if !ok {
			t.Fatalf("%+v: not storable", q)
		}
		plan := explain(t, db, "SELECT count(*) FROM activity"+where, args...)
		if joined := strings.Join(plan, "\n"); strings.Contains(joined, "Seq Scan on activity") {
			t.Errorf("%+v reads the whole log:\n%s", q, joined)
		}
	}
}

// explain returns the lines of PostgreSQL's plan for query.
func explain(t *testing.T, db *DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.pool.Query(context.Background(), "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, strings.TrimSpace(line))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
