package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/scimbridge/scimbridge/ldapsync"
)

func syncCommand() *command {
	return &command{name: "sync", summary: "run one directory sync now, printing what changed (or would change)",
		details: "It runs each configured source (ldap.sources) once, or only --source. On a terminal a\n" +
			"long run shows its progress on one line. Whatever failed is one line on stderr, and the exit\n" +
			"status is 1.\n\n" +
			"With --write-back it syncs nothing: it delivers the changes the doors queued for the\n" +
			"write-back directories (ldap.sources[].write_back) once, printing each change with its LDAP\n" +
			"operations; with --dry-run too it only prints them. --retry-dead makes the dead changes\n" +
			"pending again first.",
		define: func(fs *flagSet, c *cli) runFunc {
			source, _ := fs.text("source", "NAME", "sync only this source (default: all)")
			full := fs.boolean("full", "full sync: also find entries that vanished from the directory")
			dry := fs.boolean("dry-run", "show what would change and write nothing")
			force := fs.boolean("force", "allow removing more users and groups than the source's max_deletes")
			writeBack := fs.boolean("write-back", "deliver the doors' queued changes to the write-back directories instead of syncing")
			retryDead := fs.boolean("retry-dead", "with --write-back: make the dead changes pending again first")
			com := fs.common(false)
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				switch {
				case *retryDead && !*writeBack:
					return usagef("--retry-dead needs --write-back")
				case *writeBack && (*full || *force || *source != ""):
					return usagef("--write-back takes only --dry-run and --retry-dead")
				case *retryDead && *dry:
					return usagef("--retry-dead changes the outbox; it cannot be a dry run")
				}
				cfg, err := com.load()
				if err != nil {
					return err
				}
				if len(cfg.LDAP.Sources) == 0 {
					return errors.New("no directory sources configured (ldap.sources)")
				}
				var status *statusLine
				stdout, stderr := c.stdout, c.stderr
				if c.terminal {
					status = &statusLine{w: c.stdout}
					stdout, stderr = status.before(c.stdout), status.before(c.stderr)
				}
				log := slog.New(&syncLog{Handler: newLogger(cfg, stderr).Handler(), status: status})
				st, err := openStore(ctx, cfg, existing, log)
				if err != nil {
					return err
				}
				defer st.Close()
				s, err := ldapsync.New(cfg.LDAP, st, log)
				if err != nil {
					return err
				}
				if *writeBack {
					return s.WriteBack(ctx, ldapsync.WriteBackOptions{DryRun: *dry, RetryDead: *retryDead}, stdout)
				}
				names := s.Sources()
				if *source != "" {
					if !slices.Contains(names, *source) {
						return fmt.Errorf("unknown source %q (configured: %s)", *source, strings.Join(names, ", "))
					}
					names = []string{*source}
				}
				var failed []error
				for _, n := range names {
					opts := ldapsync.RunOptions{Full: *full, DryRun: *dry, Force: *force, OnChange: changePrinter(stdout, n, *dry)}
					rep, err := s.SyncOnce(ctx, n, opts)
					status.clear()
					if rep != nil {
						for _, e := range rep.Errors {
							fmt.Fprintf(stdout, "%s: skipped %s: %s\n", n, e.DN, e.Error)
						}
						if rep.Failed > len(rep.Errors) {
							fmt.Fprintf(stdout, "%s: … and %d more skipped entries\n", n, rep.Failed-len(rep.Errors))
						}
					}
					if err != nil {
						failed = append(failed, fmt.Errorf("sync %s: %w", n, err))
						continue
					}
					fmt.Fprintln(stdout, rep.Summary())
				}
				return errors.Join(failed...)
			}
		}}
}

// dryRunVerbs say what a dry run would do.
var dryRunVerbs = map[string]string{"create": "would create", "update": "would update", "link": "would link",
	"activate": "would activate", "deactivate": "would deactivate", "delete": "would delete", "members": "would change members of"}

// changePrinter prints each change of source as one line.
func changePrinter(w io.Writer, source string, dryRun bool) func(ldapsync.Change) {
	return func(c ldapsync.Change) {
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
		fmt.Fprintln(w, line)
	}
}

// syncLog is the sync command's log. The command prints each run itself
// (its changes, skipped entries, summary, and what failed as one line), so
// the syncer's own record of the run is left out; on a terminal its
// progress records become the status line.
type syncLog struct {
	slog.Handler
	status *statusLine // nil unless stdout is a terminal
}

// The syncer's messages this log treats apart (ldapsync pins them in its
// tests).
const (
	msgProgress = "ldapsync: progress"
	msgDone     = "ldapsync: sync done"
	msgFailed   = "ldapsync: sync failed"
	msgSkipped  = "ldapsync: skipped entry"
)

func (h *syncLog) Enabled(ctx context.Context, level slog.Level) bool {
	return h.Handler.Enabled(ctx, level) || h.status != nil && level == slog.LevelInfo
}

func (h *syncLog) Handle(ctx context.Context, r slog.Record) error {
	switch {
	case r.Message == msgDone, strings.HasPrefix(r.Message, msgFailed), r.Message == msgSkipped:
		return nil
	case r.Message == msgProgress && h.status != nil:
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		h.status.show(fmt.Sprintf("%s: %s: %s entries…", attrs["source"], attrs["phase"], attrs["entries"]))
		return nil
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h *syncLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &syncLog{Handler: h.Handler.WithAttrs(as), status: h.status}
}

func (h *syncLog) WithGroup(name string) slog.Handler {
	return &syncLog{Handler: h.Handler.WithGroup(name), status: h.status}
}

// statusLine is the line a terminal shows a run's progress on: rewritten
// in place, and cleared before anything else is written.
type statusLine struct {
	mu    sync.Mutex
	w     io.Writer
	shown bool
}

// show replaces the status line with text.
func (s *statusLine) show(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprint(s.w, "\r\x1b[K"+text)
	s.shown = true
}

// clear removes the status line, if one is shown. A nil *statusLine is
// valid and shows nothing.
func (s *statusLine) clear() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearLocked()
}

func (s *statusLine) clearLocked() {
	if s.shown {
		fmt.Fprint(s.w, "\r\x1b[K")
		s.shown = false
	}
}

// before returns a writer that clears the status line before writing to w.
func (s *statusLine) before(w io.Writer) io.Writer { return clearingWriter{s, w} }

type clearingWriter struct {
	s *statusLine
	w io.Writer
}

func (c clearingWriter) Write(p []byte) (int, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.clearLocked()
	return c.w.Write(p)
}

// isTerminal reports whether f is a terminal (a character device: close
// enough for deciding whether to draw a progress line).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
