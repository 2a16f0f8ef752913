// Package archtest asserts the import rules of DESIGN.md and README's
// architecture section, so that the floors stay floors:
// store → auth → doors → composition root (internal/app, internal/config) → cmd.
package archtest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/scimbridge/scimbridge"

type pkg struct {
	ImportPath                string
	Imports                   []string
	TestImports, XTestImports []string
}

func packages(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		var own []string
		// A package's tests sit on its floor too: a door's tests use the
		// door's own harness, not the whole application.
		for _, imp := range append(append(p.Imports, p.TestImports...), p.XTestImports...) {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				own = append(own, strings.TrimPrefix(strings.TrimPrefix(imp, module), "/"))
			}
		}
		deps[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")] = own
	}
	return deps
}

// floor says which floor a package is on; test-only packages (…test) sit
// with what they test.
func floor(p string) (int, string) {
	switch {
	case p == "store" || strings.HasPrefix(p, "store/") || p == "httpjson" || p == "ratelimit":
		return 1, "store and the leaf mechanics"
	case p == "auth":
		return 2, "auth"
	case p == "scim" || strings.HasPrefix(p, "scim/") || p == "ldapsync" || strings.HasPrefix(p, "ldapsync/") ||
		p == "legacyapi" || strings.HasPrefix(p, "legacyapi/") || p == "admin":
		return 3, "a door"
	case strings.HasPrefix(p, "internal/"):
		return 4, "the composition root"
	case strings.HasPrefix(p, "cmd/"):
		return 5, "cmd"
	}
	return 0, "unknown"
}

// door names the door a package belongs to ("legacyapi" for the shared
// legacy root and its dialects' common harness).
func door(p string) string {
	parts := strings.Split(p, "/")
	if parts[0] == "legacyapi" && len(parts) > 1 && parts[1] != "legacytest" {
		return "legacyapi/" + parts[1]
	}
	return parts[0]
}

func TestImportsRunDownTheFloors(t *testing.T) {
	for p, imps := range packages(t) {
		fp, name := floor(p)
		if fp == 0 {
			t.Errorf("%s: no floor assigned; place it in archtest's floor()", p)
			continue
		}
		for _, imp := range imps {
			fi, iname := floor(imp)
			if fi > fp {
				t.Errorf("%s (%s) imports %s (%s): imports must run down the floors", p, name, imp, iname)
			}
			if fp == 3 && fi == 3 && door(p) != door(imp) && imp != "legacyapi" && !strings.HasSuffix(imp, "test") {
				t.Errorf("%s imports %s: a door never imports another door", p, imp)
			}
		}
	}
}

func TestStoreImportsNoDoorAndNoAuth(t *testing.T) {
	for p, imps := range packages(t) {
		if p != "store" && !strings.HasPrefix(p, "store/") {
			continue
		}
		for _, imp := range imps {
			if f, _ := floor(imp); f > 1 {
				t.Errorf("%s imports %s", p, imp)
			}
		}
	}
}

// TestReferenceServerStaysInTheBenchmark keeps scimbench's in-memory
// reference server (and the elimity-com/scim server it runs on; scim/ uses
// only that library's schema definitions) out of the scimbridge binary.
func TestReferenceServerStaysInTheBenchmark(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", module+"/cmd/scimbridge").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for dep := range strings.FieldsSeq(string(out)) {
		if dep == module+"/cmd/scimbench/reference" || dep == "github.com/elimity-com/scim" {
			t.Errorf("the scimbridge binary links %s, which belongs to scimbench only", dep)
		}
	}
}
