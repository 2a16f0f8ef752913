// Command scimbridge runs the SCIM 2.0 provisioning bridge and its tools.
//
//	scimbridge [serve] [--listen ADDR] [--db FILE] [--config FILE]
//	scimbridge sync [--source NAME] [--full] [--dry-run] [--force]
//	scimbridge token create|list|revoke …
//	scimbridge apikey create|list|revoke …
//	scimbridge user create|set-role …
//	scimbridge backup --out FILE
//	scimbridge check-config --config FILE
//	scimbridge version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	// The live heap is small (the data lives in SQLite), so a GC target of
	// 200% costs little memory and saves CPU on every request. GOGC wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "scimbridge:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "sync":
		return syncCmd(ctx, args, stdout, stderr)
	case "token":
		return tokenCmd(ctx, args, stdout, stderr)
	case "apikey":
		return apikeyCmd(ctx, args, stdout, stderr)
	case "user":
		return userCmd(ctx, args, stdout, stderr)
	case "backup":
		return backupCmd(ctx, args, stdout, stderr)
	case "check-config":
		return checkConfig(args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "scimbridge", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

const usage = `usage:
  scimbridge [serve] [--listen ADDR] [--db FILE] [--config FILE]
  scimbridge sync [--config FILE] [--source NAME] [--full] [--dry-run] [--force]
  scimbridge token create --name NAME [--user USERNAME] | list | revoke ID
  scimbridge apikey create --api DIALECT --user USERNAME [--read-only] | list [--api DIALECT] | revoke ID
  scimbridge user create --name NAME [--password-file FILE] [--role owner|admin|moderator|user] [--email ADDR]
  scimbridge user set-role --name NAME --role owner|admin|moderator|user
  scimbridge backup --out FILE
  scimbridge check-config --config FILE
  scimbridge version
`

// common are the flags every command that opens the store takes.
type common struct {
	configPath, db, listen string
}

func (c *common) register(fs *flag.FlagSet, withListen bool) {
	fs.StringVar(&c.configPath, "config", "", "YAML configuration file")
	fs.StringVar(&c.db, "db", "", "SQLite database file (default ./scimbridge.db)")
	if withListen {
		fs.StringVar(&c.listen, "listen", "", "address to listen on (default 127.0.0.1:8080)")
	}
}

// load reads the configuration: defaults, file, environment, then flags.
func (c *common) load() (*config.Config, error) {
	cfg, err := config.Load(c.configPath)
	if err != nil {
		return nil, err
	}
	if c.db != "" {
		cfg.DB = c.db
	}
	if c.listen != "" {
		cfg.Listen = c.listen
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

func (c *common) open(ctx context.Context) (*config.Config, *sqlite.DB, error) {
	cfg, err := c.load()
	if err != nil {
		return nil, nil, err
	}
	st, err := sqlite.Open(ctx, cfg.DB, sqlite.Options{Policy: cfg.Identity.Policy()})
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func checkConfig(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := c.load(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "configuration is valid")
	return nil
}
