package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"

	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/postgres"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// common are the flags of every command that reads the configuration.
type common struct {
	configPath, db, listen *string
}

// common defines --config and --db (and, withListen, --listen).
func (fs *flagSet) common(withListen bool) *common {
	var c common
	if withListen {
		c.listen, _ = fs.text("listen", "ADDR", "address to listen on, host:port (default 127.0.0.1:8080)")
	}
	var m *flagMeta
	c.configPath, m = fs.text("config", "FILE", "YAML configuration file")
	m.files = true
	c.db, m = fs.text("db", "FILE", "the SQLite database file: the server's (default ./scimbridge.db), or a postgres:// URL")
	m.files = true
	return &c
}

// load reads the configuration: defaults, file, environment, then flags,
// and validates it.
func (c *common) load() (*config.Config, error) {
	cfg, err := config.Load(*c.configPath)
	if err != nil {
		return nil, err
	}
	if *c.db != "" {
		cfg.DB = *c.db
		cfg.SetByFlag("db", "--db")
	}
	if c.listen != nil && *c.listen != "" {
		cfg.Listen = *c.listen
		cfg.SetByFlag("listen", "--listen")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

// openMode says whether opening may create a database.
type openMode int

const (
	// existing: the database must be there. Every command but serve
	// works on the server's database; a mistyped --db must not quietly
	// create a new, empty one.
	existing openMode = iota
	// firstStart: serve may create a database where none was ever in use
	// (the marker decides: see store/sqlite/marker.go).
	firstStart
	// createAnew: serve --create, a new database even where one was in
	// use and is gone.
	createAnew
)

// backend is a store as the commands open it.
type backend interface {
	store.Store
	// Checkpoint makes the store complete on disk before the process ends.
	Checkpoint(ctx context.Context) error
}

var (
	_ backend = (*sqlite.DB)(nil)
	_ backend = (*postgres.DB)(nil)
)

// openStore opens the database cfg.DB names. It is the one place that
// knows which backend a --db value means: a postgres:// (postgresql://)
// URL is PostgreSQL, anything else a SQLite file.
func openStore(ctx context.Context, cfg *config.Config, mode openMode, log *slog.Logger) (backend, error) {
	if postgres.IsURL(cfg.DB) {
		// serve migrates an empty database (as it creates a SQLite file);
		// every other command refuses one.
		return postgres.Open(ctx, cfg.DB, postgres.Options{MaxConns: cfg.DBPool.MaxConns,
			ConnectTimeout: cfg.DBPool.ConnectTimeout, Policy: cfg.Identity.Policy(), Existing: mode == existing})
	}
	if mode == existing {
		if _, err := os.Stat(cfg.DB); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s: give the server's --db (or --config); only serve creates a database", cfg.DB)
		} else if err != nil {
			return nil, err
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := sqlite.Open(ctx, cfg.DB, sqlite.Options{Create: mode == createAnew, Log: log, WALMaxBytes: cfg.SQLite.WALMaxBytes, Synchronous: sqlite.Synchronous(cfg.SQLite.Synchronous), Policy: cfg.Identity.Policy()})
	if errors.Is(err, sqlite.ErrVanished) {
		return nil, fmt.Errorf("%w\nrefusing to start on a new, empty database; if that is what you want, start once with --create", err)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// open loads the configuration and opens the existing database; the
// store's own alarms go to cl's stderr.
func (c *common) open(ctx context.Context, cl *cli) (*config.Config, backend, error) {
	cfg, err := c.load()
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg, existing, newLogger(cfg, cl.stderr))
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

// dbLabel is how logs and messages name the database: a URL without its
// password or parameters.
func dbLabel(dsn string) string {
	if !postgres.IsURL(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	u.RawQuery = ""
	return u.String()
}

// errPostgresFile is the answer of the commands that work on a SQLite
// file (backup, restore) when --db is a PostgreSQL URL.
var errPostgresFile = errors.New("the database is PostgreSQL: use pg_dump and pg_restore (or your provider's snapshots) for consistent copies")
