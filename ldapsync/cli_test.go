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
