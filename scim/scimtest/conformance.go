package scimtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ConformanceFile returns the path of a suite file in shared/conformance
// beside the checkout (the directory that holds the module). Missing: fatal
// with CI=true, else the test is skipped.
func ConformanceFile(t testing.TB, name string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "..", "shared", "conformance", name)
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("conformance suite missing (CI=true): %v", err)
		}
		t.Skipf("conformance suite missing: %v", err)
	}
	return path
}

// moduleRoot is the nearest directory above the working directory (a
// test's package directory) that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

// CheckKnown reports a step's failures against a suite's known-failure
// list (step → reason): an unlisted failure fails the test, and so does a
// listed step that now passes (remove the entry).
// SCIMBRIDGE_CONFORMANCE_STRICT=1 ignores the list, showing the honest
// state.
func CheckKnown(t testing.TB, known map[string]string, step string, failures []string) {
	t.Helper()
	reason, listed := known[step]
	if os.Getenv("SCIMBRIDGE_CONFORMANCE_STRICT") == "1" {
		listed = false
	}
	switch {
	case len(failures) > 0 && listed:
		t.Logf("KNOWN FAILURE %q (%s):\n  %s", step, reason, strings.Join(failures, "\n  "))
	case len(failures) > 0:
		t.Errorf("step %q failed:\n  %s", step, strings.Join(failures, "\n  "))
	case listed:
		t.Errorf("step %q is listed as a known failure (%s) but passes now: remove it from the list", step, reason)
	}
}

// CheckKnownComplete fails when the list names a step the suite does not
// have (a typo would otherwise hide a real failure).
func CheckKnownComplete(t testing.TB, known map[string]string, seen map[string]bool) {
	t.Helper()
	for step := range known {
		if !seen[step] {
			t.Errorf("known failure %q names no step of the suite", step)
		}
	}
}
