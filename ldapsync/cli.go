package ldapsync

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/scimbridge/scimbridge/store"
)

// RunCLI implements "scimbridge sync [--source NAME] [--full] [--dry-run]
// [--force]": it runs each selected source once, prints every change (or,
// with --dry-run, every change it would make) and a summary per source.
func RunCLI(ctx context.Context, args []string, cfg Config, st store.Store, log *slog.Logger, stdout io.Writer) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(stdout)
	name := fs.String("source", "", "sync only this source (default: all)")
	full := fs.Bool("full", false, "full sync: also find entries that vanished from the directory")
	dry := fs.Bool("dry-run", false, "show what would change and write nothing")
	force := fs.Bool("force", false, "allow removing more users and groups than max_deletes")
	fs.Usage = func() {
		fmt.Fprintln(stdout, "usage: scimbridge sync [--source NAME] [--full] [--dry-run] [--force]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sync: unexpected argument %q", fs.Arg(0))
	}
	if len(cfg.Sources) == 0 {
		return errors.New("sync: no directory sources configured (ldap.sources)")
	}
	s, err := New(cfg, st, log)
	if err != nil {
		return err
	}
	names := s.Sources()
	if *name != "" {
		if s.byName[*name] == nil {
			return fmt.Errorf("sync: unknown source %q (configured: %v)", *name, names)
		}
		names = []string{*name}
	}
	verb := map[string]string{}
	if *dry {
		verb = map[string]string{"create": "would create", "update": "would update", "link": "would link",
			"activate": "would activate", "deactivate": "would deactivate", "delete": "would delete", "members": "would change members of"}
	}
	var failed []error
	for _, n := range names {
		opts := RunOptions{Full: *full, DryRun: *dry, Force: *force, OnChange: func(c Change) {
			action := c.Action
			if v, ok := verb[action]; ok {
				action = v
			}
			line := fmt.Sprintf("%s: %s %s %s", n, action, c.Type, c.Name)
			if c.DN != "" {
				line += " (" + c.DN + ")"
			}
			if c.Detail != "" {
				line += ": " + c.Detail
			}
			fmt.Fprintln(stdout, line)
		}}
		rep, err := s.SyncOnce(ctx, n, opts)
		if rep != nil {
			for _, e := range rep.Errors {
				fmt.Fprintf(stdout, "%s: skipped %s: %s\n", n, e.DN, e.Error)
			}
			if rep.Failed > len(rep.Errors) {
				fmt.Fprintf(stdout, "%s: … and %d more skipped entries\n", n, rep.Failed-len(rep.Errors))
			}
			fmt.Fprintln(stdout, rep.Summary())
		}
		if err != nil {
			failed = append(failed, fmt.Errorf("sync %s: %w", n, err))
		}
	}
	return errors.Join(failed...)
}
