package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// TestHotLookupsUseIndexes guards the lookups identity providers make on
// every sync against plans that scan the users or groups table.
func TestHotLookupsUseIndexes(t *testing.T) {
	db := openTemp(t)
	eq := func(attr string) store.Query {
		return store.Query{Filter: store.Compare{Attr: attr, Op: store.OpEq, Value: "x"}, Limit: 100, Related: true}
	}
	cases := []struct {
		name  string
		t     *table
		cols  string
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
			rows, err := db.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q.sql, q.args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rows.Close()
			for _, step := range plan {
				if strings.HasPrefix(step, "SCAN u") || strings.HasPrefix(step, "SCAN g") || strings.HasPrefix(step, "SCAN memberships") {
					t.Errorf("%s scans: %s", tc.name, strings.Join(plan, " | "))
				}
			}
		}
	}
}

// TestUserNameLookupUsesItsIndex: GetUserByUserName and the uniqueness
// checks of a write find users by their userName key and e-mail on the
// indexes, not by scanning users.
func TestUserNameLookupUsesItsIndex(t *testing.T) {
	db := openTemp(t)
	for _, q := range []string{
		`SELECT ` + userColsWithGroups + userFrom + ` WHERE u.user_name_key = ?`,
		`SELECT ` + userColsWithGroups + userFrom + ` WHERE u.user_name_key > ? AND u.user_name_key < ? AND u.user_name = ? COLLATE BINARY`,
		`SELECT EXISTS (SELECT 1 FROM user_emails WHERE value = ? AND user_key <> ?)`,
	} {
		args := []any{"d", "x", "y", "z"}[:strings.Count(q, "?")]
		rows, err := db.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, " | ")
		if strings.Contains(joined, "SCAN u") || strings.Contains(joined, "SCAN users") || strings.Contains(joined, "SCAN user_emails") {
			t.Errorf("%.60s… scans: %s", q, joined)
		}
	}
}

// TestLockoutQueriesUseIndexes: every login asks the activity log for the
// failures of its account, of its address and of an unknown name; none of
// those may scan the log.
func TestLockoutQueriesUseIndexes(t *testing.T) {
	db := openTemp(t)
	since := time.Now().Add(-time.Hour)
	for _, q := range []store.ActivityQuery{
		{UserID: "01a23c22-e747-7d63-ab17-de7a4b1d0815", Action: store.ActionLoginFailure, Address: "192.0.2.1", Since: since},
		{UserID: "01a23c22-e747-7d63-ab17-de7a4b1d0815", Action: store.ActionLoginFailure, Since: since},
		{UserID: "01a23c22-e747-7d63-ab17-de7a4b1d0815", Action: store.ActionPasswordChange, Since: since},
		{Action: store.ActionLoginFailure, Address: "192.0.2.1", Since: since},
		{Action: store.ActionLoginFailure, ResourceID: "unknown:0123456789abcdef", Since: since},
		{Action: store.ActionLoginFailure, ResourceID: "unknown:0123456789abcdef", Address: "192.0.2.1", Since: since},
	} {
		where, args := activityWhere(q)
		rows, err := db.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN SELECT count(*) FROM activity"+where, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if joined := strings.Join(plan, " | "); strings.Contains(joined, "SCAN activity") {
			t.Errorf("%+v scans: %s", q, joined)
		}
	}
}

// TestActivityIndexes: every write appends an activity entry, and each
// index of the log costs it one more entry. A user's entries are found by
// the user's id (activity_user_id); failed logins by address and by name.
// The index by user key found the same entries as the one by id (keys are
// never reused) and cost creates and PATCHes 7–10% of their CPU.
func TestActivityIndexes(t *testing.T) {
	db := openTemp(t)
	got := columnText(t, db.r, 0, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'activity' ORDER BY name`)
	want := []string{"activity_login_failures_address", "activity_login_failures_subject", "activity_user_id"}
	if !slices.Equal(got, want) {
		t.Fatalf("activity's indexes: %v, want %v", got, want)
	}
}

// TestInsertsOpenNoTemporaryTable: creating a user or a group runs one
// INSERT, which must not collect its rows in a temporary B-tree (as
// RETURNING does) that SQLite would open and drop on every create.
func TestInsertsOpenNoTemporaryTable(t *testing.T) {
	db := openTemp(t)
	for name, q := range map[string]string{"user": insertUserSQL, "group": insertGroupSQL} {
		ops := opcodes(t, db.w, q)
		if slices.Contains(ops, "OpenEphemeral") {
			t.Errorf("%s insert opens a temporary table: %v", name, ops)
		}
		if !slices.Contains(ops, "Insert") {
			t.Errorf("%s: EXPLAIN lists no Insert, so the check above proves nothing: %v", name, ops)
		}
	}
}

// opcodes lists the bytecode operations SQLite compiles query to (the
// second column of EXPLAIN).
func opcodes(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	args := make([]any, strings.Count(query, "?")) // all NULL: EXPLAIN runs nothing
	return columnText(t, db, 1, "EXPLAIN "+query, args...)
}
