package ldapsync

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store"
)

func TestDryRunWritesNothing(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "Alice", "A", "a@example.com") +
		person("bob", "Bob", "B", "") + groupOfNames("g", userDN("alice"), userDN("bob"))})
	st := newStore(t)
	cfg := sourceFor(srv)
	var out bytes.Buffer
	if err := RunCLI(context.Background(), []string{"--dry-run"}, Config{Sources: []SourceConfig{cfg}}, st, testLogger(t), &out); err != nil {
		t.Fatalf("dry run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"corp: would create User alice", "corp: would create Group g", "would change members of Group g",
		"dry run (nothing written)", "2 created"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out.String())
		}
	}
	if countUsers(t, st) != 0 || activityCount(t, st) != 0 {
		t.Fatal("dry run wrote users or activity")
	}
	if _, err := st.GetObject(context.Background(), StateKind, "corp"); !store.IsNotFound(err) {
		t.Fatalf("dry run saved state: %v", err)
	}

	out.Reset()
	if err := RunCLI(context.Background(), []string{"--source", "corp"}, Config{Sources: []SourceConfig{cfg}}, st, testLogger(t), &out); err != nil {
		t.Fatalf("sync: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "corp: create User alice (uid=alice,") || !strings.Contains(out.String(), "corp full sync") {
		t.Fatalf("sync output:\n%s", out.String())
	}
	if countUsers(t, st) != 2 {
		t.Fatal("real run after dry run did not create the users")
	}

	err := RunCLI(context.Background(), []string{"--source", "nope"}, Config{Sources: []SourceConfig{cfg}}, st, testLogger(t), &out)
	if err == nil || !strings.Contains(err.Error(), `unknown source "nope"`) {
		t.Fatalf("unknown source: %v", err)
	}
	if err := RunCLI(context.Background(), []string{"--bogus"}, Config{Sources: []SourceConfig{cfg}}, st, testLogger(t), &out); err == nil {
		t.Fatal("unknown flag accepted")
	}
}

// sync --write-back --dry-run prints the LDAP operations it would send and
// sends none; without --dry-run it sends them.
func TestWriteBackDryRunPrintsTheOperations(t *testing.T) {
	srv := writableServer(t, ldaptest.Options{})
	st := newStore(t)
	cfg := writeBackFor(t, srv)
	c := Config{Sources: []SourceConfig{cfg}}
	s := newSyncer(t, st, cfg)
	u := createUser(t, s, st, &store.User{UserName: "jo", Active: true, DisplayName: "Jo March", Name: store.Name{FamilyName: "March"},
		PasswordHash: "$argon2id$x", NewPassword: "little-women"})
	g := &store.Group{DisplayName: "sisters", Members: []store.Member{{ID: u.ID}}}
	door(t, s, st, func(tx store.Tx) error { return tx.CreateGroup(context.Background(), g) })

	var out bytes.Buffer
	if err := RunCLI(context.Background(), []string{"--write-back", "--dry-run"}, c, st, testLogger(t), &out); err != nil {
		t.Fatalf("dry run: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"corp: would write outbox 1 user.create User jo (door scim)",
		"    add uid=jo," + ldaptest.PeopleDN + " objectClass=[inetOrgPerson] cn=[Jo March] sn=[March] uid=[jo]",
		"    password modify (RFC 3062) (the new entry): [redacted]",
		"corp: would write outbox 2 group.create Group sisters (door scim)",
		"    add cn=sisters," + ldaptest.GroupsDN + " objectClass=[groupOfNames] cn=[sisters] member=[uid=jo," + ldaptest.PeopleDN + "]",
		"    modify cn=sisters," + ldaptest.GroupsDN + " add member: uid=jo," + ldaptest.PeopleDN,
		"dry run (nothing sent): write-back: 3 would be written, 0 skipped, 0 waiting; outbox: 3 pending, 0 dead",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry-run output lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "little-women") {
		t.Error("the dry run printed the password")
	}
	if t.Failed() {
		t.Log(out.String())
	}
	if entry(t, srv, userDN("jo")) != nil || len(pendingOutbox(t, st)) != 3 {
		t.Fatal("the dry run sent or acked something")
	}

	out.Reset()
	if err := RunCLI(context.Background(), []string{"--write-back"}, c, st, testLogger(t), &out); err != nil {
		t.Fatalf("write-back: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "write-back: 3 delivered") || entry(t, srv, userDN("jo")) == nil || !canBind(t, srv, userDN("jo"), "little-women") {
		t.Fatalf("write-back output:\n%s", out.String())
	}
	for _, args := range [][]string{{"--retry-dead"}, {"--write-back", "--full"}, {"--write-back", "--retry-dead", "--dry-run"}} {
		if err := RunCLI(context.Background(), args, c, st, testLogger(t), &out); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
