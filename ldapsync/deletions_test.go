package ldapsync

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
)

// keysModes are the two ways an incremental run learns what vanished: a
// keys-only content sync where the server offers one, else a keys-only
// paged search of the scope.
var keysModes = []struct {
	name string
	opts ldaptest.Options
}{{"content sync", ldaptest.Options{}}, {"paged search", ldaptest.Options{NoContentSync: true}}}

// An incremental run in the default entryCSN mode finds deletions and moves
// out of scope, by a keys-only content sync or a keys-only search.
func TestIncrementalRunFindsDeletionsAndMovesOutOfScope(t *testing.T) {
	for _, mode := range keysModes {
		t.Run(mode.name, func(t *testing.T) { testIncrementalRunFindsDeletions(t, mode.opts) })
	}
}

func testIncrementalRunFindsDeletions(t *testing.T, opts ldaptest.Options) {
	opts.LDIF = directoryLDIF() + "dn: ou=former," + ldaptest.Suffix + "\nobjectClass: organizationalUnit\nou: former\n\n"
	srv := ldaptest.Start(t, opts)
	st := newStore(t)
	s := newSyncer(t, st, sourceFor(srv))
	syncOnce(t, s, RunOptions{})

	srv.Modify(t, "dn: uid=erin,ou=staff,"+ldaptest.PeopleDN+"\nchangetype: delete\n\n"+
		"dn: "+groupDN("ops")+"\nchangetype: delete\n\n"+
		"dn: "+userDN("bob")+"\nchangetype: modrdn\nnewrdn: uid=bob\ndeleteoldrdn: 1\nnewsuperior: ou=former,"+ldaptest.Suffix+"\n")
	rep := syncOnce(t, s, RunOptions{})
	if rep.Mode != "incremental" || rep.Users.Deactivated != 2 || rep.Groups.Deleted != 1 || rep.Users.Created != 0 {
		t.Fatalf("incremental run after a deletion and a move out of scope: %s", rep.Summary())
	}
	if mustUser(t, st, "erin").Active || mustUser(t, st, "bob").Active || !mustUser(t, st, "alice").Active {
		t.Fatal("the vanished users are still active, or others were deactivated")
	}
	// An idle run finds nothing gone; the full run that follows finds
	// nothing left to do.
	if rep = syncOnce(t, s, RunOptions{}); rep.Users.Deactivated+rep.Groups.Deleted != 0 {
		t.Fatalf("idle incremental run: %s", rep.Summary())
	}
	rep = syncOnce(t, s, RunOptions{Full: true})
	if rep.Users.Deactivated+rep.Groups.Deleted+rep.Users.Updated+rep.Users.Created != 0 {
		t.Fatalf("full run after the incremental one: %s", rep.Summary())
	}
	// Deletions after a full run are found by the next incremental one.
	srv.Modify(t, "dn: "+userDN("carol")+"\nchangetype: delete\n")
	if rep = syncOnce(t, s, RunOptions{}); rep.Mode != "incremental" || rep.Users.Deactivated != 1 || mustUser(t, st, "carol").Active {
		t.Fatalf("incremental run after a full one: %s", rep.Summary())
	}
}

// find_deletions: full_runs keeps incremental runs to changed entries:
// deletions wait for the next full run.
func TestFindDeletionsInFullRunsOnly(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: directoryLDIF()})
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.FindDeletions = FindDeletionsFullRuns
	s := newSyncer(t, st, cfg)
	syncOnce(t, s, RunOptions{})
	srv.Modify(t, "dn: uid=erin,ou=staff,"+ldaptest.PeopleDN+"\nchangetype: delete\n\ndn: "+groupDN("ops")+"\nchangetype: delete\n")
	rep := syncOnce(t, s, RunOptions{})
	if rep.Users.Deactivated != 0 || !mustUser(t, st, "erin").Active {
		t.Fatalf("incremental run acted on a deletion it cannot see: %s", rep.Summary())
	}
	rep = syncOnce(t, s, RunOptions{Full: true})
	if rep.Mode != "full" || rep.Users.Deactivated != 1 || rep.Groups.Deleted != 1 || rep.Users.Created != 0 {
		t.Fatalf("full run: %s", rep.Summary())
	}
}

// The mass-delete guard holds for incremental runs too.
func TestMassDeleteGuardOnIncrementalRuns(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("a", "A", "A", "") + person("b", "B", "B", "") + person("c", "C", "C", "")})
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.MaxDeletes = 1
	s := newSyncer(t, st, cfg)
	syncOnce(t, s, RunOptions{})
	srv.Modify(t, "dn: "+userDN("a")+"\nchangetype: delete\n\ndn: "+userDN("b")+"\nchangetype: delete\n")
	rep, err := s.SyncOnce(context.Background(), "corp", RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "max_deletes") || rep.Mode != "incremental" {
		t.Fatalf("incremental run removing 2 > max_deletes 1 was not refused: %v %s", err, rep.Summary())
	}
	if !mustUser(t, st, "a").Active || !mustUser(t, st, "b").Active {
		t.Fatal("refused run deactivated users")
	}
}

