package scim_test

import (
	"encoding/json"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/scim/scimtest"
)

// TestTooManyFilterTermsIsInvalidFilter: over HTTP, a filter of 910 `or`
// terms is a 400 invalidFilter (before: 200, run against the store).
func TestTooManyFilterTermsIsInvalidFilter(t *testing.T) {
	s := scimtest.Start(t)
	terms := make([]string, 910)
	for i := range terms {
		terms[i] = `id pr`
	}
	res := s.Do(t, "GET", "/scim/v2/Users?filter="+url.QueryEscape(strings.Join(terms, " or ")), nil)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var doc struct {
		ScimType string `json:"scimType"`
		Detail   string `json:"detail"`
	}
	_ = json.Unmarshal(raw, &doc)
	if res.StatusCode != 400 || doc.ScimType != "invalidFilter" || !strings.Contains(doc.Detail, "comparisons") {
		t.Fatalf("HTTP %d %s", res.StatusCode, raw)
	}
	// Okta's and Entra's own filters stay as they were.
	for _, f := range []string{`userName eq "bjensen@example.com"`, `externalId eq "x" and userName eq "y"`,
		`emails[type eq "work"].value eq "a@example.com"`} {
		res := s.Do(t, "GET", "/scim/v2/Users?filter="+url.QueryEscape(f), nil)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s: HTTP %d", f, res.StatusCode)
		}
	}
}
