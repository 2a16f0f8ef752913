package metrics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFileGaugesOnlyForSQLite: a SQLite file gets its size gauges, reading
// the file's size; a PostgreSQL URL gets none (they would read 0 forever
// and suggest an empty database).
func TestFileGaugesOnlyForSQLite(t *testing.T) {
	db := filepath.Join(t.TempDir(), "scimbridge.db")
	if err := os.WriteFile(db, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	gauges := func(dbPath string) map[string]float64 {
		fams, err := New(dbPath).Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, f := range fams {
			if strings.HasPrefix(f.GetName(), "scimbridge_sqlite_") {
				out[f.GetName()] = f.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return out
	}
	if g := gauges(db); g["scimbridge_sqlite_file_bytes"] != 4096 || len(g) != 2 {
		t.Errorf("SQLite file gauges: %v", g)
	}
	for _, url := range []string{"postgres://scim@127.0.0.1:5432/scim", "postgresql://db.example.com/scim"} {
		if g := gauges(url); len(g) != 0 {
			t.Errorf("%s: file gauges %v", url, g)
		}
	}
}
