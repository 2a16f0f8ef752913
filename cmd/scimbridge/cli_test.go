package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// The CLI tests run the built binary, as an operator does: exit codes and
// which stream a text goes to are part of what they check.

var cliBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cliBin.dir != "" {
		os.RemoveAll(cliBin.dir)
	}
	os.Exit(code)
}

// binary builds scimbridge once for all the CLI tests.
func binary(t *testing.T) string {
	t.Helper()
	cliBin.once.Do(func() {
		cliBin.dir, cliBin.err = os.MkdirTemp("", "scimbridge-cli-test-")
		if cliBin.err != nil {
			return
		}
		cliBin.path = filepath.Join(cliBin.dir, "scimbridge")
		out, err := exec.Command("go", append(append([]string{"build"}, raceFlags...), "-o", cliBin.path, ".")...).CombinedOutput()
		if err != nil {
			cliBin.err = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if cliBin.err != nil {
		t.Fatal(cliBin.err)
	}
	return cliBin.path
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// exe runs the binary in dir with args and stdin.
func exe(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
}

// commandPaths lists every command of the tree ("token create"), groups
// included, the top ("") first.
func commandPaths(cmd *command, path []string, out []commandPath) []commandPath {
	out = append(out, commandPath{path: append([]string{}, path...), cmd: cmd})
	for _, s := range cmd.subs {
		out = commandPaths(s, append(path, s.name), out)
	}
	return out
}

type commandPath struct {
	path []string
	cmd  *command
}

// TestHelpAtEveryLevel: `help [command]`, -h and --help at every level
// exit 0 and print to stdout the command's usage line, its one-line
// description, and its own flags or commands (before: --help exited 1
// everywhere, token --help said `unknown action "--help"`, token list
// showed create's flags, sync --help left out --config and --db).
func TestHelpAtEveryLevel(t *testing.T) {
	dir := t.TempDir()
	for _, cp := range commandPaths(root(), nil, nil) {
		full := strings.Join(append([]string{"scimbridge"}, cp.path...), " ")
		var wants []string
		if cp.cmd.subs != nil {
			for _, s := range cp.cmd.subs {
				wants = append(wants, s.name, s.summary)
			}
		} else {
			fs := newFlagSet(cp.path)
			cp.cmd.define(fs, &cli{})
			for _, name := range fs.order {
				wants = append(wants, "\n  --"+name, fs.fs.Lookup(name).Usage)
			}
			wants = append(wants, capitalise(cp.cmd.summary))
		}
		for _, args := range [][]string{append(append([]string{}, cp.path...), "--help"), append(append([]string{}, cp.path...), "-h"),
			append([]string{"help"}, cp.path...)} {
			r := exe(t, dir, "", args...)
			if r.code != 0 || r.stderr != "" {
				t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
				continue
			}
			if line, _, _ := strings.Cut(r.stdout, "\n"); len(cp.path) > 0 && line != "usage: "+full && !strings.HasPrefix(line, "usage: "+full+" ") {
				t.Errorf("%v: no usage line for %s:\n%s", args, full, r.stdout)
			}
			for _, w := range wants {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("%v: %q missing:\n%s", args, w, r.stdout)
				}
			}
		}
	}
	// A command's help shows its own flags, not another's.
	r := exe(t, dir, "", "token", "list", "--help")
	if strings.Contains(r.stdout, "--name") || strings.Contains(r.stdout, "--expires") {
		t.Errorf("token list --help shows create's flags:\n%s", r.stdout)
	}
	r = exe(t, dir, "", "sync", "--help")
	for _, f := range []string{"--config FILE", "--db FILE", "--source NAME", "--dry-run"} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("sync --help lacks %s:\n%s", f, r.stdout)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("help wrote files: %v", entries)
	}
}

// TestUsageErrorsExit2: a command line that does not parse says why, with
// the usage line, on stderr, and exits 2 as Go's tools do.
func TestUsageErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"token"}, "token: want a command: create, list, revoke"},
		{[]string{"token", "create"}, "token create: --name is required\nusage: scimbridge token create --name NAME"},
		{[]string{"token", "create", "--name", "x", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"token", "revoke"}, "token revoke: give the id(s) to revoke"},
		{[]string{"token", "create", "--name", "x", "--expires", "soon"}, `--expires: want a positive duration such as 90d, 12h or 30m, got "soon"`},
		{[]string{"apikey", "create", "--api", "nosuch", "--user", "u"}, `unknown --api "nosuch"`},
		{[]string{"user", "set-role", "alice", "emperor"}, `unknown role "emperor"`},
		{[]string{"completion", "fish"}, "give the shell: bash or zsh"},
		{[]string{"help", "nosuch"}, `unknown command "nosuch"`},
	} {
		r := exe(t, dir, "", tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, r.code, r.stdout, r.stderr, tc.want)
		}
	}
}

// TestCommandsRefuseAMissingDatabase: every command but serve works on an
// existing database; a wrong --db is refused and creates nothing (before:
// token create, sync and backup made a new, empty database, and backup
// reported success for a copy of nothing).
func TestCommandsRefuseAMissingDatabase(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	st, err := sqlite.Open(context.Background(), live, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	storetest.CreateUser(t, st, &store.User{UserName: "ops"})
	st.Close()
	ldapCfg := filepath.Join(dir, "ldap.yaml")
	os.WriteFile(ldapCfg, []byte("ldap:\n  sources:\n    - name: corp\n      url: ldap://127.0.0.1:1\n      bind_dn: cn=x\n      bind_password: x\n      users: {base_dn: dc=x}\n"), 0o600)
	wrong := filepath.Join(dir, "typo.db")
	for _, args := range [][]string{
		{"token", "create", "--name", "x"}, {"token", "list"}, {"token", "revoke", "1"},
		{"apikey", "create", "--api", "xyops", "--user", "ops"}, {"apikey", "list"}, {"apikey", "revoke", "1"},
		{"user", "create", "alice"}, {"user", "list"}, {"user", "set-role", "ops", "admin"}, {"user", "deactivate", "ops"},
		{"user", "activate", "ops"}, {"backup", "--out", filepath.Join(dir, "b.db")}, {"sync", "--config", ldapCfg},
	} {
		r := exe(t, dir, "", append(args, "--db", wrong)...)
		if r.code != 1 || !strings.Contains(r.stderr, "no database at "+wrong) {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		if matches, _ := filepath.Glob(filepath.Join(dir, "*typo.db*")); len(matches) > 0 {
			t.Fatalf("%v created %v", args, matches)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "b.db")); err == nil {
		t.Error("backup of a missing database wrote a file")
	}
}
