package xpdev

import (
	"testing"

	"github.com/scimbridge/scimbridge/store/teststore"
)

// TestSuiteOnPostgreSQL runs this dialect's HTTP suite again on a
// PostgreSQL store: every door must behave the same on either backend.
func TestSuiteOnPostgreSQL(t *testing.T) {
	teststore.RunOnPostgreSQL(t, "^Test(AuthAndCurrentUser|ReadAndList|Create|Delete|Prefix)$")
}
