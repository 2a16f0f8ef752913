package sqlite

import (
	"context"
	"database/sql"
	"os"
	"time"
)

// Background checkpointing. By default SQLite checkpoints inside the commit
// that crosses the WAL threshold, so every few hundred writes one of them
// waits while pages are copied and synced. Here the writer never
// checkpoints (wal_autocheckpoint=0); a separate connection copies the WAL
// back in PASSIVE mode (it never blocks the writer or readers) whenever the
// WAL has grown past checkpointBytes.

const (
	checkpointEvery = 250 * time.Millisecond
	checkpointBytes = 4 << 20
	// walLimit truncates the WAL file back to this size when it restarts.
	walLimit = 64 << 20
)

func (db *DB) checkpointer(c *sql.DB) {
	defer close(db.checkpointDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
			fi, err := os.Stat(db.path + "-wal")
			if err != nil || fi.Size() < checkpointBytes {
				continue
			}
			if _, err := c.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
				continue // busy or closing: the next tick tries again
			}
		}
	}
}
