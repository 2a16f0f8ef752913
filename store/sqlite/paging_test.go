package sqlite

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// TestOffsetPagesSeekTheKeyIndex: an unfiltered offset page is counted off
// in the narrow key index, never by stepping over the table's rows, and it
// holds exactly the rows OFFSET would: with gaps left by deletions, in both
// directions, at every offset, past the end too.
func TestOffsetPagesSeekTheKeyIndex(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	ids := seed(t, db, 60)
	for i := 0; i < len(ids); i += 7 {
		if err := db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error { return tx.DeleteUser(ctx, ids[i]) }); err != nil {
			t.Fatal(err)
		}
	}
	all, err := db.ListUsers(ctx, store.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var asc []string
	for _, u := range all.Users {
		asc = append(asc, u.ID)
	}
	desc := slices.Clone(asc)
	slices.Reverse(desc)
	for _, descending := range []bool{false, true} {
		want := asc
		if descending {
			want = desc
		}
		for _, limit := range []int{1, 7, 100} {
			for offset := 0; offset <= len(want)+2; offset++ {
				p, err := db.ListUsers(ctx, store.Query{Limit: limit, Offset: offset, Descending: descending, Related: true})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, u := range p.Users {
					got = append(got, u.ID)
				}
				exp := want[min(offset, len(want)):min(offset+limit, len(want))]
				if !slices.Equal(got, exp) && !(len(got) == 0 && len(exp) == 0) {
					t.Fatalf("descending=%v limit %d offset %d: got %v, want %v", descending, limit, offset, got, exp)
				}
				if p.Total != len(want) {
					t.Fatalf("total %d, want %d", p.Total, len(want))
				}
			}
		}
	}
	for _, tc := range []struct {
		t    *table
		cols string
	}{{userTable, userColsWithGroups}, {groupTable, groupCols}} {
		sel, err := buildSelect(tc.t, tc.cols, store.Query{Limit: 100, Offset: 50000}, store.DefaultDomain)
		if err != nil {
			t.Fatal(err)
		}
		plan := queryPlan(t, db, sel.sql, sel.args)
		if !strings.Contains(plan, "USING COVERING INDEX "+tc.t.keyIndex) || strings.Contains(plan, "SCAN "+tc.t.alias+" ") || strings.HasSuffix(plan, "SCAN "+tc.t.alias) {
			t.Errorf("%s offset page: plan %s", tc.t.name, plan)
		}
	}
}

func queryPlan(t *testing.T, db *DB, query string, args []any) string {
	t.Helper()
	rows, err := db.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, " | ")
}
