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
// With --write-back it delivers the outbox to the write-back sources
// instead (--dry-run: prints the LDAP operations it would send;
// --retry-dead: revives the dead changes first).
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
	if f.writeBack {
		return s.WriteBack(ctx, WriteBackOptions{DryRun: f.dryRun, RetryDead: f.retryDead}, stdout)
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
	writeBack           bool
	retryDead           bool
}

func parseSyncFlags(args []string, stdout io.Writer) (*syncFlags, error) {
	f := &syncFlags{}
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&f.source, "source", "", "sync only this source (default: all)")
	fs.BoolVar(&f.full, "full", false, "full sync: also find entries that vanished from the directory")
	fs.BoolVar(&f.dryRun, "dry-run", false, "show what would change and write nothing")
	fs.BoolVar(&f.force, "force", false, "allow removing more users and groups than max_deletes")
	fs.BoolVar(&f.writeBack, "write-back", false, "deliver the doors' changes to the write-back sources instead of syncing")
	fs.BoolVar(&f.retryDead, "retry-dead", false, "with --write-back: make the dead changes pending again first")
	fs.Usage = func() {
		fmt.Fprintln(stdout, "usage: scimbridge sync [--source NAME] [--full] [--dry-run] [--force]\n"+
			"       scimbridge sync --write-back [--dry-run] [--retry-dead]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("sync: unexpected argument %q", fs.Arg(0))
	}
	switch {
	case f.retryDead && !f.writeBack:
		return nil, errors.New("sync: --retry-dead needs --write-back")
	case f.writeBack && (f.full || f.force || f.source != ""):
		return nil, errors.New("sync: --write-back takes only --dry-run and --retry-dead")
	case f.retryDead && f.dryRun:
		return nil, errors.New("sync: --retry-dead changes the outbox; it cannot be a dry run")
	}
	return f, nil
}

// WriteBackOptions are the choices of one write-back pass run by hand
// ("scimbridge sync --write-back").
type WriteBackOptions struct {
	// DryRun plans every due change and prints its LDAP operations, sending
	// none and leaving the outbox as it is.
	DryRun bool
	// RetryDead makes the dead changes pending again first; it changes the
	// outbox, so it cannot be combined with DryRun.
	RetryDead bool
}

// WriteBack delivers the outbox once (or, dry, plans it) and prints to
// stdout every change with its LDAP operations and a summary. It fails
// when a change failed or a directory could not be reached, and with
// ErrNoWriteBack when no source writes back.
func (s *Syncer) WriteBack(ctx context.Context, opts WriteBackOptions, stdout io.Writer) error {
	if opts.RetryDead && opts.DryRun {
		return errors.New("sync --write-back: --retry-dead changes the outbox; it cannot be a dry run")
	}
	if s.out == nil {
		return fmt.Errorf("sync --write-back: %w", ErrNoWriteBack)
	}
	if opts.RetryDead {
		n, err := s.RetryDead(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "write-back: %d dead changes pending again\n", n)
	}
	rep, err := s.DeliverOnce(ctx, DeliverOptions{DryRun: opts.DryRun, OnDelivery: deliveryPrinter(stdout, opts.DryRun)})
	if err != nil {
		return err
	}
	status, err := s.WriteBackStatus(ctx)
	if err != nil {
		return err
	}
	if opts.DryRun {
		fmt.Fprintf(stdout, "dry run (nothing sent): write-back: %d would be written, %d skipped, %d waiting; outbox: %d pending, %d dead\n",
			rep.Planned, rep.Skipped, rep.Waiting, status.Pending, status.Dead)
		return nil
	}
	fmt.Fprintf(stdout, "write-back: %d delivered, %d skipped, %d failed (%d dead), %d waiting; outbox: %d pending, %d dead\n",
		rep.Delivered, rep.Skipped, rep.Failed, rep.Dead, rep.Waiting, status.Pending, status.Dead)
	var errs []error
	if rep.Failed > 0 {
		errs = append(errs, fmt.Errorf("sync --write-back: %d changes failed", rep.Failed))
	}
	for _, src := range status.Sources {
		if src.LastError != "" {
			errs = append(errs, fmt.Errorf("sync --write-back: %s: %s (its changes stay queued)", src.Name, src.LastError))
		}
	}
	return errors.Join(errs...)
}

// deliveryPrinter prints a delivery as a line, and its operations below it.
func deliveryPrinter(stdout io.Writer, dryRun bool) func(Delivery) {
	return func(d Delivery) {
		verb := d.Outcome
		if dryRun && d.Outcome == outcomePlanned {
			verb = "would write"
		}
		src := d.Source
		if src == "" {
			src = "write-back"
		}
		line := fmt.Sprintf("%s: %s outbox %d %s %s (door %s)", src, verb, d.Seq, d.Action, d.Object, d.Door)
		switch {
		case d.Error != "":
			line += ": " + d.Error
		case d.Note != "":
			line += ": " + d.Note
		}
		fmt.Fprintln(stdout, line)
		if d.Error == "" {
			for _, op := range d.Ops {
				fmt.Fprintln(stdout, "    "+op)
			}
		}
	}
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
