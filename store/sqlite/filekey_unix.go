//go:build unix

package sqlite

import (
	"fmt"
	"os"
	"syscall"
)

// fileKey identifies a file by device and inode: a file restored from a
// backup, or moved over the path, is another file.
func fileKey(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}
