package ldapsync

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store"
)

// A user created through a door reaches the directory with its password;
// the entry's entryUUID links the user, so the next inbound run sees the
// same user, and nothing echoes back.
func TestWriteBackCreatesAUserWithItsPassword(t *testing.T) {
	srv := writableServer(t, ldaptest.Options{})
	st := newStore(t)
	s := newSyncer(t, st, writeBackFor(t, srv))
	alice := createUser(t, s, st, &store.User{UserName: "alice", Active: true, DisplayName: "Alice Smith",
		Name: store.Name{GivenName: "Alice", FamilyName: "Smith"}, Title: "Engineer",
		Emails:       []store.Value{{Value: "alice@example.com", Primary: true}, {Value: "a.smith@example.com"}},
		PasswordHash: "$argon2id$stand-in", NewPassword: "wonderland"})
	if obj, err := st.GetObject(context.Background(), PasswordKind, alice.ID); err != nil || strings.Contains(string(obj.Doc), "wonderland") {
		t.Fatalf("sealed password: %v %s", err, obj.Doc)
	}

	ds, rep := deliver(t, s)
	if rep.Delivered != 1 || !slices.Equal(outcomes(ds), []string{"user.create:delivered"}) {
		t.Fatalf("deliveries: %+v", ds)
	}
	e := entry(t, srv, userDN("alice"), "*", "entryUUID")
	if e == nil || e.GetAttributeValue("cn") != "Alice Smith" || e.GetAttributeValue("sn") != "Smith" ||
		e.GetAttributeValue("givenName") != "Alice" || e.GetAttributeValue("title") != "Engineer" ||
		!slices.Equal(e.GetAttributeValues("mail"), []string{"alice@example.com", "a.smith@example.com"}) {
		t.Fatalf("entry: %+v", e)
	}
	if !canBind(t, srv, userDN("alice"), "wonderland") || canBind(t, srv, userDN("alice"), "wrong") {
		t.Fatal("the password did not reach the directory")
	}
	u := mustUser(t, st, "alice")
	if u.Source.Name != "corp" || u.Source.ID != e.GetAttributeValue("entryUUID") || !strings.EqualFold(u.Source.DN, userDN("alice")) {
		t.Fatalf("alice's link: %+v", u.Source)
	}
	if _, err := st.GetObject(context.Background(), PasswordKind, alice.ID); !store.IsNotFound(err) {
		t.Fatalf("the sealed password outlived its delivery: %v", err)
	}
	if es := pendingOutbox(t, st); len(es) != 0 {
		t.Fatalf("outbox after delivery: %+v", es)
	}

	// The inbound sync finds the entry it was linked to: the same user,
	// nothing to change, and nothing goes back out.
	rep2 := syncOnce(t, s, RunOptions{})
	if rep2.Users.Created != 0 || rep2.Users.Linked != 0 || rep2.Failed != 0 || countUsers(t, st) != 1 {
		t.Fatalf("inbound run after write-back: %s %+v", rep2.Summary(), rep2.Errors)
	}
	if got := mustUser(t, st, "alice"); got.ID != alice.ID || got.Title != "Engineer" {
		t.Fatalf("alice after the inbound run: %+v", got)
	}
	if es := pendingOutbox(t, st); len(es) != 0 {
		t.Fatalf("the inbound run echoed %d changes into the outbox", len(es))
	}
	if _, rep := deliver(t, s); rep.Delivered+rep.Failed != 0 {
		t.Fatalf("a second pass delivered again: %+v", rep)
	}
}

