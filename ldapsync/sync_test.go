package ldapsync

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// directoryLDIF is a small company: three users in ou=people, one in a
// sub-OU, a groupOfNames nesting another, a groupOfUniqueNames and a
// posixGroup.
func directoryLDIF() string {
	return person("alice", "Alice", "Smith", "alice@example.com", "title: Engineer", "employeeNumber: 1001",
		"departmentNumber: R&D", "telephoneNumber: +1 555 0100",
		"manager: "+userDN("carol")) + // a manager synced after the user
		person("bob", "Bob", "Jones", "bob@example.com", "manager: "+userDN("alice")) +
		person("carol", "Carol", "White", "carol@example.com") +
		"dn: ou=staff," + ldaptest.PeopleDN + "\nobjectClass: organizationalUnit\nou: staff\n\n" +
		personIn("ou=staff,"+ldaptest.PeopleDN, "erin", "Erin", "Black", "erin@example.com") +
		groupOfNames("dev", userDN("alice"), userDN("bob")) +
		groupOfNames("eng", groupDN("dev"), "uid=erin,ou=staff,"+ldaptest.PeopleDN) +
		"dn: cn=ops," + ldaptest.GroupsDN + "\nobjectClass: groupOfUniqueNames\ncn: ops\nuniqueMember: " + userDN("carol") + "#'0101'B\n\n" +
		"dn: cn=posix," + ldaptest.GroupsDN + "\nobjectClass: posixGroup\ncn: posix\ngidNumber: 5000\nmemberUid: alice\nmemberUid: carol\nmemberUid: nobody\n\n"
}