// slapd's refint overlay rewrites the member values of groups when a member
// is deleted or renamed, without moving the groups' entryCSN: an
// incremental run re-reads the groups that listed such a user.
func TestRefintRewrittenMembershipsAreRefreshed(t *testing.T) {
	for _, mode := range keysModes {
		t.Run(mode.name, func(t *testing.T) { testRefintRewrittenMemberships(t, mode.opts) })
	}
}

func testRefintRewrittenMemberships(t *testing.T, opts ldaptest.Options) {
	opts.Refint = true
	opts.LDIF = person("alice", "A", "A", "") + person("bob", "B", "B", "") +
		person("carol", "C", "C", "") + person("dave", "D", "D", "") +
		groupOfNames("dev", userDN("alice"), userDN("bob"), userDN("carol")) + groupOfNames("solo", userDN("dave")) +
		groupOfNames("other", userDN("carol"))
	srv := ldaptest.Start(t, opts)
	st := newStore(t)
	s := newSyncer(t, st, sourceFor(srv))
	syncOnce(t, s, RunOptions{})

	srv.Modify(t, "dn: "+userDN("bob")+"\nchangetype: delete\n\n"+
		"dn: "+userDN("dave")+"\nchangetype: delete\n\n"+
		"dn: "+userDN("alice")+"\nchangetype: modrdn\nnewrdn: uid=alicia\ndeleteoldrdn: 1\n")
	rep := syncOnce(t, s, RunOptions{})
	if rep.Mode != "incremental" || rep.Users.Deactivated != 2 || rep.Failed != 0 {
		t.Fatalf("incremental run: %s %+v", rep.Summary(), rep.Errors)
	}
	if got := memberNames(t, st, mustGroup(t, st, "dev")); !slices.Equal(got, []string{"User:alicia", "User:carol"}) {
		t.Fatalf("dev members after refint removed bob = %v", got)
	}
	// refint leaves refint_nothing in a group that lost its last member.
	if got := memberNames(t, st, mustGroup(t, st, "solo")); len(got) != 0 {
		t.Fatalf("solo members after refint removed dave = %v", got)
	}
	if rep.ReadGroups != 2 {
		t.Fatalf("read %d groups; only dev and solo listed a vanished or moved user", rep.ReadGroups)
	}
	// Nothing is left for a full run to correct.
	rep = syncOnce(t, s, RunOptions{Full: true})
	if rep.MembershipChanges != 0 || rep.Users.Deactivated != 0 {
		t.Fatalf("full run after the incremental one: %s", rep.Summary())
	}
}

// An entry deleted and added again (same uid, new entryUUID) takes its user
// over in an incremental run too, now that the run knows what vanished:
// both in the first incremental run after a full one, and once the keys
// content sync has a cookie and reports the deletions since rather than
// every identity in scope (the recreated entry was refused as "already
// exists" while only a complete listing allowed it).
func TestRecreatedEntryTakesOverItsUserIncrementally(t *testing.T) {
	for _, tc := range []struct {
		name      string
		runsFirst int
	}{{"first incremental run", 1}, {"keys cookie held", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "Alice", "A", "") + person("bob", "Bob", "B", "")})
			st := newStore(t)
			s := newSyncer(t, st, sourceFor(srv))
			for range tc.runsFirst {
				syncOnce(t, s, RunOptions{})
			}
			before := mustUser(t, st, "alice")
			srv.Modify(t, "dn: "+userDN("alice")+"\nchangetype: delete\n\ndn: "+userDN("alice")+
				"\nchangetype: add\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice Again\nsn: A\n")
			rep := syncOnce(t, s, RunOptions{})
			after := mustUser(t, st, "alice")
			if rep.Mode != "incremental" || rep.Failed != 0 || rep.Users.Deactivated != 0 || after.ID != before.ID ||
				after.Source.ID == before.Source.ID || after.DisplayName != "Alice Again" || !after.Active {
				t.Fatalf("run: %s %+v; before %+v after %+v", rep.Summary(), rep.Errors, before.Source, after.Source)
			}
		})
	}
}

// A full run leaves the cookies of the keys content syncs (taken before
// it read), so the first incremental run after an import starts from
// them instead of listing every entryUUID in scope (18 s at 1,000,000
// users), and still finds what was deleted since.
func TestFullRunLeavesTheKeysCookies(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: directoryLDIF()})
	st := newStore(t)
	s := newSyncer(t, st, sourceFor(srv))
	if rep := syncOnce(t, s, RunOptions{}); rep.Mode != "full" {
		t.Fatalf("first run: %s", rep.Summary())
	}
	state, _, err := s.loadState(t.Context(), "corp")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"users", "groups"} {
		found := false
		for name, cookie := range state.Cookies {
			found = found || strings.HasPrefix(name, "keys:"+kind+":") && cookie != ""
		}
		if !found {
			t.Errorf("no keys cookie for %s after the full run: %v", kind, state.Cookies)
		}
	}
	srv.Modify(t, "dn: "+userDN("carol")+"\nchangetype: delete\n\ndn: "+groupDN("ops")+"\nchangetype: delete\n")
	rep := syncOnce(t, s, RunOptions{})
	if rep.Mode != "incremental" || rep.Users.Deactivated != 1 || rep.Groups.Deleted != 1 || mustUser(t, st, "carol").Active {
		t.Fatalf("first incremental run after the full one: %s", rep.Summary())
	}
}