// Attribute changes are one modify of what changed, a rename is a modrdn
// (the entry and its entryUUID stay), a new password goes through the
// Password Modify operation, a deactivation sets the configured attribute,
// a delete removes the entry and its member values.
func TestWriteBackUpdatesRenamesDeactivatesAndDeletes(t *testing.T) {
	srv := writableServer(t, ldaptest.Options{LDIF: groupOfNames("staff", "cn=admin,dc=example,dc=com")})
	st := newStore(t)
	cfg := writeBackFor(t, srv)
	cfg.Attributes = map[string]string{"active": "employeeType"}
	s := newSyncer(t, st, cfg)
	bob := createUser(t, s, st, &store.User{UserName: "bob", Active: true, Name: store.Name{GivenName: "Bob", FamilyName: "Jones"},
		Emails: []store.Value{{Value: "bob@example.com", Primary: true}}})
	syncOnce(t, s, RunOptions{}) // links the group staff
	deliver(t, s)
	uuid := entryUUID(t, srv, userDN("bob"))
	if e := entry(t, srv, userDN("bob"), "employeeType"); e.GetAttributeValue("employeeType") != "TRUE" {
		t.Fatalf("active bob's employeeType: %v", e.GetAttributeValues("employeeType"))
	}

	updateUser(t, s, st, bob.ID, func(u *store.User) {
		u.Title, u.Name.FamilyName, u.Emails = "Manager", "Brown", nil
	})
	ds, _ := deliver(t, s)
	if len(ds) != 1 || len(ds[0].Ops) != 1 || !strings.HasPrefix(ds[0].Ops[0], "modify uid=bob,") {
		t.Fatalf("update: %+v", ds)
	}
	for _, want := range []string{"replace sn: Brown", "replace title: Manager", "replace mail: (none)"} {
		if !strings.Contains(ds[0].Ops[0], want) {
			t.Errorf("update's modify lacks %q: %s", want, ds[0].Ops[0])
		}
	}
	if strings.Contains(ds[0].Ops[0], "givenName") {
		t.Errorf("an unchanged attribute was written: %s", ds[0].Ops[0])
	}
	e := entry(t, srv, userDN("bob"), "sn", "title", "mail")
	if e.GetAttributeValue("sn") != "Brown" || e.GetAttributeValue("title") != "Manager" || len(e.GetAttributeValues("mail")) != 0 {
		t.Fatalf("entry after the update: %+v", e)
	}

	// A rename keeps the entry: same entryUUID, new DN, and the link follows.
	updateUser(t, s, st, bob.ID, func(u *store.User) { u.UserName = "robert" })
	ds, _ = deliver(t, s)
	if len(ds) != 1 || ds[0].Outcome != outcomeDelivered || entry(t, srv, userDN("bob")) != nil {
		t.Fatalf("rename: %+v", ds)
	}
	if got := entryUUID(t, srv, userDN("robert")); got != uuid {
		t.Fatalf("rename made a new entry: %s, was %s", got, uuid)
	}
	if u := mustUser(t, st, "robert"); !strings.EqualFold(u.Source.DN, userDN("robert")) || u.Source.ID != uuid {
		t.Fatalf("link after the rename: %+v", u.Source)
	}

	// A new password, given in clear by the door, is written and then gone.
	updateUser(t, s, st, bob.ID, func(u *store.User) { u.PasswordHash, u.NewPassword = "$argon2id$x", "s3cret" })
	ds, _ = deliver(t, s)
	if !slices.Equal(outcomes(ds), []string{"user.update:skipped", "password.change:delivered"}) || !canBind(t, srv, userDN("robert"), "s3cret") {
		t.Fatalf("password change: %+v", ds)
	}

	// Membership: adding one member is one modify of one value.
	staff := mustGroup(t, st, "staff")
	door(t, s, st, func(tx store.Tx) error {
		_, err := tx.AddMembers(context.Background(), staff.ID, []store.MemberRef{{ID: bob.ID}})
		return err
	})
	ds, _ = deliver(t, s)
	if len(ds) != 1 || len(ds[0].Ops) != 1 || ds[0].Ops[0] != "modify "+groupDN("staff")+" add member: uid=robert,"+ldaptest.PeopleDN {
		t.Fatalf("member add: %+v", ds)
	}
	if got := members(t, srv, groupDN("staff")); !slices.Contains(got, "uid=robert,"+ldaptest.PeopleDN) {
		t.Fatalf("staff members: %v", got)
	}

	// Deactivation writes the attribute active is read from.
	updateUser(t, s, st, bob.ID, func(u *store.User) { u.Active = false })
	deliver(t, s)
	if e := entry(t, srv, userDN("robert"), "employeeType"); e.GetAttributeValue("employeeType") != "FALSE" {
		t.Fatalf("deactivated robert's employeeType: %v", e.GetAttributeValues("employeeType"))
	}
	if rep := syncOnce(t, s, RunOptions{}); mustUser(t, st, "robert").Active || rep.Failed != 0 {
		t.Fatalf("inbound run after the deactivation: %s", rep.Summary())
	}

	// A delete removes the entry and the member values naming it.
	door(t, s, st, func(tx store.Tx) error { return tx.DeleteUser(context.Background(), bob.ID) })
	ds, _ = deliver(t, s)
	if !slices.Equal(outcomes(ds), []string{"user.delete:delivered"}) || entry(t, srv, userDN("robert")) != nil {
		t.Fatalf("delete: %+v", ds)
	}
	if got := members(t, srv, groupDN("staff")); slices.Contains(got, "uid=robert,"+ldaptest.PeopleDN) {
		t.Fatalf("staff still lists the deleted user: %v", got)
	}
	if es := pendingOutbox(t, st); len(es) != 0 {
		t.Fatalf("outbox after everything: %+v", es)
	}
}