func TestFullImportThenIncrementalChanges(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: directoryLDIF()})
	st := newStore(t)
	s := newSyncer(t, st, sourceFor(srv))

	rep := syncOnce(t, s, RunOptions{})
	if rep.Mode != "full" || rep.Users.Created != 4 || rep.Groups.Created != 4 || rep.Failed != 0 {
		t.Fatalf("first run: %s", rep.Summary())
	}
	alice := mustUser(t, st, "alice")
	if alice.Name.GivenName != "Alice" || alice.Name.FamilyName != "Smith" || alice.DisplayName != "Alice Smith" ||
		alice.PrimaryEmail() != "alice@example.com" || alice.Title != "Engineer" || !alice.Active ||
		alice.Enterprise == nil || alice.Enterprise.EmployeeNumber != "1001" || alice.Enterprise.Department != "R&D" ||
		len(alice.PhoneNumbers) != 1 {
		t.Fatalf("alice mapped wrongly: %+v", alice)
	}
	if alice.Source.Name != "corp" || alice.Source.ID != entryUUID(t, srv, userDN("alice")) || !strings.EqualFold(alice.Source.DN, userDN("alice")) {
		t.Fatalf("alice's source = %+v", alice.Source)
	}
	if carol := mustUser(t, st, "carol"); alice.Enterprise.Manager == nil || alice.Enterprise.Manager.Value != carol.ID {
		t.Fatalf("alice's manager = %+v, want carol %s", alice.Enterprise.Manager, carol.ID)
	}
	bob := mustUser(t, st, "bob")
	if bob.Enterprise == nil || bob.Enterprise.Manager == nil || bob.Enterprise.Manager.Value != alice.ID {
		t.Fatalf("bob's manager = %+v, want alice %s", bob.Enterprise, alice.ID)
	}
	// Nesting is kept: eng holds the group dev, and alice inherits eng.
	if got := memberNames(t, st, mustGroup(t, st, "eng")); !slices.Equal(got, []string{"Group:dev", "User:erin"}) {
		t.Fatalf("eng members = %v", got)
	}
	if got := memberNames(t, st, mustGroup(t, st, "dev")); !slices.Equal(got, []string{"User:alice", "User:bob"}) {
		t.Fatalf("dev members = %v", got)
	}
	if got := memberNames(t, st, mustGroup(t, st, "ops")); !slices.Equal(got, []string{"User:carol"}) {
		t.Fatalf("ops (uniqueMember) members = %v", got)
	}
	if got := memberNames(t, st, mustGroup(t, st, "posix")); !slices.Equal(got, []string{"User:alice", "User:carol"}) {
		t.Fatalf("posix (memberUid) members = %v", got)
	}
	if rep.Unresolved != 1 {
		t.Fatalf("unresolved = %d, want 1 (memberUid nobody)", rep.Unresolved)
	}
	var inherited bool
	for _, g := range mustUser(t, st, "alice").Groups {
		if g.Display == "eng" && !g.Direct {
			inherited = true
		}
	}
	if !inherited {
		t.Fatalf("alice's groups %+v lack eng as an indirect membership", alice.Groups)
	}

	// A second run with no changes is incremental and writes nothing.
	activityBefore := activityCount(t, st)
	rep = syncOnce(t, s, RunOptions{})
	if rep.Mode != "incremental" || rep.Users.Created+rep.Users.Updated+rep.Groups.Created+rep.Groups.Updated+rep.MembershipChanges != 0 {
		t.Fatalf("idle incremental run: %s", rep.Summary())
	}
	if n := activityCount(t, st); n != activityBefore {
		t.Fatalf("idle run wrote %d activity entries", n-activityBefore)
	}

	// Every kind of change: modify, rename, move, add, group membership.
	// entryCSN (the OpenLDAP preset's change marker) tells the incremental
	// run exactly which entries changed.
	srv.Modify(t, `dn: `+userDN("alice")+`
changetype: modify
replace: sn
sn: Smith-Jones
-
replace: mail
mail: alice.sj@example.com

dn: `+userDN("bob")+`
changetype: modrdn
newrdn: uid=robert
deleteoldrdn: 1

dn: `+userDN("carol")+`
changetype: modrdn
newrdn: uid=carol
deleteoldrdn: 1
newsuperior: ou=staff,`+ldaptest.PeopleDN+`

dn: `+userDN("dave")+`
changetype: add
objectClass: inetOrgPerson
uid: dave
cn: Dave Green
sn: Green
mail: dave@example.com

dn: `+groupDN("dev")+`
changetype: modify
replace: member
member: `+userDN("alice")+`
member: `+userDN("dave")+`

dn: `+groupDN("qa")+`
changetype: add
objectClass: groupOfNames
cn: qa
member: `+userDN("dave")+`
`)
	rep = syncOnce(t, s, RunOptions{})
	if rep.Mode != "incremental" || rep.Users.Created != 1 || rep.Users.Updated != 3 || rep.Groups.Created != 1 || rep.Failed != 0 {
		t.Fatalf("incremental run: %s", rep.Summary())
	}
	if rep.ReadUsers != 4 {
		t.Fatalf("incremental run read %d users; only 4 changed", rep.ReadUsers)
	}
	if u := mustUser(t, st, "alice"); u.Name.FamilyName != "Smith-Jones" || u.PrimaryEmail() != "alice.sj@example.com" || u.ID != alice.ID {
		t.Fatalf("alice after modify: %+v", u)
	}
	robert := mustUser(t, st, "robert")
	if robert.ID != bob.ID || !strings.HasPrefix(robert.Source.DN, "uid=robert,") {
		t.Fatalf("rename made a new user or lost the DN: %s %+v (bob was %s)", robert.ID, robert.Source, bob.ID)
	}
	if _, err := st.GetUserByUserName(context.Background(), "bob"); !store.IsNotFound(err) {
		t.Fatalf("bob still exists after rename: %v", err)
	}
	if carol := mustUser(t, st, "carol"); !strings.Contains(carol.Source.DN, "ou=staff") {
		t.Fatalf("move not recorded: %+v", carol.Source)
	}
	if got := memberNames(t, st, mustGroup(t, st, "dev")); !slices.Equal(got, []string{"User:alice", "User:dave"}) {
		t.Fatalf("dev members after change = %v", got)
	}
	if got := memberNames(t, st, mustGroup(t, st, "qa")); !slices.Equal(got, []string{"User:dave"}) {
		t.Fatalf("qa members = %v", got)
	}

	// Deletions are found by the next incremental run (a keys-only search
	// of the scope; with find_deletions: full_runs only by a full run, see
	// TestFindDeletionsInFullRunsOnly).
	srv.Modify(t, "dn: uid=erin,ou=staff,"+ldaptest.PeopleDN+"\nchangetype: delete\n\ndn: "+groupDN("ops")+"\nchangetype: delete\n")
	rep = syncOnce(t, s, RunOptions{})
	if rep.Mode != "incremental" || rep.Users.Deactivated != 1 || rep.Groups.Deleted != 1 || rep.Users.Created != 0 {
		t.Fatalf("incremental run after deletions: %s", rep.Summary())
	}
	rep = syncOnce(t, s, RunOptions{Full: true})
	if rep.Mode != "full" || rep.Users.Deactivated != 0 || rep.Groups.Deleted != 0 || rep.Users.Created != 0 {
		t.Fatalf("full run: %s", rep.Summary())
	}
	if erin := mustUser(t, st, "erin"); erin.Active {
		t.Fatal("erin is still active after vanishing")
	}
	if got := memberNames(t, st, mustGroup(t, st, "eng")); !slices.Equal(got, []string{"Group:dev", "User:erin"}) {
		// The eng group still names erin's DN in the directory? No: memberof
		// refint removed it, so only dev remains.
		if !slices.Equal(got, []string{"Group:dev"}) {
			t.Fatalf("eng members after erin's deletion = %v", got)
		}
	}

	// A user who comes back is reactivated (same identity).
	status := s.Status()[0]
	if status.LastRun == nil || status.LastSuccess.IsZero() || status.LastError != "" || status.Watermark == "" {
		t.Fatalf("status after runs: %+v", status)
	}
}

