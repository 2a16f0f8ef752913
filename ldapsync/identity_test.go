package ldapsync

import (
	"context"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store"
)

// TestDuplicateEmailIsSkippedAndReported: a directory change that would
// give a user an address another user holds is skipped and reported, as
// README says, and leaves both users as they were (before, the store took
// it and two users shared the address). The check is the store's; the
// sync only reports it.
func TestDuplicateEmailIsSkippedAndReported(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "Alice", "A", "alice@example.com") +
		person("bob", "Bob", "B", "bob@example.com")})
	st := newStore(t)
	s := newSyncer(t, st, sourceFor(srv))
	if rep := syncOnce(t, s, RunOptions{}); rep.Users.Created != 2 || rep.Failed != 0 {
		t.Fatalf("first run: %s %+v", rep.Summary(), rep.Errors)
	}
	srv.Modify(t, "dn: "+userDN("bob")+"\nchangetype: modify\nreplace: mail\nmail: ALICE@example.com\n-\nreplace: sn\nsn: Changed\n")
	// The run's only entry failed, so the run is a failed run (issue 15):
	// it says so, and its report still names the entry and why.
	rep, err := s.SyncOnce(context.Background(), "corp", RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "every entry failed") || rep == nil {
		t.Fatalf("a run whose every entry failed: %v", err)
	}
	if rep.Failed != 1 || len(rep.Errors) != 1 || rep.Errors[0].DN != userDN("bob") ||
		!strings.Contains(rep.Errors[0].Error, "belongs to another user") {
		t.Fatalf("run into a duplicate e-mail: %s %+v", rep.Summary(), rep.Errors)
	}
	if bob := mustUser(t, st, "bob"); bob.PrimaryEmail() != "bob@example.com" || bob.Name.FamilyName != "B" {
		t.Fatalf("bob after the skipped change: %q %q", bob.PrimaryEmail(), bob.Name.FamilyName)
	}
	page, err := st.ListUsers(context.Background(), store.Query{Limit: 5,
		Filter: store.Compare{Attr: "emails.value", Op: store.OpEq, Value: "alice@example.com"}})
	if err != nil || page.Total != 1 {
		t.Fatalf("holders of alice@example.com: %+v %v", page, err)
	}
}
