package scim_test

import (
	"context"
	"testing"

	"github.com/scimbridge/scimbridge/scim/scimtest"
	"github.com/scimbridge/scimbridge/store"
)

// A PUT replaces what the client owns; the directory link of a synced
// user, and the password-change time the sync watches to end sessions
// (ldapsync), are not the client's: they stay as the sync left them.
func TestPutKeepsTheDirectoryLink(t *testing.T) {
	s := scimtest.Start(t)
	u := &store.User{UserName: "alice", Active: true,
		Source:                store.Source{Name: "corp", ID: "4f1c", DN: "uid=alice,ou=people,dc=example,dc=com"},
		SourcePasswordChanged: "20261202070718Z"}
	err := s.Store.Write(context.Background(), store.Actor{Door: "ldapsync"}, func(tx store.Tx) error {
		return tx.CreateUser(context.Background(), u)
	})
	if err != nil {
		t.Fatal(err)
	}
	status, doc, _ := s.Call(t, "PUT", "/scim/v2/Users/"+u.ID, user("alice", map[string]any{"displayName": "Alice", "id": u.ID}))
	want(t, status, 200, doc)
	got, err := s.Store.GetUser(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.DisplayName != "Alice" || got.Source != u.Source || got.SourcePasswordChanged != u.SourcePasswordChanged {
		t.Fatalf("after PUT: displayName %q, source %+v, password changed %q", got.DisplayName, got.Source, got.SourcePasswordChanged)
	}
}
