package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// The command line follows Go's own tools: `scimbridge help [command]`
// and -h or --help at every level print a command's one-line description
// and its flags to stdout and exit 0; a command line that does not parse
// prints the error and the usage line and exits 2. Flags may come before
// or after positional arguments.

// runFunc runs a command with its positional arguments, once its flags
// are parsed.
type runFunc func(ctx context.Context, args []string) error

// command is one command, or a group of them (token, apikey, user).
type command struct {
	name string
	// summary is the one line that lists of commands show.
	summary string
	// details, when set, is a paragraph the command's help adds.
	details string
	// args is the synopsis of the positional arguments ("ID...").
	args string
	// define adds the command's flags and returns what runs it.
	define func(fs *flagSet, c *cli) runFunc
	// subs are a group's commands.
	subs []*command
}

func (cmd *command) find(name string) *command {
	for _, s := range cmd.subs {
		if s.name == name {
			return s
		}
	}
	return nil
}

func isHelpFlag(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

// root is the whole command tree.
func root() *command {
	r := &command{name: "scimbridge", summary: "the SCIM 2.0 provisioning bridge and its tools", subs: commands()}
	r.subs = append(r.subs, &command{name: "help", summary: "show a command's description and flags", args: "[COMMAND...]",
		define: func(_ *flagSet, c *cli) runFunc {
			return func(_ context.Context, args []string) error { return c.helpTopic(r, args) }
		}})
	return r
}

func (c *cli) run(ctx context.Context, args []string) error {
	r := root()
	// Without a command, or with flags first, the command is serve.
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelpFlag(args[0]) {
		args = append([]string{"serve"}, args...)
	}
	return c.dispatch(ctx, r, nil, args)
}

func (c *cli) dispatch(ctx context.Context, cmd *command, path, args []string) error {
	if cmd.subs != nil {
		if len(args) == 0 {
			var names []string
			for _, s := range cmd.subs {
				names = append(names, s.name)
			}
			return &usageError{path: path, cmd: cmd, err: fmt.Errorf("want a command: %s", strings.Join(names, ", "))}
		}
		if isHelpFlag(args[0]) {
			c.printHelp(cmd, path)
			return nil
		}
		sub := cmd.find(args[0])
		if sub == nil {
			return &usageError{path: path, cmd: cmd, err: fmt.Errorf("unknown command %q", args[0])}
		}
		return c.dispatch(ctx, sub, append(path, sub.name), args[1:])
	}
	fs := newFlagSet(path)
	runCmd := cmd.define(fs, c)
	pos, err := fs.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		c.printHelp(cmd, path)
		return nil
	}
	if err != nil {
		return &usageError{path: path, cmd: cmd, err: err}
	}
	if err := runCmd(ctx, pos); err != nil {
		var u *usageError
		if errors.As(err, &u) && u.cmd == nil {
			u.path, u.cmd = path, cmd
		}
		return err
	}
	return nil
}

// helpTopic prints the help of the command that args name.
func (c *cli) helpTopic(r *command, args []string) error {
	cmd, path := r, []string{}
	for _, a := range args {
		sub := cmd.find(a)
		if sub == nil {
			return &usageError{path: []string{"help"}, cmd: r.find("help"),
				err: fmt.Errorf("unknown command %q; run 'scimbridge help' for the list", strings.Join(append(path, a), " "))}
		}
		cmd, path = sub, append(path, a)
	}
	c.printHelp(cmd, path)
	return nil
}

