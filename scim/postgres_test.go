package scim_test

import (
	"testing"

	"github.com/scimbridge/scimbridge/store/teststore"
)

// TestConformanceOnPostgreSQL runs the conformance suites (Okta's SPEC
// test, the recorded Okta and Entra traffic) again with the SCIM door on a
// PostgreSQL store.
func TestConformanceOnPostgreSQL(t *testing.T) {
	teststore.RunOnPostgreSQL(t, "^(TestOktaSPECSuite|TestIdPFixtures)$")
}