func TestOnDeleteDelete(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "Alice", "A", "") + person("bob", "Bob", "B", "") +
		groupOfNames("g", userDN("alice"), userDN("bob"))})
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.OnDelete = "delete"
	s := newSyncer(t, st, cfg)
	syncOnce(t, s, RunOptions{})
	srv.Modify(t, "dn: "+userDN("bob")+"\nchangetype: delete\n")
	rep := syncOnce(t, s, RunOptions{Full: true})
	if rep.Users.Deleted != 1 {
		t.Fatalf("full run: %s", rep.Summary())
	}
	if _, err := st.GetUserByUserName(context.Background(), "bob"); !store.IsNotFound(err) {
		t.Fatalf("bob not deleted: %v", err)
	}
	if got := memberNames(t, st, mustGroup(t, st, "g")); !slices.Equal(got, []string{"User:alice"}) {
		t.Fatalf("g members = %v", got)
	}
}

func TestMassDeleteGuard(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("a", "A", "A", "") + person("b", "B", "B", "") + person("c", "C", "C", "")})
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.MaxDeletes = 1
	s := newSyncer(t, st, cfg)
	syncOnce(t, s, RunOptions{})
	srv.Modify(t, "dn: "+userDN("a")+"\nchangetype: delete\n\ndn: "+userDN("b")+"\nchangetype: delete\n")
	rep, err := s.SyncOnce(context.Background(), "corp", RunOptions{Full: true})
	if err == nil || !strings.Contains(err.Error(), "max_deletes") {
		t.Fatalf("run removing 2 > max_deletes 1 was not refused: %v %s", err, rep.Summary())
	}
	if !mustUser(t, st, "a").Active || !mustUser(t, st, "b").Active {
		t.Fatal("refused run deactivated users")
	}
	if s.Status()[0].ConsecutiveFailures != 1 {
		t.Fatalf("status = %+v", s.Status()[0])
	}
	rep = syncOnce(t, s, RunOptions{Full: true, Force: true})
	if rep.Users.Deactivated != 2 || mustUser(t, st, "a").Active {
		t.Fatalf("forced run: %s", rep.Summary())
	}
}

func TestLinksExistingUsersByUserNameAndEmail(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "Alice", "Smith", "alice@example.com") +
		person("bob", "Bob", "Jones", "bob@example.com") + person("carol", "Carol", "White", "carol@example.com") +
		groupOfNames("staff", userDN("alice"))})
	st := newStore(t)
	scimAlice := storetest.CreateUser(t, st, &store.User{UserName: "ALICE", DisplayName: "Alice (SCIM)", Active: true, Locale: "de-DE"})
	scimBob := storetest.CreateUser(t, st, &store.User{UserName: "robert.jones", Active: true,
		Emails: []store.Value{{Value: "Bob@Example.com", Primary: true}}})
	other := storetest.CreateUser(t, st, &store.User{UserName: "carol", Active: true,
		Source: store.Source{Name: "hr", ID: "x-1", DN: "uid=carol,o=hr"}})
	// A SCIM-made group with the directory group's name is linked too.
	var scimGroup store.Group
	if err := st.Write(context.Background(), store.Actor{Door: "scim"}, func(tx store.Tx) error {
		scimGroup = store.Group{DisplayName: "staff"}
		return tx.CreateGroup(context.Background(), &scimGroup)
	}); err != nil {
		t.Fatal(err)
	}

	cfg := sourceFor(srv)
	cfg.StoreOwned = []string{"displayName"}
	s := newSyncer(t, st, cfg)
	rep := syncOnce(t, s, RunOptions{})
	if rep.Users.Linked != 2 || rep.Users.Created != 0 || rep.Groups.Linked != 1 || rep.Failed != 1 {
		t.Fatalf("run: %s %+v", rep.Summary(), rep.Errors)
	}
	if !strings.Contains(rep.Errors[0].Error, "source hr") {
		t.Fatalf("carol's conflict not explained: %+v", rep.Errors)
	}
	alice := mustUser(t, st, "alice")
	if alice.ID != scimAlice.ID || alice.Source.Name != "corp" || alice.Name.FamilyName != "Smith" {
		t.Fatalf("alice not linked: %+v", alice)
	}
	if alice.DisplayName != "Alice (SCIM)" || alice.Locale != "de-DE" {
		t.Fatalf("store-owned or unmapped attributes overwritten: displayName %q locale %q", alice.DisplayName, alice.Locale)
	}
	bob := mustUser(t, st, "bob")
	if bob.ID != scimBob.ID || bob.Source.Name != "corp" {
		t.Fatalf("bob not linked by e-mail: %+v (scim bob %s)", bob, scimBob.ID)
	}
	if c := mustUser(t, st, "carol"); c.ID != other.ID || c.Source.Name != "hr" {
		t.Fatalf("carol of another source was taken over: %+v", c)
	}
	if g := mustGroup(t, st, "staff"); g.ID != scimGroup.ID || g.Source.Name != "corp" {
		t.Fatalf("group not linked: %+v", g)
	}
}

