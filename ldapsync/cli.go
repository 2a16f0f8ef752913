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
	f, err := parseSyncFlags(args, stdout)
	if err != nil {
		return err
	}
	if len(cfg.Sources) == 0 {
		return errors.New("sync: no directory sources configured (ldap.sources)")
	}
	s, err := New(cfg, st, log)
	if err != nil {
		return err
	}
	names := s.Sources()
	if f.source != "" {
		if s.byName[f.source] == nil {
			return fmt.Errorf("sync: unknown source %q (configured: %v)", f.source, names)
		}
		names = []string{f.source}
	}
	var failed []error
	for _, n := range names {
		opts := RunOptions{Full: f.full, DryRun: f.dryRun, Force: f.force, OnChange: changePrinter(stdout, n, f.dryRun)}
		rep, err := s.SyncOnce(ctx, n, opts)
		if rep != nil {
			printReport(stdout, n, rep)
		}
		if err != nil {
			failed = append(failed, fmt.Errorf("sync %s: %w", n, err))
		}
	}
	return errors.Join(failed...)
}

// syncFlags are the sync command's flags.
type syncFlags struct {
	source              string
	full, dryRun, force bool
}

func parseSyncFlags(args []string, stdout io.Writer) (*syncFlags, error) {
	f := &syncFlags{}
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&f.source, "source", "", "sync only this source (default: all)")
	fs.BoolVar(&f.full, "full", false, "full sync: also find entries that vanished from the directory")
	fs.BoolVar(&f.dryRun, "dry-run", false, "show what would change and write nothing")
	fs.BoolVar(&f.force, "force", false, "allow removing more users and groups than max_deletes")
	fs.Usage = func() {
		fmt.Fprintln(stdout, "usage: scimbridge sync [--source NAME] [--full] [--dry-run] [--force]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("sync: unexpected argument %q", fs.Arg(0))
	}
	return f, nil
}

// dryRunVerbs say what a dry run would do.
var dryRunVerbs = map[string]string{"create": "would create", "update": "would update", "link": "would link",
	"activate": "would activate", "deactivate": "would deactivate", "delete": "would delete", "members": "would change members of"}

// changePrinter prints each change of source as one line.
func changePrinter(stdout io.Writer, source string, dryRun bool) func(Change) {
	return func(c Change) {
		action := c.Action
		if v, ok := dryRunVerbs[action]; ok && dryRun {
			action = v
		}
		line := fmt.Sprintf("%s: %s %s %s", source, action, c.Type, c.Name)
		if c.DN != "" {
			line += " (" + c.DN + ")"
		}
		if c.Detail != "" {
			line += ": " + c.Detail
		}
		fmt.Fprintln(stdout, line)
	}
}

// printReport prints the entries a run skipped and its summary.
func printReport(stdout io.Writer, source string, rep *Report) {
	for _, e := range rep.Errors {
		fmt.Fprintf(stdout, "%s: skipped %s: %s\n", source, e.DN, e.Error)
	}
	if rep.Failed > len(rep.Errors) {
		fmt.Fprintf(stdout, "%s: … and %d more skipped entries\n", source, rep.Failed-len(rep.Errors))
	}
	fmt.Fprintln(stdout, rep.Summary())
}
