package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The YAML decoder names a problem by Go type ("field levle not found in
// type config.Log", "cannot unmarshal !!str `lots` into int"). An operator
// reads keys, so before decoding, the file's node tree is walked beside
// the Config type: every key gets its full path (log.level,
// ldap.sources[0].url) and line, an unknown key a did-you-mean, a value of
// the wrong type the type wanted.

// keyChecker walks a YAML document beside a Go type.
type keyChecker struct {
	problems []problem
	// lines records where each key path was given, for Validate.
	lines map[string]int
	// known are the key paths reachable through mappings only, for
	// suggesting a key that sits elsewhere (max_page_size → scim.max_page_size).
	known []string
}

// problem is one thing wrong with a file, at a line.
type problem struct {
	line int
	msg  string
}

func (p problem) Error() string { return p.msg }

func newKeyChecker(t reflect.Type) *keyChecker {
	k := &keyChecker{lines: map[string]int{}}
	k.known = knownPaths(t, "", nil)
	return k
}

func (k *keyChecker) fail(line int, format string, args ...any) {
	k.problems = append(k.problems, problem{line, fmt.Sprintf(format, args...)})
}

var durationType = reflect.TypeFor[time.Duration]()

// check compares node, found at path, with type t.
func (k *keyChecker) check(n *yaml.Node, t reflect.Type, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if path != "" {
		if _, seen := k.lines[path]; !seen {
			k.lines[path] = n.Line
		}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // null leaves the default
	}
	switch {
	case t.Kind() == reflect.Struct && t != reflect.TypeFor[time.Time]():
		if n.Kind != yaml.MappingNode {
			k.wrongType(n, t, path)
			return
		}
		k.mapping(n, t, path)
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			k.wrongType(n, t, path)
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k.check(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value))
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		if n.Kind != yaml.SequenceNode {
			k.wrongType(n, t, path)
			return
		}
		for i, item := range n.Content {
			k.check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case t.Kind() == reflect.Interface:
	default:
		if n.Kind != yaml.ScalarNode || n.Decode(reflect.New(t).Interface()) != nil {
			k.wrongType(n, t, path)
		}
	}
}

// mapping checks the keys of a mapping node against struct type t.
func (k *keyChecker) mapping(n *yaml.Node, t reflect.Type, path string) {
	fields := yamlFields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if key.Value == "<<" { // a merge key: its mapping's keys belong here
			k.check(val, t, path)
			continue
		}
		at := join(path, key.Value)
		if first, dup := seen[key.Value]; dup {
			k.fail(key.Line, "%s: given twice (lines %d and %d)", at, first, key.Line)
			continue
		}
		seen[key.Value] = key.Line
		ft, ok := fields[key.Value]
		if !ok {
			msg := fmt.Sprintf("%s: unknown key (line %d)", at, key.Line)
			if s := k.suggest(path, key.Value, fields); s != "" {
				msg += "; did you mean " + s + "?"
			}
			k.fail(key.Line, "%s", msg)
			continue
		}
		k.check(val, ft, at)
	}
}

// wrongType reports a value that cannot be decoded into t.
func (k *keyChecker) wrongType(n *yaml.Node, t reflect.Type, path string) {
	if path == "" {
		k.fail(n.Line, "the file must be a mapping of keys (line %d), got %s", n.Line, describe(n))
		return
	}
	k.fail(n.Line, "%s (line %d): want %s, got %s", path, n.Line, want(t), describe(n))
}

// want names what a value of type t looks like in YAML.
func want(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 30s, 5m or 1h"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number of zero or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "a mapping of keys"
	case reflect.Slice:
		return "a list"
	}
	return t.String()
}

// describe says what a node holds, for "got …".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if n.Tag == "!!str" {
		return strconv.Quote(n.Value)
	}
	return n.Value
}

// yamlFields maps each YAML key of struct type t to its field type,
// following inline structs as the decoder does.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// knownPaths lists the key paths below t reachable through mappings.
func knownPaths(t reflect.Type, path string, out []string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() {
		return out
	}
	for name, ft := range yamlFields(t) {
		p := join(path, name)
		out = append(out, p)
		out = knownPaths(ft, p, out)
	}
	sort.Strings(out)
	return out
}

// suggest returns the key the operator probably meant: a sibling spelt
// almost alike, else a key of the same name elsewhere in the file's shape.
func (k *keyChecker) suggest(path, key string, siblings map[string]reflect.Type) string {
	best, bestD := "", 0
	for s := range siblings {
		d := editDistance(strings.ToLower(key), s)
		if d <= maxTypos(key) && (best == "" || d < bestD || d == bestD && s < best) {
			best, bestD = s, d
		}
	}
	if best != "" {
		return join(path, best)
	}
	for _, p := range k.known {
		if p == join(path, key) {
			continue
		}
		if i := strings.LastIndexByte(p, '.'); p[i+1:] == key {
			return p
		}
	}
	return ""
}

// maxTypos is how many edits still make a key a likely misspelling.
func maxTypos(key string) int {
	switch {
	case len(key) <= 3:
		return 1
	case len(key) <= 8:
		return 2
	}
	return 3
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours each count one
// (levle → level is one).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