func TestBadEntriesAreSkippedAndReported(t *testing.T) {
	var ldif strings.Builder
	for i := range 30 {
		ldif.WriteString(person("user"+string(rune('a'+i%26))+strings.Repeat("x", i/26), "U", "U", ""))
	}
	// No uid: nothing to use as userName.
	ldif.WriteString("dn: cn=nouid," + ldaptest.PeopleDN + "\nobjectClass: inetOrgPerson\ncn: nouid\nsn: X\n\n")
	// The same uid twice in different places: the second conflicts.
	ldif.WriteString("dn: ou=other," + ldaptest.PeopleDN + "\nobjectClass: organizationalUnit\nou: other\n\n")
	ldif.WriteString(personIn("ou=other,"+ldaptest.PeopleDN, "usera", "Dup", "Dup", ""))
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: ldif.String()})
	st := newStore(t)
	s := newSyncer(t, st, sourceFor(srv)) // batches of 20: the bad entries share batches with good ones
	rep := syncOnce(t, s, RunOptions{})
	if rep.Failed != 2 || rep.Users.Created != 30 {
		t.Fatalf("run: %s %+v", rep.Summary(), rep.Errors)
	}
	var dns []string
	for _, e := range rep.Errors {
		dns = append(dns, e.DN+": "+e.Error)
	}
	joined := strings.Join(dns, "\n")
	if !strings.Contains(joined, "cn=nouid") || !strings.Contains(joined, "uid=usera,ou=other") {
		t.Fatalf("errors do not name the bad entries:\n%s", joined)
	}
	if n := countUsers(t, st); n != 30 {
		t.Fatalf("store has %d users, want 30", n)
	}
}

func TestModifyTimestampChangeDetection(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "Alice", "A", "") + person("bob", "Bob", "B", "")})
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.ChangeDetection = DetectModifyTimestamp
	s := newSyncer(t, st, cfg)
	first := syncOnce(t, s, RunOptions{})
	if _, err := parseGeneralizedTime(first.Watermark); err != nil || len(first.Watermark) != len("20261122120000Z") {
		t.Fatalf("watermark %q is not generalized time: %v", first.Watermark, err)
	}
	// One-second resolution: the change is read, and so are the entries of
	// the watermark's own second (re-read, never missed; they write nothing).
	time.Sleep(1100 * time.Millisecond)
	srv.Modify(t, "dn: "+userDN("bob")+"\nchangetype: modify\nreplace: sn\nsn: Brown\n")
	rep := syncOnce(t, s, RunOptions{})
	if rep.Mode != "incremental" || rep.ReadUsers != 2 || rep.Users.Updated != 1 || rep.Users.Unchanged != 1 || mustUser(t, st, "bob").Name.FamilyName != "Brown" {
		t.Fatalf("incremental run: %s", rep.Summary())
	}
}