func (c *cli) printHelp(cmd *command, path []string) {
	w := c.stdout
	full := strings.Join(append([]string{"scimbridge"}, path...), " ")
	if cmd.subs != nil {
		if len(path) == 0 {
			fmt.Fprintf(w, "scimbridge is a SCIM 2.0 provisioning bridge: one user and group store with many doors into it.\n\n")
			fmt.Fprintf(w, "usage: scimbridge <command> [flags] [arguments]\n\n")
		} else {
			fmt.Fprintf(w, "usage: %s <command> [flags] [arguments]\n\n%s.\n\n", full, capitalise(cmd.summary))
		}
		fmt.Fprintln(w, "Commands:")
		tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
		for _, s := range cmd.subs {
			fmt.Fprintf(tw, "  %s\t%s\n", s.name, s.summary)
		}
		tw.Flush()
		if len(path) == 0 {
			fmt.Fprintf(w, "\nWithout a command, scimbridge serves. The commands that use the database take --config FILE\n"+
				"and --db FILE: give them the server's, or they work on another database.\n")
		}
		fmt.Fprintf(w, "\nRun '%s <command> --help' or 'scimbridge help %s<command>' for a command's flags.\n",
			full, strings.Join(append(path, ""), " "))
		return
	}
	fs := newFlagSet(path)
	cmd.define(fs, c)
	fmt.Fprintf(w, "usage: %s\n\n%s.\n", fs.synopsis(cmd), capitalise(cmd.summary))
	if cmd.details != "" {
		fmt.Fprintf(w, "\n%s\n", cmd.details)
	}
	if len(fs.order) > 0 {
		fmt.Fprintln(w, "\nFlags:")
		fs.printFlags(w)
	}
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// usageError is a command line that does not parse: it is reported with
// the command's usage line, and the process exits 2.
type usageError struct {
	path []string
	cmd  *command
	err  error
}

// usagef is a usage error the running command reports (a missing
// argument); dispatch adds the command it belongs to.
func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

func (e *usageError) Error() string {
	full := strings.Join(append([]string{"scimbridge"}, e.path...), " ")
	var b strings.Builder
	if len(e.path) > 0 {
		b.WriteString(strings.Join(e.path, " ") + ": ")
	}
	b.WriteString(e.err.Error())
	if e.cmd != nil && e.cmd.subs == nil {
		fs := newFlagSet(e.path)
		e.cmd.define(fs, &cli{stdout: io.Discard, stderr: io.Discard})
		b.WriteString("\nusage: " + fs.synopsis(e.cmd))
	} else if e.cmd != nil {
		b.WriteString("\nusage: " + full + " <command> [flags] [arguments]")
	}
	fmt.Fprintf(&b, "\nRun '%s --help' for details.", full)
	return b.String()
}

func (e *usageError) Unwrap() error { return e.err }

// flagSet is a command's flags, with what help and completion show.
type flagSet struct {
	fs    *flag.FlagSet
	path  []string
	order []string
	meta  map[string]*flagMeta
}

// flagMeta is what a flag's help and completion need besides its usage.
type flagMeta struct {
	// placeholder names the value ("NAME"); empty for a boolean flag.
	placeholder string
	required    bool
	// files: the value is a file name (completion offers files).
	files bool
	// values, when set, are the values completion offers.
	values []string
}

func newFlagSet(path []string) *flagSet {
	fs := flag.NewFlagSet(strings.Join(path, " "), flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by main
	fs.Usage = func() {}
	return &flagSet{fs: fs, path: path, meta: map[string]*flagMeta{}}
}

func (fs *flagSet) add(name, placeholder string) *flagMeta {
	m := &flagMeta{placeholder: placeholder}
	fs.order = append(fs.order, name)
	fs.meta[name] = m
	return m
}

// text defines a string flag whose value help shows as placeholder.
func (fs *flagSet) text(name, placeholder, usage string) (*string, *flagMeta) {
	return fs.fs.String(name, "", usage), fs.add(name, placeholder)
}

// boolean defines a flag that is on when given.
func (fs *flagSet) boolean(name, usage string) *bool {
	fs.add(name, "")
	return fs.fs.Bool(name, false, usage)
}

// duration defines a duration flag.
func (fs *flagSet) duration(name, placeholder string, def time.Duration, usage string) *time.Duration {
	fs.add(name, placeholder)
	return fs.fs.Duration(name, def, usage)
}

// parse parses args, flags anywhere among the positional arguments, and
// checks that every required flag was given.
func (fs *flagSet) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.fs.Args()
		if len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	given := map[string]bool{}
	fs.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, name := range fs.order {
		if fs.meta[name].required && !given[name] {
			return nil, fmt.Errorf("--%s is required", name)
		}
	}
	return pos, nil
}

// synopsis is the command's usage line: the positional arguments, the
// required flags, then the optional ones in brackets.
func (fs *flagSet) synopsis(cmd *command) string {
	parts := []string{strings.Join(append([]string{"scimbridge"}, fs.path...), " ")}
	if cmd.args != "" {
		parts = append(parts, cmd.args)
	}
	for _, name := range fs.order {
		m := fs.meta[name]
		s := "--" + name
		if m.placeholder != "" {
			s += " " + m.placeholder
		}
		if !m.required {
			s = "[" + s + "]"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func (fs *flagSet) printFlags(w io.Writer) {
	for _, name := range fs.order {
		f, m := fs.fs.Lookup(name), fs.meta[name]
		head := "  --" + name
		if m.placeholder != "" {
			head += " " + m.placeholder
		}
		usage := f.Usage
		if m.required {
			usage += " (required)"
		} else if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0s" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "%s\n        %s\n", head, usage)
	}
}
