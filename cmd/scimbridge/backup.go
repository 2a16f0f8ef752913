package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/postgres"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

func backupCommand() *command {
	return &command{name: "backup", summary: "write a consistent copy of the database while the server runs",
		details: "The copy is made with SQLite's VACUUM INTO: readers and writers carry on meanwhile.\n" +
			"Restore it with: scimbridge restore --from FILE.",
		define: func(fs *flagSet, c *cli) runFunc {
			out, m := fs.text("out", "FILE", "the file to write the copy to (must not exist)")
			m.required, m.files = true, true
			com := fs.common(false)
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				// Lstat, not Stat: a dangling symbolic link "does not exist" to
				// Stat, and the copy would be written to wherever it points.
				// BackupTo checks again as it creates the file (0600).
				if fi, err := os.Lstat(*out); err == nil {
					if fi.Mode()&os.ModeSymlink != 0 {
						return fmt.Errorf("%s is a symbolic link; name the file itself", *out)
					}
					return fmt.Errorf("%s exists", *out)
				}
				cfg, err := com.load()
				if err != nil {
					return err
				}
				if postgres.IsURL(cfg.DB) {
					return errPostgresFile
				}
				st, err := openStore(ctx, cfg, existing, newLogger(cfg, c.stderr))
				if err != nil {
					return err
				}
				defer st.Close()
				b, ok := st.(interface {
					BackupTo(ctx context.Context, path string) error
				})
				if !ok {
					return errors.New("this database has no consistent copy of its own: use the backend's tools")
				}
				if err := b.BackupTo(ctx, *out); err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "backup written to %s\n", *out)
				return nil
			}
		}}
}

func restoreCommand() *command {
	return &command{name: "restore", summary: "replace the database with a backup (the server must be stopped)",
		details: "The backup must pass SQLite's integrity check and be a scimbridge database this version can\n" +
			"open. The database it replaces is kept beside it as NAME.replaced-TIME (with its -wal), so a\n" +
			"mistaken restore can be undone; the -shm file is removed. It refuses while a server runs on the\n" +
			"database. Start the server afterwards as usual.",
		define: func(fs *flagSet, c *cli) runFunc {
			from, m := fs.text("from", "FILE", "the backup to restore (from scimbridge backup)")
			m.required, m.files = true, true
			com := fs.common(false)
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				cfg, err := com.load()
				if err != nil {
					return err
				}
				if postgres.IsURL(cfg.DB) {
					return errPostgresFile
				}
				return restore(ctx, c, *from, cfg.DB)
			}
		}}
}

// restore replaces the database at db with the backup at from. Until the
// last rename nothing at db changes, and a failed check leaves it as it
// was.
func restore(ctx context.Context, c *cli, from, db string) error {
	unlock, err := lockDatabase(db)
	if err != nil {
		return fmt.Errorf("refusing to restore: %w", err)
	}
	defer unlock()
	src, err := os.Stat(from)
	if err != nil {
		return err
	}
	if !src.Mode().IsRegular() {
		return fmt.Errorf("%s is not a file", from)
	}
	if cur, err := os.Stat(db); err == nil && os.SameFile(src, cur) {
		return fmt.Errorf("%s is the database itself", from)
	}
	// The copy is made beside the database, so that the last step is a
	// rename on one file system.
	dir, base := filepath.Split(db)
	tmp := filepath.Join(dir, "."+base+".restoring")
	if err := removeDatabaseFiles(tmp); err != nil {
		return err
	}
	defer removeDatabaseFiles(tmp)
	if err := copyChecked(ctx, from, tmp); err != nil {
		return err
	}
	// Opening the copy runs the migrations this version needs, and fails
	// for a database newer than this version: before anything at db moves.
	users, groups, err := openAndCount(ctx, tmp)
	if err != nil {
		return fmt.Errorf("%s: %w", from, err)
	}
	kept := ""
	if _, err := os.Stat(db); err == nil {
		kept = fmt.Sprintf("%s.replaced-%s", db, time.Now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(db, kept); err != nil {
			return err
		}
		if err := os.Rename(db+"-wal", kept+"-wal"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Remove(db + "-shm"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, db); err != nil {
		return err
	}
	syncDir(dir)
	// Open and close it once at its place, so that the marker beside it
	// records this file as the database in use (see store/sqlite/marker.go).
	if _, _, err := openAndCount(ctx, db); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "restored %s from %s (integrity ok; %d users, %d groups)\n", db, from, users, groups)
	if kept != "" {
		fmt.Fprintf(c.stdout, "the database it replaced is kept as %s\n", kept)
	}
	return nil
}

// copyChecked checks that from is a sound scimbridge database and copies
// it to to with SQLite's VACUUM INTO, which also takes in a -wal beside
// it. The copy is created 0600.
func copyChecked(ctx context.Context, from, to string) error {
	conn, err := sql.Open("sqlite3", "file:"+from+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return err
	}
	defer conn.Close()
	var check []string
	rows, err := conn.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("%s fails SQLite's integrity check: %w", from, err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return err
		}
		check = append(check, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s fails SQLite's integrity check: %w", from, err)
	}
	if len(check) != 1 || check[0] != "ok" {
		return fmt.Errorf("%s fails SQLite's integrity check: %s", from, strings.Join(check, "; "))
	}
	var tables int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'schema_migrations'`).Scan(&tables); err != nil {
		return err
	}
	if tables == 0 {
		return fmt.Errorf("%s is a SQLite database, but not scimbridge's", from)
	}
	f, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, to); err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return nil
}

// openAndCount opens the database at path (migrating it), counts its
// users and groups and closes it cleanly.
func openAndCount(ctx context.Context, path string) (users, groups int, err error) {
	st, err := sqlite.Open(ctx, path, sqlite.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, 0, err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	u, err := st.ListUsers(ctx, store.Query{Limit: 0})
	if err != nil {
		return 0, 0, err
	}
	g, err := st.ListGroups(ctx, store.Query{Limit: 0})
	if err != nil {
		return 0, 0, err
	}
	return u.Total, g.Total, nil
}

// removeDatabaseFiles removes a database, its -wal and -shm and its
// marker.
func removeDatabaseFiles(path string) error {
	dir, base := filepath.Split(path)
	for _, f := range []string{path, path + "-wal", path + "-shm", filepath.Join(dir, "."+base+".marker")} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// syncDir makes the renames in dir durable where the system allows it.
func syncDir(dir string) {
	if dir == "" {
		dir = "."
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
