package ldapsync

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// This file is the tests' harness: a real SQLite store in a temp dir, a
// syncer reading a real slapd (ldaptest), LDIF builders for the fixtures,
// and readers that check what a run left in the store.

// newStore opens an empty SQLite store that the test closes at cleanup.
func newStore(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "store.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// sourceFor is a source reading the test directory as the sync account.
func sourceFor(srv *ldaptest.Server) SourceConfig {
	return SourceConfig{
		Name: "corp", URL: srv.URL, BindDN: ldaptest.SyncDN, BindPassword: ldaptest.SyncPassword,
		Users:    UserSearch{BaseDN: ldaptest.PeopleDN},
		Groups:   GroupSearch{BaseDN: ldaptest.GroupsDN},
		PageSize: 50, BatchSize: 20, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
	}
}

func newSyncer(t testing.TB, st store.Store, cfgs ...SourceConfig) *Syncer {
	t.Helper()
	s, err := New(Config{Sources: cfgs}, st, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	s.spoolDir = t.TempDir()
	return s
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func syncOnce(t testing.TB, s *Syncer, opts RunOptions) *Report {
	t.Helper()
	rep, err := s.SyncOnce(context.Background(), "corp", opts)
	if err != nil {
		t.Fatalf("sync: %v (report %+v)", err, rep)
	}
	return rep
}

// person is an inetOrgPerson entry under ou=people (or the given OU DN).
func person(uid, given, sn, mail string, extra ...string) string {
	return personIn(ldaptest.PeopleDN, uid, given, sn, mail, extra...)
}

func personIn(parent, uid, given, sn, mail string, extra ...string) string {
	s := fmt.Sprintf("dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s %s\ngivenName: %s\nsn: %s\n",
		uid, parent, uid, given, sn, given, sn)
	if mail != "" {
		s += "mail: " + mail + "\n"
	}
	for _, e := range extra {
		s += e + "\n"
	}
	return s + "\n"
}

func groupOfNames(cn string, members ...string) string {
	s := fmt.Sprintf("dn: cn=%s,%s\nobjectClass: groupOfNames\ncn: %s\n", cn, ldaptest.GroupsDN, cn)
	for _, m := range members {
		s += "member: " + m + "\n"
	}
	return s + "\n"
}

func userDN(uid string) string { return "uid=" + uid + "," + ldaptest.PeopleDN }
func groupDN(cn string) string { return "cn=" + cn + "," + ldaptest.GroupsDN }

func mustUser(t testing.TB, st store.Store, userName string) *store.User {
	t.Helper()
	u, err := st.GetUserByUserName(context.Background(), userName)
	if err != nil {
		t.Fatalf("user %s: %v", userName, err)
	}
	return u
}

func mustGroup(t testing.TB, st store.Store, name string) *store.Group {
	t.Helper()
	page, err := st.ListGroups(context.Background(), store.Query{
		Filter: store.Compare{Attr: "displayName", Op: store.OpEq, Value: name}, Limit: 1, Related: true})
	if err != nil || len(page.Groups) != 1 {
		t.Fatalf("group %s: %v (%d found)", name, err, len(page.Groups))
	}
	return page.Groups[0]
}

func memberNames(t testing.TB, st store.Store, g *store.Group) []string {
	t.Helper()
	ms, err := st.GroupMembers(context.Background(), g.Key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		name := m.Display
		if m.Type == store.MemberUser {
			u, err := st.GetUser(context.Background(), m.ID)
			if err != nil {
				t.Fatal(err)
			}
			name = u.UserName
		}
		out = append(out, string(m.Type)+":"+name)
	}
	slices.Sort(out)
	return out
}

func countUsers(t testing.TB, st store.Store) int {
	t.Helper()
	page, err := st.ListUsers(context.Background(), store.Query{Limit: 0})
	if err != nil {
		t.Fatal(err)
	}
	return page.Total
}

// entryUUID reads an entry's entryUUID straight from the directory.
func entryUUID(t testing.TB, srv *ldaptest.Server, dn string) string {
	t.Helper()
	res, err := srv.Conn(t).Search(entryRequest(dn, "entryUUID"))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read %s: %v", dn, err)
	}
	return res.Entries[0].GetAttributeValue("entryUUID")
}

// activityCount is how many activity entries the store holds.
func activityCount(t testing.TB, st store.Store) int {
	t.Helper()
	_, n, err := st.ListActivity(context.Background(), store.ActivityQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lockedWriter lets a test read logs that a run writes concurrently.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
