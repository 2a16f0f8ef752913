package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
			// check also notices a removed database when no one writes.
			walSize, err := db.health.check()
			if err != nil || walSize < checkpointBytes {
				continue
			}
			if _, err := c.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
				continue // busy or closing: the next tick tries again
			}
		}
	}
}

// The WAL's bound. The background checkpoint copies frames but cannot
// restart the WAL: SQLite writes the WAL from its beginning again only when
// a write begins after every frame was copied back and no reader still
// uses them, which under sustained writes never happens, so the file grew
// without bound (32.8 GB during 1,000,000 creates). So when the WAL passes
// walMax, the writer itself runs a RESTART checkpoint between two batches,
// when nothing else can append: it copies the frames left, waits briefly
// for readers of older snapshots, and makes the next write start at the
// WAL's beginning. That write cuts the file to journal_size_limit, which
// is the bound itself: the log is rewritten in place, over blocks the file
// has, since a write that extends a file costs about twice one into it
// (ext4, 4 KiB frames: 5 against 2.3 µs), and the frames were a sixth of a
// create's CPU; the file stays at about the bound once it reached it. A
// reader that keeps an old snapshot longer than restartWait keeps the WAL
// too; the writer tries again after restartBackoff.

const (
	// defaultWALMax is Options.WALMaxBytes when unset.
	defaultWALMax  = 128 << 20
	restartWait    = 200 * time.Millisecond
	restartBackoff = 100 * time.Millisecond
)

// restartWAL runs on the writer goroutine, between batches; walSize is the
// WAL's size after the last one.
func (db *DB) restartWAL(walSize int64) {
	now := time.Now()
	if now.Before(db.walRetryAt) {
		return
	}
	ctx := context.Background()
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	var busy, frames, copied int
	_, _ = conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout=%d`, restartWait.Milliseconds()))
	err = conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &frames, &copied)
	_, _ = conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout=%d`, db.busyTimeout.Milliseconds()))
	if err == nil && busy == 0 {
		db.walRetryAt = time.Time{}
		if db.walWarned {
			db.log.Info("sqlite: the write-ahead log restarted again", "path", db.path)
			db.walWarned = false
		}
		return
	}
	db.walRetryAt = now.Add(restartBackoff)
	if walSize > 2*db.walMax && !db.walWarned {
		db.walWarned = true
		if err == nil {
			err = errors.New("readers still use the log")
		}
		db.log.Warn("sqlite: cannot restart the write-ahead log; it grows past its bound until it can",
			"path", db.path, "bound", db.walMax, "err", err)
	}
}
