package ldapsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store"
)

// This file is the write-back tests' harness: a slapd whose sync account
// may write, a source writing back into it, a door writing through the
// syncer's door store, and readers of what reached the directory.

// scimDoor is the actor of the tests' door writes.
var scimDoor = store.Actor{Door: "scim", Principal: "okta"}

// writableServer is a slapd the sync account may write to.
func writableServer(t testing.TB, opts ldaptest.Options) *ldaptest.Server {
	t.Helper()
	opts.SyncWrites = true
	return ldaptest.Start(t, opts)
}

// writeBackFor is sourceFor with write-back into ou=people and ou=groups,
// and a password key.
func writeBackFor(t testing.TB, srv *ldaptest.Server) SourceConfig {
	t.Helper()
	cfg := sourceFor(srv)
	cfg.WriteBack = WriteBack{Enabled: true, UserBase: ldaptest.PeopleDN, GroupBase: ldaptest.GroupsDN,
		PasswordKeyFile: keyFile(t), RetryMin: 1, RetryMax: 1}
	return cfg
}

// keyFile writes a random password key as hex.
func keyFile(t testing.TB) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "writeback.key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// door writes through the syncer's door store, as SCIM and the legacy
// APIs do.
func door(t testing.TB, s *Syncer, st store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.DoorStore(st).Write(context.Background(), scimDoor, fn); err != nil {
		t.Fatalf("door write: %v", err)
	}
}

func createUser(t testing.TB, s *Syncer, st store.Store, u *store.User) *store.User {
	t.Helper()
	door(t, s, st, func(tx store.Tx) error { return tx.CreateUser(context.Background(), u) })
	return u
}

func updateUser(t testing.TB, s *Syncer, st store.Store, id string, fn func(u *store.User)) {
	t.Helper()
	door(t, s, st, func(tx store.Tx) error {
		_, err := tx.UpdateUser(context.Background(), id, func(u *store.User) error { fn(u); return nil })
		return err
	})
}

// deliver runs one write-back pass and fails the test on an error of the
// pass itself; it returns what the pass did per entry.
func deliver(t testing.TB, s *Syncer) ([]Delivery, *DeliveryReport) {
	t.Helper()
	var out []Delivery
	rep, err := s.DeliverOnce(context.Background(), DeliverOptions{OnDelivery: func(d Delivery) { out = append(out, d) }})
	if err != nil {
		t.Fatalf("deliver: %v", err)
	}
	return out, rep
}

// outcomes renders deliveries as "action:outcome".
func outcomes(ds []Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Action+":"+d.Outcome)
	}
	return out
}

// entry reads an entry's attributes from the directory as the admin; nil
// when it does not exist.
func entry(t testing.TB, srv *ldaptest.Server, dn string, attrs ...string) *ldap.Entry {
	t.Helper()
	res, err := srv.Conn(t).Search(entryRequest(dn, attrs...))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil
	}
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read %s: %v", dn, err)
	}
	return res.Entries[0]
}

// members reads a group's member values, sorted.
func members(t testing.TB, srv *ldaptest.Server, dn string) []string {
	t.Helper()
	e := entry(t, srv, dn, "member")
	if e == nil {
		t.Fatalf("group %s does not exist", dn)
	}
	vs := e.GetAttributeValues("member")
	slices.Sort(vs)
	return vs
}

// canBind says whether dn binds with password.
func canBind(t testing.TB, srv *ldaptest.Server, dn, password string) bool {
	t.Helper()
	c, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.Bind(dn, password) == nil
}

func pendingOutbox(t testing.TB, st store.Store) []store.OutboxEntry {
	t.Helper()
	es, err := st.ListOutbox(context.Background(), store.OutboxQuery{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return es
}