// Groups: a group created through a door becomes a groupOfNames with its
// members; a rename is a modrdn; the last member removed leaves the empty
// placeholder groupOfNames needs; a delete removes the entry.
func TestWriteBackGroups(t *testing.T) {
	srv := writableServer(t, ldaptest.Options{})
	st := newStore(t)
	s := newSyncer(t, st, writeBackFor(t, srv))
	ann := createUser(t, s, st, &store.User{UserName: "ann", Active: true, Name: store.Name{FamilyName: "A"}})
	ben := createUser(t, s, st, &store.User{UserName: "ben", Active: true, Name: store.Name{FamilyName: "B"}})
	g := &store.Group{DisplayName: "dev", Members: []store.Member{{ID: ann.ID}}}
	door(t, s, st, func(tx store.Tx) error { return tx.CreateGroup(context.Background(), g) })
	empty := &store.Group{DisplayName: "empty"}
	door(t, s, st, func(tx store.Tx) error { return tx.CreateGroup(context.Background(), empty) })
	ds, rep := deliver(t, s)
	if rep.Failed != 0 || !slices.Equal(outcomes(ds), []string{"user.create:delivered", "user.create:delivered",
		"group.create:delivered", "group.members.add:delivered", "group.create:delivered"}) {
		t.Fatalf("deliveries: %+v", ds)
	}
	if got := members(t, srv, groupDN("dev")); !slices.Equal(got, []string{userDN("ann")}) {
		t.Fatalf("dev members: %v", got)
	}
	if got := members(t, srv, groupDN("empty")); !slices.Equal(got, []string{""}) {
		t.Fatalf("an empty groupOfNames holds %v, want the empty placeholder", got)
	}
	if l := mustGroup(t, st, "dev").Source; l.Name != "corp" || l.ID != entryUUID(t, srv, groupDN("dev")) {
		t.Fatalf("dev's link: %+v", l)
	}

	door(t, s, st, func(tx store.Tx) error {
		if _, err := tx.AddMembers(context.Background(), g.ID, []store.MemberRef{{ID: ben.ID}}); err != nil {
			return err
		}
		_, err := tx.UpdateGroup(context.Background(), g.ID, func(g *store.Group) error { g.DisplayName = "developers"; return nil })
		return err
	})
	deliver(t, s)
	uuid := entryUUID(t, srv, groupDN("developers"))
	if got := members(t, srv, groupDN("developers")); !slices.Equal(got, []string{userDN("ann"), userDN("ben")}) ||
		uuid != mustGroup(t, st, "developers").Source.ID {
		t.Fatalf("developers after the rename: %v", got)
	}

	door(t, s, st, func(tx store.Tx) error {
		_, err := tx.RemoveMembers(context.Background(), g.ID, []string{ann.ID, ben.ID})
		return err
	})
	ds, _ = deliver(t, s)
	if len(ds) != 1 || ds[0].Outcome != outcomeDelivered {
		t.Fatalf("removing both members (one modify): %+v", ds)
	}
	if got := members(t, srv, groupDN("developers")); !slices.Equal(got, []string{""}) {
		t.Fatalf("developers after its last member left: %v", got)
	}
	// The inbound sync reads the placeholder as no member.
	if rep := syncOnce(t, s, RunOptions{Full: true}); rep.Failed != 0 || rep.Unresolved != 0 || rep.MembershipChanges != 0 {
		t.Fatalf("inbound run: %s", rep.Summary())
	}

	door(t, s, st, func(tx store.Tx) error { return tx.DeleteGroup(context.Background(), g.ID) })
	deliver(t, s)
	if entry(t, srv, groupDN("developers")) != nil {
		t.Fatal("the deleted group is still in the directory")
	}
}

