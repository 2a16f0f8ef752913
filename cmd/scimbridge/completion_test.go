package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestCompletion: the bash script completes commands, subcommands, each
// command's own flags and the values of --api and --role; the zsh script
// is the same function behind bashcompinit (and parses, where zsh is
// installed).
func TestCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	dir := t.TempDir()
	r := exe(t, dir, "", "completion", "bash")
	if r.code != 0 {
		t.Fatalf("completion bash: %d %s", r.code, r.stderr)
	}
	script := filepath.Join(dir, "scimbridge.bash")
	os.WriteFile(script, []byte(r.stdout), 0o600)
	complete := func(line string) []string {
		t.Helper()
		words := strings.Fields(line)
		if strings.HasSuffix(line, " ") {
			words = append(words, "")
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		prog := "source " + script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" +
			strconv.Itoa(len(words)-1) + "\n_scimbridge\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
		out, err := exec.Command("bash", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", line, err, out)
		}
		return strings.Fields(string(out))
	}
	for _, tc := range []struct {
		line string
		want []string
		not  []string
	}{
		{"scimbridge ", []string{"serve", "token", "apikey", "user", "restore", "completion", "help"}, nil},
		{"scimbridge to", []string{"token"}, []string{"serve"}},
		{"scimbridge token ", []string{"create", "list", "revoke"}, nil},
		{"scimbridge token create --", []string{"--name", "--user", "--admin", "--expires", "--config", "--db"}, []string{"--json"}},
		{"scimbridge token list --", []string{"--json", "--admin"}, []string{"--name"}},
		{"scimbridge apikey create --api ", []string{"pterodactyl", "xyops"}, []string{"--user"}},
		{"scimbridge user create --role ", []string{"admin", "owner"}, nil},
		{"scimbridge sync --", []string{"--source", "--dry-run", "--config", "--db"}, nil},
		{"scimbridge completion ", []string{"bash", "zsh"}, nil},
	} {
		got := complete(tc.line)
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("%q: %v lacks %s", tc.line, got, w)
			}
		}
		for _, w := range tc.not {
			if slices.Contains(got, w) {
				t.Errorf("%q: %v offers %s", tc.line, got, w)
			}
		}
	}
	z := exe(t, dir, "", "completion", "zsh")
	if z.code != 0 || !strings.HasPrefix(z.stdout, "#compdef scimbridge") || !strings.Contains(z.stdout, "bashcompinit") {
		t.Fatalf("completion zsh: %d %q", z.code, z.stdout)
	}
	if zsh, err := exec.LookPath("zsh"); err == nil {
		zf := filepath.Join(dir, "_scimbridge")
		os.WriteFile(zf, []byte(z.stdout), 0o600)
		if out, err := exec.Command(zsh, "-n", zf).CombinedOutput(); err != nil {
			t.Fatalf("zsh -n: %v\n%s", err, out)
		}
	}
}
