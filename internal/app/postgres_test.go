package app_test

import (
	"testing"

	"github.com/scimbridge/scimbridge/store/teststore"
)

// TestOnPostgreSQL runs whole-application tests again on a PostgreSQL
// store: Microsoft's Postman collection, and logins with lockout across
// doors (a lockout is a store rule, counted in the shared activity log),
// and directory write-back (the outbox is the store's, written by each
// backend).
func TestOnPostgreSQL(t *testing.T) {
	teststore.RunOnPostgreSQL(t, "^(TestMSPostmanCollection|TestSCIMPasswordChangeLiftsLegacyLockout|TestLoginWithTheDirectoryDown|TestWriteBackThroughSCIM)$")
}