// An add whose DN is taken links to the entry when its link attribute
// (by default the one userName maps to) holds the user's value; another
// entry is never overwritten: the change is dead, reported, and an
// operator can retry it once the directory is put right.
func TestWriteBackConflictLinksOrReports(t *testing.T) {
	srv := writableServer(t, ldaptest.Options{LDIF: person("carol", "Carol", "C", "carol@example.com") +
		"dn: uid=dave," + ldaptest.PeopleDN + "\nobjectClass: inetOrgPerson\nuid: dave\nuid: david\ncn: D\nsn: D\n\n"})
	st := newStore(t)
	cfg := writeBackFor(t, srv)
	cfg.WriteBack.LinkAttribute = "mail"
	s := newSyncer(t, st, cfg)
	createUser(t, s, st, &store.User{UserName: "carol", Active: true, Emails: []store.Value{{Value: "carol@example.com", Primary: true}}})
	dave := createUser(t, s, st, &store.User{UserName: "dave", Active: true, Emails: []store.Value{{Value: "dave@example.com", Primary: true}}})
	ds, rep := deliver(t, s)
	if rep.Delivered != 1 || rep.Dead != 1 || ds[0].Note != "linked to the existing entry" {
		t.Fatalf("deliveries: %+v", ds)
	}
	if !strings.Contains(ds[1].Error, "already exists and its mail [] is not [dave@example.com]: not linked, not overwritten") {
		t.Fatalf("conflict error: %q", ds[1].Error)
	}
	if c := mustUser(t, st, "carol"); c.Source.ID != entryUUID(t, srv, userDN("carol")) {
		t.Fatalf("carol not linked: %+v", c.Source)
	}
	if e := entry(t, srv, userDN("carol"), "cn"); e.GetAttributeValue("cn") != "Carol C" {
		t.Fatalf("the linked entry was overwritten: %v", e.GetAttributeValues("cn"))
	}
	if e := entry(t, srv, userDN("dave"), "mail"); len(e.GetAttributeValues("mail")) != 0 {
		t.Fatal("the other entry was overwritten")
	}
	st0, err := s.WriteBackStatus(context.Background())
	if err != nil || st0.Dead != 1 || st0.Pending != 0 || !strings.Contains(st0.LastError, "not overwritten") {
		t.Fatalf("status: %+v %v", st0, err)
	}
	// A later change of dave waits behind the dead one: order holds.
	updateUser(t, s, st, dave.ID, func(u *store.User) { u.Title = "Boss" })
	if ds, _ := deliver(t, s); len(ds) != 0 {
		t.Fatalf("a change behind a dead one was delivered: %+v", ds)
	}
	// The operator removes the stray entry and retries.
	srv.Modify(t, "dn: uid=dave,"+ldaptest.PeopleDN+"\nchangetype: delete\n")
	if n, err := s.RetryDead(context.Background()); err != nil || n != 1 {
		t.Fatalf("retry: %d %v", n, err)
	}
	ds, rep = deliver(t, s)
	if rep.Delivered != 2 || rep.Failed != 0 {
		t.Fatalf("after the retry: %+v", ds)
	}
	if e := entry(t, srv, userDN("dave"), "title", "mail"); e.GetAttributeValue("title") != "Boss" || e.GetAttributeValue("mail") != "dave@example.com" {
		t.Fatalf("dave after the retry: %+v", e)
	}
}

