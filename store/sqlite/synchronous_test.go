package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestSynchronous: Options.Synchronous reaches every connection that
// commits or reads (SQLite's PRAGMA synchronous: 1 NORMAL, 2 FULL), the
// zero value is NORMAL, and an unknown mode is refused.
func TestSynchronous(t *testing.T) {
	for _, tc := range []struct {
		mode Synchronous
		want int
	}{{"", 1}, {SyncNormal, 1}, {SyncFull, 2}} {
		db, err := Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), Options{Synchronous: tc.mode})
		if err != nil {
			t.Fatal(err)
		}
		for name, q := range map[string]*sql.DB{"writer": db.w, "reader": db.r, "checkpointer": db.cp} {
			var got int
			if err := q.QueryRowContext(context.Background(), `PRAGMA synchronous`).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("synchronous %q: %s connection has %d, want %d", tc.mode, name, got, tc.want)
			}
		}
		db.Close()
	}
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), Options{Synchronous: "extra"}); err == nil {
		t.Error("synchronous \"extra\" was accepted")
	}
}
