package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

func completionCommand() *command {
	return &command{name: "completion", summary: "print a shell completion script for bash or zsh", args: "SHELL",
		details: "bash: source <(scimbridge completion bash), or save it as\n" +
			"      /etc/bash_completion.d/scimbridge.\n" +
			"zsh:  scimbridge completion zsh > \"${fpath[1]}/_scimbridge\", then start a new shell.",
		define: func(_ *flagSet, c *cli) runFunc {
			return func(_ context.Context, args []string) error {
				if len(args) != 1 || args[0] != "bash" && args[0] != "zsh" {
					return usagef("give the shell: bash or zsh")
				}
				writeCompletion(c.stdout, args[0])
				return nil
			}
		}}
}

// completionTree is what completion offers after each command path: the
// subcommands or flags, and for each flag its values.
type completionTree struct {
	// words maps a command path ("token create", "" for the top) to what
	// may follow it.
	words map[string][]string
	// files are the flags whose value is a file name.
	files map[string]bool
	// values maps a flag to the values it takes.
	values map[string][]string
}

func newCompletionTree() *completionTree {
	t := &completionTree{words: map[string][]string{}, files: map[string]bool{}, values: map[string][]string{}}
	t.add(root(), nil)
	return t
}

func (t *completionTree) add(cmd *command, path []string) {
	key := strings.Join(path, " ")
	if cmd.subs != nil {
		for _, s := range cmd.subs {
			t.words[key] = append(t.words[key], s.name)
			t.add(s, append(path, s.name))
		}
		return
	}
	fs := newFlagSet(path)
	cmd.define(fs, &cli{stdout: io.Discard, stderr: io.Discard})
	for _, name := range fs.order {
		t.words[key] = append(t.words[key], "--"+name)
		m := fs.meta[name]
		if m.files {
			t.files["--"+name] = true
		}
		if len(m.values) > 0 {
			t.values["--"+name] = m.values
		}
	}
	if cmd.name == "completion" {
		t.words[key] = []string{"bash", "zsh"}
	}
	if cmd.name == "help" {
		t.words[key] = t.words[""]
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// writeCompletion writes the script for shell. zsh runs the bash function
// through bashcompinit, so that one function completes both.
func writeCompletion(w io.Writer, shell string) {
	t := newCompletionTree()
	if shell == "zsh" {
		fmt.Fprint(w, "#compdef scimbridge\n# zsh completion for scimbridge (through bashcompinit).\nautoload -U +X bashcompinit && bashcompinit\n")
	} else {
		fmt.Fprint(w, "# bash completion for scimbridge: source <(scimbridge completion bash)\n")
	}
	var paths []string
	for _, p := range sortedKeys(t.words) {
		if p != "" {
			paths = append(paths, strings.ReplaceAll(p, " ", "/"))
		}
	}
	files := sortedKeys(t.files)
	fmt.Fprintf(w, `_scimbridge() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local path="" w i
	local commands=" %s "
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $commands == *" ${path:+$path/}$w "* ]]; then
			path=${path:+$path/}$w
		fi
	done
	case $prev in
	%s)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
`, strings.Join(paths, " "), strings.Join(files, "|"))
	for _, f := range sortedKeys(t.values) {
		fmt.Fprintf(w, "\t%s)\n\t\tCOMPREPLY=($(compgen -W %q -- \"$cur\"))\n\t\treturn\n\t\t;;\n", f, strings.Join(t.values[f], " "))
	}
	fmt.Fprint(w, "\tesac\n\tlocal words\n\tcase $path in\n")
	for _, p := range sortedKeys(t.words) {
		fmt.Fprintf(w, "\t%q) words=%q ;;\n", strings.ReplaceAll(p, " ", "/"), strings.Join(t.words[p], " "))
	}
	fmt.Fprint(w, "\tesac\n\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}\ncomplete -o default -F _scimbridge scimbridge\n")
}
