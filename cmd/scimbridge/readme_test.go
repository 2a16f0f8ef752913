package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// README.md is followed to the letter by new operators; these tests keep
// its commands, versions, curl session and systemd unit true.

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readmeSection is the text from the heading to the next heading of the
// same or a higher level (outside code blocks).
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	s := readme(t)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README has no %q", heading)
	}
	level := len(strings.Fields(heading)[0])
	var out []string
	fenced := false
	for _, l := range strings.Split(s[i+len(heading)+2:], "\n") {
		if strings.HasPrefix(l, "```") {
			fenced = !fenced
		}
		if h, _, ok := strings.Cut(l, " "); ok && !fenced && h != "" && strings.Trim(h, "#") == "" && len(h) <= level {
			break
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// codeBlock is the first fenced block of the language in text.
func codeBlock(t *testing.T, text, lang string) string {
	t.Helper()
	_, after, ok := strings.Cut(text, "```"+lang+"\n")
	if !ok {
		t.Fatalf("no ```%s block", lang)
	}
	block, _, ok := strings.Cut(after, "```")
	if !ok {
		t.Fatalf("unterminated ```%s block", lang)
	}
	return block
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing (CI installs it: .ci/install.d)", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
}

// TestREADMEGoVersion: "Run it" names the Go version go.mod needs.
func TestREADMEGoVersion(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	run := readmeSection(t, "## Run it")
	if !strings.Contains(run, "Go "+string(m[1])+" ") || !strings.Contains(run, "go build -o scimbridge ./cmd/scimbridge") {
		t.Fatalf("README's Run it does not say Go %s and how to build the binary:\n%s", m[1], run)
	}
}

// TestREADMECommandsTable: the commands table gives every command with
// every flag it takes, exactly as its usage line.
func TestREADMECommandsTable(t *testing.T) {
	table := readmeSection(t, "## Commands")
	for _, cp := range commandPaths(root(), nil, nil) {
		if cp.cmd.subs != nil {
			continue
		}
		fs := newFlagSet(cp.path)
		cp.cmd.define(fs, &cli{})
		want := fs.synopsis(cp.cmd)
		if cp.cmd.name == "serve" {
			want = strings.Replace(want, "scimbridge serve", "scimbridge [serve]", 1)
		}
		if !strings.Contains(table, "`"+want+"`") {
			t.Errorf("README's commands table lacks `%s`", want)
		}
	}
}

// TestREADMECurlSession runs README's curl session, as written, with bash
// in the directory of a real server: only the address is the test's.
func TestREADMECurlSession(t *testing.T) {
	need(t, "bash", "curl")
	session := codeBlock(t, readmeSection(t, "## A SCIM session with curl"), "bash")
	dir := t.TempDir()
	if err := os.Symlink(binary(t), filepath.Join(dir, "scimbridge")); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command("./scimbridge", "--listen", "127.0.0.1:0")
	srv.Dir = dir
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var a string
	select {
	case a = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not start")
	}
	if !strings.Contains(session, "127.0.0.1:8080") {
		t.Fatal("the session does not use the default address")
	}
	script := filepath.Join(t.TempDir(), "session.bash")
	os.WriteFile(script, []byte(strings.ReplaceAll(session, "127.0.0.1:8080", a)), 0o600)
	cmd := exec.Command("bash", "-euo", "pipefail", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the session failed: %v\n%s", err, out)
	}
	for _, want := range []string{"created user 0", `"userName":"bjensen@example.com"`, `"displayName":"Tour Guides"`, `"active":false`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("session output lacks %s:\n%s", want, out)
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(string(out)), "204") {
		t.Errorf("the delete did not answer 204:\n%s", out)
	}
}

// TestREADMESystemdUnit: the unit has no comment after a value (systemd
// would take it as part of the value), creates files 0600, and passes
// systemd-analyze verify.
func TestREADMESystemdUnit(t *testing.T) {
	unit := codeBlock(t, readmeSection(t, "### Deploying"), "ini")
	for i, l := range strings.Split(unit, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, ";") && strings.Contains(l, "#") {
			t.Errorf("unit line %d has a comment after its value: %s", i+1, l)
		}
	}
	if !strings.Contains(unit, "\nUMask=0077\n") {
		t.Error("the unit sets no UMask=0077")
	}
	need(t, "systemd-analyze")
	if !strings.Contains(unit, "ExecStart=/usr/local/bin/scimbridge ") {
		t.Fatal("the unit does not run /usr/local/bin/scimbridge")
	}
	// verify checks that ExecStart's program exists: the one built here.
	path := filepath.Join(t.TempDir(), "scimbridge.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/scimbridge", binary(t))), 0o600)
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
