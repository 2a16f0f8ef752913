// Package ldapsync pulls users and groups from LDAP / Active Directory into
// the store. (Stub: the sync lands with the directory sync issue.)
package ldapsync

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/scimbridge/scimbridge/internal/login"
	"github.com/scimbridge/scimbridge/store"
)

// Config is the directory sync configuration (yaml key ldap).
type Config struct {
	Sources []SourceConfig `yaml:"sources"`
}

// SourceConfig is one directory.
type SourceConfig struct {
	Name string `yaml:"name"`
}

// Validate names every bad key.
func (c *Config) Validate() error { return nil }

// Syncer runs the configured sources.
type Syncer struct {
	cfg Config
	st  store.Store
	log *slog.Logger
}

// New prepares a syncer; it contacts no directory until asked.
func New(cfg Config, st store.Store, log *slog.Logger) (*Syncer, error) {
	return &Syncer{cfg: cfg, st: st, log: log}, nil
}

// Run runs each source on its schedule until ctx ends.
func (s *Syncer) Run(ctx context.Context) { <-ctx.Done() }

// Bind checks a password against the source a user came from.
func (s *Syncer) Bind(ctx context.Context, source, dn, password string) error {
	return login.ErrInvalidCredentials
}

// AdminHandler serves sync status and on-demand runs (mounted at /admin/sync/).
func (s *Syncer) AdminHandler() http.Handler { return http.NotFoundHandler() }

// RunCLI implements "scimbridge sync [--source NAME] [--full] [--dry-run]".
func RunCLI(ctx context.Context, args []string, cfg Config, st store.Store, log *slog.Logger, stdout io.Writer) error {
	return errors.New("directory sync is not built yet")
}

var _ login.DirectoryBinder = (*Syncer)(nil)