func TestRecreatedEntryTakesOverItsUser(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "Alice", "A", "") + person("bob", "Bob", "B", "")})
	st := newStore(t)
	s := newSyncer(t, st, sourceFor(srv))
	syncOnce(t, s, RunOptions{})
	before := mustUser(t, st, "alice")
	// Deleted and added again: same uid, new entryUUID.
	srv.Modify(t, "dn: "+userDN("alice")+"\nchangetype: delete\n\ndn: "+userDN("alice")+
		"\nchangetype: add\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice Again\nsn: A\n")
	rep := syncOnce(t, s, RunOptions{Full: true})
	after := mustUser(t, st, "alice")
	if rep.Failed != 0 || rep.Users.Deactivated != 0 || after.ID != before.ID || after.Source.ID == before.Source.ID ||
		after.DisplayName != "Alice Again" || !after.Active {
		t.Fatalf("run: %s; before %+v after %+v", rep.Summary(), before.Source, after.Source)
	}
}

func TestContentSyncFindsDeletionsIncrementally(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: directoryLDIF()})
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.ChangeDetection = DetectSyncrepl
	s := newSyncer(t, st, cfg)
	rep := syncOnce(t, s, RunOptions{})
	if rep.Mode != "full" || rep.Users.Created != 4 || rep.Groups.Created != 4 || rep.Watermark == "" {
		t.Fatalf("first run: %s (cookie %q)", rep.Summary(), rep.Watermark)
	}
	rep = syncOnce(t, s, RunOptions{})
	if rep.Mode != "incremental" || rep.ReadUsers != 0 || rep.ReadGroups != 0 || rep.Users.Deactivated != 0 || rep.Groups.Deleted != 0 {
		t.Fatalf("idle run: %s", rep.Summary())
	}
	srv.Modify(t, `dn: `+userDN("alice")+`
changetype: modify
replace: sn
sn: Smith-Jones

dn: `+userDN("bob")+`
changetype: delete

dn: `+groupDN("ops")+`
changetype: delete

dn: `+userDN("dave")+`
changetype: add
objectClass: inetOrgPerson
uid: dave
cn: Dave
sn: Green
`)
	rep = syncOnce(t, s, RunOptions{})
	if rep.Mode != "incremental" || rep.ReadUsers != 2 || rep.Users.Updated != 1 || rep.Users.Created != 1 ||
		rep.Users.Deactivated != 1 || rep.Groups.Deleted != 1 {
		t.Fatalf("incremental run: %s", rep.Summary())
	}
	if mustUser(t, st, "bob").Active || mustUser(t, st, "alice").Name.FamilyName != "Smith-Jones" {
		t.Fatal("changes not applied")
	}
	rep = syncOnce(t, s, RunOptions{})
	if rep.ReadUsers+rep.ReadGroups != 0 || rep.Users.Deactivated+rep.Groups.Deleted != 0 {
		t.Fatalf("idle run after changes: %s", rep.Summary())
	}
}

