package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

func write(t *testing.T, s store.Store, a store.Actor, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Write(ctx(), a, fn); err != nil {
		t.Fatal(err)
	}
}

func outbox(t *testing.T, s store.Store) []store.OutboxEntry {
	t.Helper()
	es, err := s.ListOutbox(ctx(), store.OutboxQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func actions(es []store.OutboxEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Action)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// testOutbox: while the outbox is on, every change of a door (not the
// directory sync's) adds an entry with the resource before and after, in
// the change's transaction; readers ack, defer and revive entries.
func testOutbox(t *testing.T, s store.Store) {
	CreateUser(t, s, &store.User{UserName: "before"})
	if es := outbox(t, s); len(es) != 0 {
		t.Fatalf("outbox off, yet %d entries", len(es))
	}
	write(t, s, actor, func(tx store.Tx) error { return tx.SetOutbox(ctx(), true) })
	if st, err := s.OutboxStats(ctx()); err != nil || !st.Enabled || st.Pending != 0 {
		t.Fatalf("stats after enabling: %+v %v", st, err)
	}

	scim := store.Actor{Door: "scim", Principal: "okta"}
	u := &store.User{UserName: "alice", Active: true, Name: store.Name{GivenName: "Alice"}}
	write(t, s, scim, func(tx store.Tx) error { return tx.CreateUser(ctx(), u) })
	write(t, s, scim, func(tx store.Tx) error {
		_, err := tx.UpdateUser(ctx(), u.ID, func(u *store.User) error {
			u.Name.GivenName, u.Active, u.PasswordHash = "Alicia", false, "$argon2id$fake"
			return nil
		})
		return err
	})
	// The directory sync's own changes are not recorded.
	write(t, s, store.Actor{Door: "ldapsync", Principal: "corp"}, func(tx store.Tx) error {
		_, err := tx.UpdateUser(ctx(), u.ID, func(u *store.User) error {
			u.Source = store.Source{Name: "corp", ID: "uuid-1", DN: "uid=alice,dc=x"}
			return nil
		})
		return err
	})
	g := &store.Group{DisplayName: "dev"}
	write(t, s, scim, func(tx store.Tx) error {
		if err := tx.CreateGroup(ctx(), g); err != nil {
			return err
		}
		_, err := tx.AddMembers(ctx(), g.ID, []store.MemberRef{{ID: u.ID}})
		return err
	})
	write(t, s, scim, func(tx store.Tx) error {
		if _, err := tx.UpdateGroup(ctx(), g.ID, func(g *store.Group) error { g.DisplayName = "devs"; return nil }); err != nil {
			return err
		}
		if _, err := tx.RemoveMembers(ctx(), g.ID, []string{u.ID}); err != nil {
			return err
		}
		return tx.DeleteGroup(ctx(), g.ID)
	})
	write(t, s, scim, func(tx store.Tx) error { return tx.DeleteUser(ctx(), u.ID) })
	// A change that rolls back leaves no entry.
	failed := errors.New("no")
	if err := s.Write(ctx(), scim, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx(), &store.User{UserName: "ghost"}); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatal(err)
	}

	es := outbox(t, s)
	want := []string{"user.create", "user.deactivate", "password.change", "group.create", "group.members.add",
		"group.update", "group.members.remove", "group.delete", "user.delete"}
	if got := actions(es); !equal(got, want) {
		t.Fatalf("outbox actions = %v, want %v", got, want)
	}
	for i := 1; i < len(es); i++ {
		if es[i].Seq <= es[i-1].Seq {
			t.Fatalf("entries out of order: %d after %d", es[i].Seq, es[i-1].Seq)
		}
	}
	create, update, gcreate, add, rename, remove, gdelete, del := es[0], es[1], es[3], es[4], es[5], es[6], es[7], es[8]
	if create.Actor != scim || create.UserBefore != nil || create.User == nil || create.User.ID != u.ID ||
		create.User.Name.GivenName != "Alice" || !create.User.Active || create.ResourceID != u.ID || create.Object() != "User/"+u.ID {
		t.Fatalf("create entry: %+v user %+v", create, create.User)
	}
	if update.UserBefore == nil || update.UserBefore.Name.GivenName != "Alice" || !update.UserBefore.Active ||
		update.User.Name.GivenName != "Alicia" || update.User.Active {
		t.Fatalf("update entry: before %+v after %+v", update.UserBefore, update.User)
	}
	if update.User.PasswordHash != "" {
		t.Fatal("an outbox entry carries the password hash")
	}
	if gcreate.Group == nil || gcreate.Group.DisplayName != "dev" || gcreate.GroupBefore != nil {
		t.Fatalf("group create entry: %+v", gcreate)
	}
	if m := add.Member; m == nil || m.Type != store.MemberUser || m.ID != u.ID || m.Name != "alice" ||
		m.Source.ID != "uuid-1" || !m.Inactive || add.Object() != "Group/"+g.ID {
		t.Fatalf("member add entry: %+v member %+v", add, add.Member)
	}
	if rename.GroupBefore == nil || rename.GroupBefore.DisplayName != "dev" || rename.Group.DisplayName != "devs" {
		t.Fatalf("group rename entry: before %+v after %+v", rename.GroupBefore, rename.Group)
	}
	if remove.Member == nil || remove.Member.ID != u.ID {
		t.Fatalf("member remove entry: %+v", remove)
	}
	if gdelete.GroupBefore == nil || gdelete.GroupBefore.DisplayName != "devs" || gdelete.Group != nil {
		t.Fatalf("group delete entry: %+v", gdelete)
	}
	// The delete remembers the directory link it had.
	if del.UserBefore == nil || del.UserBefore.Source.ID != "uuid-1" || del.User != nil {
		t.Fatalf("delete entry: %+v", del)
	}

	// Acks remove; a failed attempt is deferred, and dead after the last.
	write(t, s, actor, func(tx store.Tx) error { return tx.AckOutbox(ctx(), create.Seq, update.Seq) })
	next := time.Now().Add(time.Minute).UTC().Truncate(time.Microsecond)
	write(t, s, actor, func(tx store.Tx) error {
		if err := tx.DeferOutbox(ctx(), gcreate.Seq, "busy", next, false); err != nil {
			return err
		}
		return tx.DeferOutbox(ctx(), add.Seq, "schema violation", next, true)
	})
	if err := s.Write(ctx(), actor, func(tx store.Tx) error { return tx.DeferOutbox(ctx(), 1<<40, "x", next, false) }); !store.IsNotFound(err) {
		t.Fatalf("defer of an unknown entry: %v", err)
	}
	es = outbox(t, s)
	if len(es) != 7 || es[1].Attempts != 1 || es[1].LastError != "busy" || !es[1].NextAttempt.Equal(next) || es[1].Dead || !es[2].Dead {
		t.Fatalf("after ack and defer: %+v", es[:3])
	}
	st, err := s.OutboxStats(ctx())
	if err != nil || st.Pending != 6 || st.Dead != 1 || st.Oldest.IsZero() || st.LastError != "schema violation" || st.LastErrorSeq != add.Seq {
		t.Fatalf("stats: %+v %v", st, err)
	}
	dead, err := s.ListOutbox(ctx(), store.OutboxQuery{Dead: true})
	if err != nil || len(dead) != 1 || dead[0].Seq != add.Seq {
		t.Fatalf("dead entries: %+v %v", dead, err)
	}
	var revived int
	write(t, s, actor, func(tx store.Tx) error {
		var err error
		revived, err = tx.RetryOutbox(ctx())
		return err
	})
	if es := outbox(t, s); revived != 1 || es[2].Dead || es[2].Attempts != 0 || !es[2].NextAttempt.IsZero() {
		t.Fatalf("retry revived %d: %+v", revived, es[2])
	}
	page, err := s.ListOutbox(ctx(), store.OutboxQuery{AfterSeq: es[2].Seq, Limit: 2})
	if err != nil || len(page) != 2 || page[0].Seq != es[3].Seq {
		t.Fatalf("page after %d: %+v %v", es[2].Seq, page, err)
	}
	// Off: nothing more is recorded, and what is there stays.
	write(t, s, actor, func(tx store.Tx) error { return tx.SetOutbox(ctx(), false) })
	CreateUser(t, s, &store.User{UserName: "after"})
	if n := len(outbox(t, s)); n != 7 {
		t.Fatalf("outbox has %d entries after turning it off, want 7", n)
	}
}

// testOutboxExternalID: the entries carry the default provisioning
// domain's externalId (kept apart from the resource since migration 0010
// in SQLite), before and after a change of it alone; a create has no
// before even though its externalId is written after its row.
func testOutboxExternalID(t *testing.T, s store.Store) {
	write(t, s, actor, func(tx store.Tx) error { return tx.SetOutbox(ctx(), true) })
	scim := store.Actor{Door: "scim", Principal: "okta"}
	u := &store.User{UserName: "alice", ExternalID: "okta-1", Active: true}
	g := &store.Group{DisplayName: "dev", ExternalID: "grp-1"}
	write(t, s, scim, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx(), u); err != nil {
			return err
		}
		return tx.CreateGroup(ctx(), g)
	})
	write(t, s, scim, func(tx store.Tx) error {
		if _, err := tx.UpdateUser(ctx(), u.ID, func(u *store.User) error { u.ExternalID = "okta-2"; return nil }); err != nil {
			return err
		}
		_, err := tx.UpdateGroup(ctx(), g.ID, func(g *store.Group) error { g.ExternalID = ""; return nil })
		return err
	})
	es := outbox(t, s)
	if got, want := actions(es), []string{"user.create", "group.create", "user.update", "group.update"}; !equal(got, want) {
		t.Fatalf("outbox actions = %v, want %v", got, want)
	}
	if c := es[0]; c.UserBefore != nil || c.User == nil || c.User.ExternalID != "okta-1" {
		t.Fatalf("user create entry: before %+v after %+v", c.UserBefore, c.User)
	}
	if c := es[1]; c.GroupBefore != nil || c.Group == nil || c.Group.ExternalID != "grp-1" {
		t.Fatalf("group create entry: before %+v after %+v", c.GroupBefore, c.Group)
	}
	if e := es[2]; e.UserBefore == nil || e.UserBefore.ExternalID != "okta-1" || e.User == nil || e.User.ExternalID != "okta-2" {
		t.Fatalf("user externalId change: before %+v after %+v", e.UserBefore, e.User)
	}
	if e := es[3]; e.GroupBefore == nil || e.GroupBefore.ExternalID != "grp-1" || e.Group == nil || e.Group.ExternalID != "" {
		t.Fatalf("group externalId removal: before %+v after %+v", e.GroupBefore, e.Group)
	}
}