// A directory outage blocks no door write and loses no change: the changes
// stay pending with their attempts untouched while the source backs off,
// and reach the directory in order once it is back.
func TestWriteBackDirectoryOutage(t *testing.T) {
	srv := writableServer(t, ldaptest.Options{})
	st := newStore(t)
	s := newSyncer(t, st, writeBackFor(t, srv))
	srv.Stop()
	u := createUser(t, s, st, &store.User{UserName: "erin", Active: true, Name: store.Name{FamilyName: "E"}})
	updateUser(t, s, st, u.ID, func(u *store.User) { u.Title = "First" })
	updateUser(t, s, st, u.ID, func(u *store.User) { u.Title = "Second" })

	ds, rep := deliver(t, s)
	if len(ds) != 0 || rep.Waiting != 3 {
		t.Fatalf("pass with the directory down: %+v %+v", ds, rep)
	}
	for _, e := range pendingOutbox(t, st) {
		if e.Attempts != 0 || e.Dead {
			t.Fatalf("an outage counted against a change: %+v", e)
		}
	}
	status, err := s.WriteBackStatus(context.Background())
	if err != nil || status.Pending != 3 || status.OldestSeconds < 0 || status.Sources[0].ConsecutiveFailures != 1 ||
		!strings.Contains(status.Sources[0].LastError, "connect") {
		t.Fatalf("status during the outage: %+v %v", status, err)
	}

	srv.Start()
	waitFor(t, 5*time.Second, "the backoff to pass", func() bool { return time.Now().After(status.Sources[0].RetryAt) })
	ds, _ = deliver(t, s)
	if !slices.Equal(outcomes(ds), []string{"user.create:delivered", "user.update:delivered", "user.update:delivered"}) {
		t.Fatalf("after the outage: %+v", ds)
	}
	if e := entry(t, srv, userDN("erin"), "title"); e.GetAttributeValue("title") != "Second" {
		t.Fatalf("erin's title = %v, want the last change", e.GetAttributeValues("title"))
	}
	if status, _ := s.WriteBackStatus(context.Background()); status.Pending != 0 || status.Sources[0].ConsecutiveFailures != 0 {
		t.Fatalf("status after the outage: %+v", status)
	}
}

// failingAcks is a store whose write-back commits fail while armed: a
// crash between the directory write and the ack.
type failingAcks struct {
	store.Store
	armed bool
}

func (f *failingAcks) Write(ctx context.Context, actor store.Actor, fn func(tx store.Tx) error) error {
	if f.armed && actor == writeBackActor {
		return store.Errorf(store.KindUnavailable, "disk gone")
	}
	return f.Store.Write(ctx, actor, fn)
}

