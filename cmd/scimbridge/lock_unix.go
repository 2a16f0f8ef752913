//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockDatabase takes the lock that says "a server runs on this database":
// an exclusive flock on ".NAME.lock" beside it, held until release (or
// until the process dies: the kernel drops the lock of a killed one).
// serve holds it while it runs; restore takes it, so it never replaces a
// database under a running server, nor a server starts on one that
// restore is replacing. Other commands share the database with the server
// as any SQLite client does.
func lockDatabase(dbPath string) (release func(), err error) {
	dir, base := filepath.Split(dbPath)
	path := filepath.Join(dir, "."+base+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dbPath, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another process"
			if pid := strings.TrimSpace(string(holder)); pid != "" {
				who = "process " + pid
			}
			return nil, fmt.Errorf("%s has %s open (a running scimbridge serve, or a restore); stop it first", who, dbPath)
		}
		return nil, fmt.Errorf("lock %s: %w", dbPath, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = f.Truncate(0)
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
