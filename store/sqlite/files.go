package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// The database holds password hashes and personal data, so its files are
// readable by their owner alone, whatever the umask. SQLite creates a new
// database file 0644 (less the umask) and its -wal and -shm files, and a
// VACUUM INTO copy's journal, with the mode of the main file. So the store
// creates each main file itself, 0600, before SQLite opens it; the files
// SQLite adds follow. A database file that already exists keeps the mode
// its operator gave it.

// createPrivate creates path 0600 unless something is there already.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	return f.Close()
}

// createBackupFile creates the empty, 0600 file a backup is written into.
// It refuses a path where anything exists, a symbolic link above all, even
// one that points nowhere: SQLite would write the copy through it, to
// wherever it points.
func createBackupFile(path string) error {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("sqlite: backup: %s is a symbolic link; name the file itself", path)
		}
		return fmt.Errorf("sqlite: backup: %s exists", path)
	}
	// O_EXCL with O_CREATE follows no link: a link made since the check
	// fails here too.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	return f.Close()
}
