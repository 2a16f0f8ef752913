package sqlite

/*
#include "walvfs.h"

int walvfs_register(void);
long long walvfs_writes(void);
void walvfs_fail(int n, int rc);
*/
import "C"

import (
	"fmt"
	"sync"
)

// The write connection's WAL goes through walVFS (walvfs.c): SQLite's unix
// VFS, except that the frames of a commit reach the WAL file in one write
// instead of two per page (a 24-byte header, then the page). A create's
// commit appends some 22 frames; their 44 pwrite calls were 13% of a
// create's CPU, most of it ext4's fixed cost per call rather than copying
// the bytes. walvfs.c explains why a commit is as safe as with the unix VFS:
// its last write returns only once all of it is in the file.
//
// Only the writer uses it. Readers and the checkpointer never write the
// WAL, and all of them share the unix VFS's locks, which walVFS keeps.
const walVFS = "scimbridge-wal"

var registerWALVFS = sync.OnceValue(func() error {
	if rc := C.walvfs_register(); rc != 0 {
		return fmt.Errorf("sqlite: register the %s VFS: result code %d", walVFS, int(rc))
	}
	return nil
})

// walWrites is how many writes walVFS has passed to the unix VFS.
func walWrites() int64 { return int64(C.walvfs_writes()) }

// failWALWrites makes walVFS's next n writes fail with SQLite result code
// rc (tests).
func failWALWrites(n, rc int) { C.walvfs_fail(C.int(n), C.int(rc)) }