// testOutboxDomains: a client of another provisioning domain changes and
// deletes resources; the entries carry the default domain's externalId
// (the directory's), never that client's.
func testOutboxDomains(t *testing.T, s store.Store) {
	u := &store.User{UserName: "alice", ExternalID: "okta-1", Active: true}
	g := &store.Group{DisplayName: "dev", ExternalID: "grp-1"}
	write(t, s, actor, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx(), u); err != nil {
			return err
		}
		return tx.CreateGroup(ctx(), g)
	})
	write(t, s, actor, func(tx store.Tx) error { return tx.SetOutbox(ctx(), true) })
	azure := store.WithDomain(ctx(), "azure")
	client := store.Actor{Door: "scim", Principal: "azure"}
	write(t, s, client, func(tx store.Tx) error {
		if _, err := tx.UpdateUser(azure, u.ID, func(u *store.User) error {
			u.ExternalID, u.DisplayName = "az-1", "Alice A"
			return nil
		}); err != nil {
			return err
		}
		if _, err := tx.UpdateGroup(azure, g.ID, func(g *store.Group) error {
			g.ExternalID, g.DisplayName = "az-g", "devs"
			return nil
		}); err != nil {
			return err
		}
		return nil
	})
	write(t, s, client, func(tx store.Tx) error {
		if err := tx.DeleteGroup(azure, g.ID); err != nil {
			return err
		}
		return tx.DeleteUser(azure, u.ID)
	})
	es := outbox(t, s)
	if got, want := actions(es), []string{"user.update", "group.update", "group.delete", "user.delete"}; !equal(got, want) {
		t.Fatalf("outbox actions = %v, want %v", got, want)
	}
	if e := es[0]; e.UserBefore == nil || e.UserBefore.ExternalID != "okta-1" || e.User == nil || e.User.ExternalID != "okta-1" ||
		e.User.DisplayName != "Alice A" {
		t.Fatalf("user update in another domain: before %+v after %+v", e.UserBefore, e.User)
	}
	if e := es[1]; e.GroupBefore == nil || e.GroupBefore.ExternalID != "grp-1" || e.Group == nil || e.Group.ExternalID != "grp-1" ||
		e.Group.DisplayName != "devs" {
		t.Fatalf("group update in another domain: before %+v after %+v", e.GroupBefore, e.Group)
	}
	if e := es[2]; e.GroupBefore == nil || e.GroupBefore.ExternalID != "grp-1" {
		t.Fatalf("group delete in another domain: before %+v", e.GroupBefore)
	}
	if e := es[3]; e.UserBefore == nil || e.UserBefore.ExternalID != "okta-1" {
		t.Fatalf("user delete in another domain: before %+v", e.UserBefore)
	}
}