// A change written to the directory but not acked (a crash between the
// two) is written again, safely: the member added again under the DN the
// store still knows is renamed again by the rename that follows it, the
// rename finds its entry renamed already; nothing is left twice or stale.
func TestWriteBackRedeliveryIsIdempotent(t *testing.T) {
	srv := writableServer(t, ldaptest.Options{})
	st := &failingAcks{Store: newStore(t)}
	s := newSyncer(t, st, writeBackFor(t, srv))
	fay := createUser(t, s, st, &store.User{UserName: "fay", Active: true, Name: store.Name{FamilyName: "F"}})
	g := &store.Group{DisplayName: "ops"}
	door(t, s, st, func(tx store.Tx) error { return tx.CreateGroup(context.Background(), g) })
	deliver(t, s)
	door(t, s, st, func(tx store.Tx) error {
		_, err := tx.AddMembers(context.Background(), g.ID, []store.MemberRef{{ID: fay.ID}})
		return err
	})
	updateUser(t, s, st, fay.ID, func(u *store.User) { u.UserName = "faye" })

	st.armed = true
	if _, err := s.DeliverOnce(context.Background(), DeliverOptions{}); err == nil {
		t.Fatal("a pass whose acks fail succeeded")
	}
	if got := members(t, srv, groupDN("ops")); !slices.Contains(got, userDN("faye")) || entry(t, srv, userDN("faye")) == nil {
		t.Fatalf("the directory writes did not happen: members %v", got)
	}
	st.armed = false
	ds, rep := deliver(t, s)
	if rep.Failed != 0 || rep.Delivered != 2 {
		t.Fatalf("redelivery: %+v", ds)
	}
	if got := members(t, srv, groupDN("ops")); !slices.Equal(got, []string{"", userDN("faye")}) {
		t.Fatalf("ops members after redelivery: %v", got)
	}
	if es := pendingOutbox(t, st); len(es) != 0 {
		t.Fatalf("outbox after redelivery: %+v", es)
	}

	// An add done but not acked finds its own entry and links it.
	gus := createUser(t, s, st, &store.User{UserName: "gus", Active: true, Name: store.Name{FamilyName: "G"}})
	st.armed = true
	if _, err := s.DeliverOnce(context.Background(), DeliverOptions{}); err == nil {
		t.Fatal("a pass whose acks fail succeeded")
	}
	st.armed = false
	ds, _ = deliver(t, s)
	if len(ds) != 1 || ds[0].Outcome != outcomeDelivered || ds[0].Note != "linked to the existing entry" {
		t.Fatalf("redelivered add: %+v", ds)
	}
	if got := mustUser(t, st, "gus"); got.ID != gus.ID || got.Source.ID != entryUUID(t, srv, userDN("gus")) {
		t.Fatalf("gus's link: %+v", got.Source)
	}
}

