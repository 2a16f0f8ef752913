package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/scimbridge/scimbridge/internal/app"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/store/postgres"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

func checkConfigCommand() *command {
	return &command{name: "check-config", summary: "check a configuration as serve would, naming every bad key",
		details: "It refuses whatever serve would refuse at start: unknown keys (with the key probably meant),\n" +
			"values of the wrong type or out of range, a listen address serve could not bind, unreadable\n" +
			"token, certificate and CA files. It does not open the database.",
		define: func(fs *flagSet, c *cli) runFunc {
			com := fs.common(true)
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				cfg, err := com.load()
				if err != nil {
					return err
				}
				if err := buildsAnApp(ctx, cfg); err != nil {
					return fmt.Errorf("invalid configuration:\n%w", err)
				}
				fmt.Fprintln(c.stdout, "configuration is valid")
				return nil
			}
		}}
}

// buildsAnApp assembles every door, as serve does after opening the
// database, on a throwaway one: what the doors and the directory sync
// refuse (a CA file that holds no certificate) is refused here too.
func buildsAnApp(ctx context.Context, cfg *config.Config) error {
	if dir := filepath.Dir(cfg.DB); dir != "" && !postgres.IsURL(cfg.DB) {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("db: the directory of %s does not exist", cfg.DB)
		}
	}
	tmp, err := os.MkdirTemp("", "scimbridge-check-config-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	st, err := sqlite.Open(ctx, filepath.Join(tmp, "check.db"), sqlite.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer st.Close()
	_, err = app.New(cfg, st, slog.New(slog.DiscardHandler))
	return err
}
