package ldapsync

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
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

// TestLinkingNeverAdoptsAccountsWithCredentials (issue 11, finding 5):
// linking by e-mail (or userName) handed a local account that held its
// own API key to the directory user who shares the address, key and all.
// A local account that holds credentials is now never linked silently:
// the entry is skipped and reported as a credential conflict naming the
// account and the attribute, until the operator revokes them or sets
// link_credentials: revoke, which links after revoking every one.
func TestLinkingNeverAdoptsAccountsWithCredentials(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "Alice", "Smith", "alice@example.com") +
		person("bob", "Bob", "Jones", "bob@example.com") + person("carol", "Carol", "White", "carol@example.com")})
	st := newStore(t)
	ctx := context.Background()
	hash, err := auth.HashPassword("Local-password-1")
	if err != nil {
		t.Fatal(err)
	}
	// alice (same userName) can log in with a local password; "robert"
	// (same e-mail as bob) holds an API key and an expired one does not
	// count; carol holds nothing and is linked as before.
	alice := storetest.CreateUser(t, st, &store.User{UserName: "alice", Active: true, PasswordHash: hash})
	robert := storetest.CreateUser(t, st, &store.User{UserName: "robert", Active: true,
		Emails: []store.Value{{Value: "bob@example.com", Primary: true}}})
	carol := storetest.CreateUser(t, st, &store.User{UserName: "carol", Active: true})
	key, err := auth.IssueKey(ctx, st, store.Actor{Door: "test"}, "usersapi", "robert-key-0123456789abcdef", 8, robert.Key, "robert's", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
		return tx.CreateCredential(ctx, &store.Credential{Kind: "apikey:xpdev", UserKey: carol.Key,
			SecretHash: auth.HashToken("expired"), Expires: time.Now().Add(-time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}

	s := newSyncer(t, st, sourceFor(srv))
	rep := syncOnce(t, s, RunOptions{})
	if rep.Users.Linked != 1 || rep.Users.Created != 0 || rep.Failed != 2 || rep.CredentialConflicts != 2 {
		t.Fatalf("run: %s %+v", rep.Summary(), rep.Errors)
	}
	if !strings.Contains(rep.Summary(), "2 failed (2 credential conflict)") {
		t.Fatalf("summary: %s", rep.Summary())
	}
	reasons := map[string]string{}
	for _, e := range rep.Errors {
		reasons[e.DN] = e.Error
	}
	for dn, want := range map[string][]string{
		userDN("alice"): {"credential conflict: local user alice", `same userName "alice"`, "a password"},
		userDN("bob"):   {"credential conflict: local user robert", `same e-mail "bob@example.com"`, "1 API key (usersapi)"},
	} {
		for _, w := range want {
			if !strings.Contains(reasons[dn], w) {
				t.Errorf("%s: reason %q lacks %q", dn, reasons[dn], w)
			}
		}
	}
	if u := mustUser(t, st, "alice"); u.Source.Name != "" || u.PasswordHash != hash {
		t.Fatalf("alice was adopted: %+v", u.Source)
	}
	if u := mustUser(t, st, "robert"); u.Source.Name != "" || u.Name.FamilyName != "" {
		t.Fatalf("robert was adopted: %+v", u.Source)
	}
	if c, u, err := auth.LookupKey(ctx, st, "usersapi", "robert-key-0123456789abcdef"); err != nil || c.UserKey != robert.Key || u.Source.Name != "" {
		t.Fatalf("robert's key after the run: %+v %v", c, err)
	}
	if u := mustUser(t, st, "carol"); u.ID != carol.ID || u.Source.Name != "corp" {
		t.Fatalf("carol, who holds no live credential, was not linked: %+v", u.Source)
	}

	// The operator's explicit choice: revoke and link.
	cfg := sourceFor(srv)
	cfg.LinkCredentials = LinkCredentialsRevoke
	var details []string
	rep = syncOnce(t, newSyncer(t, st, cfg), RunOptions{Full: true, OnChange: func(c Change) {
		if c.Action == "link" {
			details = append(details, c.Detail)
		}
	}})
	if rep.Users.Linked != 2 || rep.Failed != 0 {
		t.Fatalf("run with link_credentials: revoke: %s %+v", rep.Summary(), rep.Errors)
	}
	slices.Sort(details)
	if len(details) != 2 || !strings.Contains(details[0], "existing user alice; its credentials were revoked: a password") ||
		!strings.Contains(details[1], "existing user robert; its credentials were revoked: 1 API key (usersapi)") {
		t.Fatalf("link details: %q", details)
	}
	if u := mustUser(t, st, "alice"); u.ID != alice.ID || u.Source.Name != "corp" || u.PasswordHash != "" {
		t.Fatalf("alice after revoke: %+v, hash kept %v", u.Source, u.PasswordHash != "")
	}
	if _, err := st.FindCredential(ctx, key.Kind, key.SecretHash); !store.IsNotFound(err) {
		t.Fatalf("robert's key survived the revoke: %v", err)
	}
}
