package sqlite

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// The marker. A database that vanished between two starts would otherwise
// be replaced without a word by a new, empty one, and every client would
// find its users gone. So beside the database the store keeps a small
// marker file, ".NAME.marker" (a dot file, so that `rm scimbridge.db*`
// leaves it), written once the database is open and rewritten when the
// last connection closes cleanly. Open refuses (ErrVanished) when
//
//   - the marker says a database was here but the file is missing, or is a
//     new, empty database (something else created it since);
//   - the -wal or -shm file is there without the database (SQLite would
//     replay another database's log into the new file).
//
// Options.Create overrides both: a missing database starts new and empty,
// and a stray -wal is set aside, not replayed. When the last run did not
// close cleanly and the very same file has no WAL now, Open only warns:
// any SQLite client that opened the file since (sqlite3, an integrity
// check) recovered the WAL and removed it, so refusing would be wrong more
// often than right. A marker cannot notice a volume that was never mounted:
// it lives on that volume.

// ErrVanished is returned by Open when the database at the path was in use
// before and is now missing or incomplete.
var ErrVanished = errors.New("sqlite: the database was in use here and is missing")

const (
	markerOpen   = "open"
	markerClosed = "closed"
)

type marker struct {
	path string
	// existed: the marker was there before this Open.
	existed bool

	Created time.Time `json:"created"`
	// State is "open" while a store has the database open and "closed"
	// once the last one closed it cleanly (its WAL copied back and removed).
	State string `json:"state"`
	// File identifies the database file (device and inode) where the
	// system tells them; empty elsewhere.
	File string `json:"file,omitempty"`
}

func markerPath(path string) string {
	dir, base := filepath.Split(path)
	return filepath.Join(dir, "."+base+".marker")
}

// checkPresence runs before SQLite opens path (which would create an empty
// database and WAL) and decides whether it may. The marker it returns says
// whether a database existed here before.
func checkPresence(path string, create bool, log *slog.Logger) (*marker, error) {
	m, err := readMarker(markerPath(path))
	if err != nil {
		return nil, err
	}
	dbInfo, err := os.Stat(path)
	dbMissing := errors.Is(err, os.ErrNotExist)
	if err != nil && !dbMissing {
		return nil, err
	}
	walExists, shmExists := exists(path+"-wal"), exists(path+"-shm")
	switch {
	case dbMissing && (m != nil || walExists || shmExists):
		if !create {
			why := "its -wal or -shm file is still there"
			if m != nil {
				why = fmt.Sprintf("%s says it was created on %s", markerPath(path), m.Created.Format(time.RFC3339))
			}
			return nil, fmt.Errorf("%w: %s does not exist, but %s; restore it from a backup, or create a new, empty one explicitly",
				ErrVanished, path, why)
		}
		// Set a stray log aside rather than let SQLite replay it into the
		// new database.
		for _, f := range []string{path + "-wal", path + "-shm"} {
			if exists(f) {
				if err := os.Rename(f, fmt.Sprintf("%s.orphaned-%d", f, time.Now().Unix())); err != nil {
					return nil, err
				}
			}
		}
		m = nil
	case !dbMissing && !walExists && m != nil && m.State == markerOpen && m.File != "" && m.File == fileKey(dbInfo):
		log.Warn("sqlite: the database was not closed cleanly and its write-ahead log is missing; "+
			"unless another SQLite client opened it since (which recovers and removes the log), the last writes are lost",
			"path", path)
	}
	if m == nil {
		m = &marker{Created: time.Now().UTC()}
	} else {
		m.existed = true
	}
	m.path = markerPath(path)
	return m, nil
}

// opened records that a store has the database open.
func (m *marker) opened(dbInfo os.FileInfo) error {
	m.State, m.File = markerOpen, fileKey(dbInfo)
	return m.write()
}

// closed records a clean close, if it was the last connection anywhere:
// only then has SQLite removed the WAL.
func (m *marker) closed(path string) error {
	if exists(path + "-wal") {
		return nil
	}
	m.State = markerClosed
	return m.write()
}

func (m *marker) write() error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := m.path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("sqlite: write marker: %w", err)
	}
	if err := os.Rename(tmp, m.path); err != nil {
		return fmt.Errorf("sqlite: write marker: %w", err)
	}
	return nil
}

func readMarker(path string) (*marker, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read marker: %w", err)
	}
	var m marker
	if err := json.Unmarshal(data, &m); err != nil {
		// A damaged marker still says that a database was here.
		return &marker{State: markerOpen}, nil
	}
	return &m, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
