package scim

import (
	"strings"
	"testing"
)

// joinTerms is n copies of term joined by op ("or", "and").
func joinTerms(n int, term, op string) string {
	terms := make([]string, n)
	for i := range terms {
		terms[i] = term
	}
	return strings.Join(terms, " "+op+" ")
}

// TestFilterTermsAreCapped: a filter may hold maxFilterTerms comparisons,
// not one more, however they are combined (before: 910 `or` terms, under
// the length limit, were accepted).
func TestFilterTermsAreCapped(t *testing.T) {
	if _, err := ParseFilter(joinTerms(maxFilterTerms, `userName eq "bjensen@example.com"`, "or")); err != nil {
		t.Fatalf("%d terms: %v", maxFilterTerms, err)
	}
	for _, f := range []string{
		joinTerms(910, `id pr`, "or"),
		joinTerms(maxFilterTerms+1, `userName eq "x"`, "or"),
		joinTerms(maxFilterTerms+1, `userName eq "x"`, "and"),
		`emails[` + joinTerms(maxFilterTerms, `value eq "x"`, "or") + `] or title pr`,
		`not (` + joinTerms(maxFilterTerms, `title pr`, "or") + `) and id pr`,
	} {
		if len(f) > maxFilterLen {
			t.Fatalf("test filter of %d bytes is over the length limit", len(f))
		}
		_, err := ParseFilter(f)
		if err == nil || !strings.Contains(err.Error(), "more than 100 comparisons") {
			t.Errorf("%.60s… (%d bytes): %v", f, len(f), err)
		}
	}
}
