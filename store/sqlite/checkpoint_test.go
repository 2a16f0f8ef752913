package sqlite

import (
	"os"
	"testing"
	"time"
)

// TestBackgroundCheckpoint: with automatic checkpoints off on the writer,
// the checkpointer still copies a grown WAL into the database file.
func TestBackgroundCheckpoint(t *testing.T) {
	db := openTemp(t)
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	before := size(db.path)
	seed(t, db, 12000) // several MB of WAL
	if size(db.path+"-wal") < checkpointBytes {
		t.Fatalf("test wrote too little WAL: %d", size(db.path+"-wal"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for size(db.path) < before+2<<20 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if size(db.path) < before+2<<20 {
		t.Fatalf("WAL never checkpointed: db %d bytes, wal %d", size(db.path), size(db.path+"-wal"))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if w := size(db.path + "-wal"); w != 0 {
		t.Fatalf("close left a %d-byte WAL", w)
	}
}
