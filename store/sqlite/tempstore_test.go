package sqlite

import (
	"context"
	"database/sql"
	"testing"
)

// TestWriterTempStoreInMemory: the write connection keeps its statement
// journals in memory (PRAGMA temp_store 2, MEMORY), so a create is not a
// couple of dozen writes to a temporary file; the read pool and the
// checkpointer keep SQLite's default (0), since their sorts may be large.
func TestWriterTempStoreInMemory(t *testing.T) {
	db := openTemp(t)
	for name, tc := range map[string]struct {
		q    *sql.DB
		want int
	}{"writer": {db.w, 2}, "reader": {db.r, 0}, "checkpointer": {db.cp, 0}} {
		var got int
		if err := tc.q.QueryRowContext(context.Background(), `PRAGMA temp_store`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s connection: temp_store %d, want %d", name, got, tc.want)
		}
	}
}