// Active Directory, on slapd with the AD mini schema standing in: a new
// user is a `user` with sAMAccountName and userAccountControl (created
// disabled, given its unicodePwd over StartTLS, then enabled), a
// deactivation sets ACCOUNTDISABLE and keeps the other bits. slapd stores
// unicodePwd as given; that AD takes it as the password, applies its
// policy and assigns objectGUID only a real AD shows (see README.md).
func TestWriteBackActiveDirectory(t *testing.T) {
	files := ldaptest.NewCA(t)
	srv := writableServer(t, ldaptest.Options{ADSchema: true, TLS: files})
	st := newStore(t)
	cfg := writeBackFor(t, srv)
	cfg.Preset, cfg.StartTLS, cfg.CAFile = PresetActiveDirectory, true, files.CAFile
	// slapd assigns no objectGUID and keeps no uSNChanged.
	cfg.IDAttribute, cfg.ChangeDetection = "entryUUID", DetectEntryCSN
	s := newSyncer(t, st, cfg)
	hal := createUser(t, s, st, &store.User{UserName: "hal", DisplayName: "Hal Jordan", Active: true,
		Name: store.Name{GivenName: "Hal", FamilyName: "Jordan"}, Emails: []store.Value{{Value: "hal@example.com", Primary: true}},
		PasswordHash: "$argon2id$x", NewPassword: "Gr33n!Lantern"})
	ds, rep := deliver(t, s)
	if rep.Delivered != 1 || len(ds[0].Ops) != 3 || !strings.Contains(ds[0].Ops[0], "userAccountControl=[514]") ||
		!strings.Contains(ds[0].Ops[1], "unicodePwd: [redacted]") || !strings.Contains(ds[0].Ops[2], "userAccountControl: 512") {
		t.Fatalf("AD create: %+v", ds)
	}
	dn := "CN=Hal Jordan," + ldaptest.PeopleDN
	e := entry(t, srv, dn, "objectClass", "sAMAccountName", "userAccountControl", "unicodePwd", "mail")
	if e == nil || e.GetAttributeValue("sAMAccountName") != "hal" || e.GetAttributeValue("userAccountControl") != "512" ||
		!slices.Contains(e.GetAttributeValues("objectClass"), "user") || e.GetAttributeValue("mail") != "hal@example.com" {
		t.Fatalf("AD entry: %+v", e)
	}
	if got := e.GetRawAttributeValue("unicodePwd"); string(got) != unicodePwd(`Gr33n!Lantern`) || len(got) != 2*len(`"Gr33n!Lantern"`) {
		t.Fatalf("unicodePwd = %q, want the quoted password in UTF-16LE", got)
	}
	// Other bits of userAccountControl stay when ACCOUNTDISABLE flips.
	srv.Modify(t, "dn: "+dn+"\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 66048\n") // + DONT_EXPIRE_PASSWORD
	updateUser(t, s, st, hal.ID, func(u *store.User) { u.Active = false })
	deliver(t, s)
	if got := entry(t, srv, dn, "userAccountControl").GetAttributeValue("userAccountControl"); got != "66050" {
		t.Fatalf("userAccountControl after deactivation = %s, want 66050", got)
	}
	if rep := syncOnce(t, s, RunOptions{}); mustUser(t, st, "hal").Active || rep.Failed != 0 {
		t.Fatalf("inbound run: %s %+v", rep.Summary(), rep.Errors)
	}
	updateUser(t, s, st, hal.ID, func(u *store.User) { u.Active = true })
	deliver(t, s)
	if got := entry(t, srv, dn, "userAccountControl").GetAttributeValue("userAccountControl"); got != "66048" {
		t.Fatalf("userAccountControl after activation = %s, want 66048", got)
	}
}

// unicodePwd only travels encrypted: without TLS the change is refused,
// dead, and nothing is sent.
func TestWriteBackUnicodePwdNeedsTLS(t *testing.T) {
	srv := writableServer(t, ldaptest.Options{ADSchema: true})
	st := newStore(t)
	cfg := writeBackFor(t, srv)
	cfg.Preset, cfg.IDAttribute, cfg.ChangeDetection = PresetActiveDirectory, "entryUUID", DetectEntryCSN
	s := newSyncer(t, st, cfg)
	createUser(t, s, st, &store.User{UserName: "ivy", Active: true, Name: store.Name{FamilyName: "I"},
		PasswordHash: "$argon2id$x", NewPassword: "plain"})
	ds, rep := deliver(t, s)
	if rep.Dead != 1 || !strings.Contains(ds[0].Error, "only over LDAPS or StartTLS") {
		t.Fatalf("unicodePwd over plain LDAP: %+v", ds)
	}
	if e := entry(t, srv, "CN=ivy,"+ldaptest.PeopleDN, "unicodePwd", "userAccountControl"); e == nil ||
		len(e.GetRawAttributeValue("unicodePwd")) != 0 || e.GetAttributeValue("userAccountControl") != "514" {
		t.Fatalf("entry: %+v", e)
	}
}