func TestFullRunWritesOnlyWhatChanged(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: directoryLDIF()})
	st := newStore(t)
	s := newSyncer(t, st, sourceFor(srv))
	syncOnce(t, s, RunOptions{})
	activity := activityCount(t, st)
	rep := syncOnce(t, s, RunOptions{Full: true})
	if rep.Users.Unchanged != 4 || rep.Users.Updated+rep.Groups.Updated+rep.MembershipChanges != 0 || activityCount(t, st) != activity {
		t.Fatalf("idle full run: %s, unchanged %d", rep.Summary(), rep.Users.Unchanged)
	}
	srv.Modify(t, "dn: "+userDN("carol")+"\nchangetype: modify\nreplace: title\ntitle: Boss\n")
	rep = syncOnce(t, s, RunOptions{Full: true})
	if rep.Users.Unchanged != 3 || rep.Users.Updated != 1 || mustUser(t, st, "carol").Title != "Boss" {
		t.Fatalf("full run after one change: %s, unchanged %d", rep.Summary(), rep.Users.Unchanged)
	}
	// A change made through SCIM to a directory-owned attribute is undone
	// by the next full run.
	carol := mustUser(t, st, "carol")
	if err := st.Write(context.Background(), store.Actor{Door: "scim"}, func(tx store.Tx) error {
		_, err := tx.UpdateUser(context.Background(), carol.ID, func(u *store.User) error { u.Title = "Intern"; return nil })
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rep = syncOnce(t, s, RunOptions{Full: true})
	if rep.Users.Updated != 1 || mustUser(t, st, "carol").Title != "Boss" {
		t.Fatalf("full run after a SCIM change: %s", rep.Summary())
	}
}

// emailPolicy stands in for the store's e-mail uniqueness policy: a user
// whose e-mail address another user holds is a conflict on "emails".
type emailPolicy struct{ store.Store }

func (p emailPolicy) Write(ctx context.Context, actor store.Actor, fn func(tx store.Tx) error) error {
	return p.Store.Write(ctx, actor, func(tx store.Tx) error { return fn(emailPolicyTx{tx}) })
}

type emailPolicyTx struct{ store.Tx }

func (tx emailPolicyTx) CreateUser(ctx context.Context, u *store.User) error {
	for _, e := range u.Emails {
		page, err := tx.ListUsers(ctx, store.Query{Filter: store.Compare{Attr: "emails.value", Op: store.OpEq, Value: e.Value}, Limit: 1})
		if err != nil {
			return err
		}
		if len(page.Users) > 0 {
			return store.FieldErrorf(store.KindConflict, "emails", "e-mail %s is already taken", e.Value)
		}
	}
	return tx.Tx.CreateUser(ctx, u)
}

// CreateUsers is CreateUser for each, as the store's contract has it.
func (tx emailPolicyTx) CreateUsers(ctx context.Context, users []*store.User) error {
	for i, u := range users {
		if err := tx.CreateUser(ctx, u); err != nil {
			return &store.ItemError{Index: i, Err: err}
		}
	}
	return nil
}

// Two entries with one e-mail address make one user; the other entry is
// skipped with the reason, whether the store's e-mail policy refuses it or
// linking by e-mail finds the first user.
func TestDuplicateEmailIsReportedPerEntry(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "Alice", "A", "shared@example.com") +
		person("bob", "Bob", "B", "shared@example.com") + person("carol", "Carol", "C", "carol@example.com")})
	for _, linkBy := range [][]string{{"userName"}, {"userName", "emails"}} {
		st := emailPolicy{newStore(t)}
		cfg := sourceFor(srv)
		cfg.LinkBy = linkBy
		s := newSyncer(t, st, cfg)
		rep := syncOnce(t, s, RunOptions{})
		if rep.Users.Created != 2 || rep.Failed != 1 || rep.DuplicateEmails != 1 || len(rep.Errors) != 1 {
			t.Fatalf("link_by %v: %s %+v", linkBy, rep.Summary(), rep.Errors)
		}
		if e := rep.Errors[0]; !strings.HasPrefix(e.DN, "uid=bob,") || !strings.HasPrefix(e.Error, "duplicate e-mail: ") {
			t.Fatalf("link_by %v: error %+v", linkBy, e)
		}
		if !strings.Contains(rep.Summary(), "1 failed (1 duplicate e-mail)") {
			t.Fatalf("link_by %v: summary %s", linkBy, rep.Summary())
		}
	}
}

// An import writes a batch's new users with one CreateUsers call; a user
// the store itself refuses there (a userName two entries share, an
// address another entry holds) is reported and skipped, and the rest of
// its batch is written, whatever the batch size.
func TestImportSkipsWhatTheStoreRefuses(t *testing.T) {
	ldif := "dn: ou=staff," + ldaptest.PeopleDN + "\nobjectClass: organizationalUnit\nou: staff\n\n"
	for i := range 30 {
		ldif += person(fmt.Sprintf("u%02d", i), "User", fmt.Sprint(i), fmt.Sprintf("u%02d@example.com", i))
	}
	ldif += personIn("ou=staff,"+ldaptest.PeopleDN, "u07", "Other", "Seven", "other7@example.com") +
		personIn("ou=staff,"+ldaptest.PeopleDN, "mail-taker", "Mail", "Taker", "U12@example.com")
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: ldif})
	for _, batchSize := range []int{1, 7, 500} {
		t.Run(fmt.Sprint(batchSize), func(t *testing.T) {
			st := newStore(t)
			cfg := sourceFor(srv)
			cfg.BatchSize = batchSize
			s := newSyncer(t, st, cfg)
			rep := syncOnce(t, s, RunOptions{})
			if rep.Users.Created != 30 || rep.Failed != 2 || len(rep.Errors) != 2 {
				t.Fatalf("import: %s %+v", rep.Summary(), rep.Errors)
			}
			for _, e := range rep.Errors {
				if !strings.Contains(e.DN, "ou=staff,") {
					t.Fatalf("the entry in ou=people was refused, not its twin in ou=staff: %+v", rep.Errors)
				}
			}
			for i := range 30 {
				if u := mustUser(t, st, fmt.Sprintf("u%02d", i)); u.Source.DN != userDN(fmt.Sprintf("u%02d", i)) {
					t.Fatalf("u%02d from %s", i, u.Source.DN)
				}
			}
		})
	}
}