// write_back.doors limits what is written to the listed doors' changes;
// deactivate: move and on_delete: move take entries to containers
// (outside users.base_dn, so the inbound sync lets them go).
func TestWriteBackDoorsAndMoves(t *testing.T) {
	srv := writableServer(t, ldaptest.Options{LDIF: "dn: ou=disabled," + ldaptest.Suffix + "\nobjectClass: organizationalUnit\nou: disabled\n\n" +
		"dn: ou=deleted," + ldaptest.Suffix + "\nobjectClass: organizationalUnit\nou: deleted\n\n"})
	st := newStore(t)
	cfg := writeBackFor(t, srv)
	cfg.WriteBack.Doors = []string{"scim"}
	cfg.WriteBack.Deactivate, cfg.WriteBack.DeactivateContainer = MethodMove, "ou=disabled,"+ldaptest.Suffix
	cfg.WriteBack.OnDelete, cfg.WriteBack.DeleteContainer = MethodMove, "ou=deleted,"+ldaptest.Suffix
	s := newSyncer(t, st, cfg)
	mia := createUser(t, s, st, &store.User{UserName: "mia", Active: true, Name: store.Name{FamilyName: "M"}})
	if err := s.DoorStore(st).Write(context.Background(), store.Actor{Door: "xyops", Principal: "admin"}, func(tx store.Tx) error {
		return tx.CreateUser(context.Background(), &store.User{UserName: "ned", Active: true})
	}); err != nil {
		t.Fatal(err)
	}
	ds, _ := deliver(t, s)
	if !slices.Equal(outcomes(ds), []string{"user.create:delivered", "user.create:skipped"}) || ds[1].Note != "door xyops is not in write_back.doors" {
		t.Fatalf("deliveries: %+v", ds)
	}
	if entry(t, srv, userDN("ned")) != nil {
		t.Fatal("a change of a door not listed was written")
	}
	uuid := entryUUID(t, srv, userDN("mia"))
	updateUser(t, s, st, mia.ID, func(u *store.User) { u.Active = false })
	deliver(t, s)
	moved := "uid=mia,ou=disabled," + ldaptest.Suffix
	if entry(t, srv, userDN("mia")) != nil || entryUUID(t, srv, moved) != uuid || !strings.EqualFold(mustUser(t, st, "mia").Source.DN, moved) {
		t.Fatalf("deactivation did not move mia: link %+v", mustUser(t, st, "mia").Source)
	}
	updateUser(t, s, st, mia.ID, func(u *store.User) { u.Active = true })
	deliver(t, s)
	if entryUUID(t, srv, userDN("mia")) != uuid {
		t.Fatal("activation did not move mia back")
	}
	door(t, s, st, func(tx store.Tx) error { return tx.DeleteUser(context.Background(), mia.ID) })
	deliver(t, s)
	if entry(t, srv, userDN("mia")) != nil || entryUUID(t, srv, "uid=mia,ou=deleted,"+ldaptest.Suffix) != uuid {
		t.Fatal("delete did not move mia to ou=deleted")
	}
}

// A user that predates write-back reaches the directory with its first
// change after write-back is on; before that, nothing is recorded.
func TestWriteBackProvisionsOnFirstChange(t *testing.T) {
	srv := writableServer(t, ldaptest.Options{})
	st := newStore(t)
	plain := newSyncer(t, st, sourceFor(srv)) // no write-back: the store records nothing
	old := createUser(t, plain, st, &store.User{UserName: "ola", Active: true, Name: store.Name{FamilyName: "O"}})
	if es := pendingOutbox(t, st); len(es) != 0 {
		t.Fatalf("outbox without write-back: %+v", es)
	}
	s := newSyncer(t, st, writeBackFor(t, srv))
	updateUser(t, s, st, old.ID, func(u *store.User) { u.Title = "Veteran" })
	ds, _ := deliver(t, s)
	if len(ds) != 1 || ds[0].Outcome != outcomeDelivered || !strings.HasPrefix(ds[0].Ops[0], "add uid=ola,") {
		t.Fatalf("first change: %+v", ds)
	}
	if e := entry(t, srv, userDN("ola"), "title"); e == nil || e.GetAttributeValue("title") != "Veteran" {
		t.Fatalf("entry: %+v", e)
	}
	// Without write-back again, the store stops recording.
	newSyncer(t, st, sourceFor(srv))
	updateUser(t, plain, st, old.ID, func(u *store.User) { u.Title = "Retired" })
	if es := pendingOutbox(t, st); len(es) != 0 {
		t.Fatalf("outbox after write-back was turned off: %+v", es)
	}
}
