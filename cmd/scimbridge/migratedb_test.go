package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/postgres"
	"github.com/scimbridge/scimbridge/store/postgres/pgtest"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// TestMigrateDBCopiesEverything makes a SQLite database through the store
// (users with e-mails and a password, externalIds in two provisioning
// domains, nested groups, credentials, the activity log, a deleted user's
// history, objects such as the directory sync state), copies it with
// migrate-db into an empty PostgreSQL database, and reads every part back
// through the PostgreSQL store; new keys continue above every key SQLite
// ever gave, a deleted one's included; a second run into the filled
// database is refused.
func TestMigrateDBCopiesEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	src, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	actor := store.Actor{Door: "test", Principal: "migrate"}
	var ann, bob *store.User
	var inner, outer *store.Group
	var cred *store.Credential
	var gone *store.User
	if err := src.Write(ctx, actor, func(tx store.Tx) error {
		ann = &store.User{UserName: "Ann@Example.com", ExternalID: "ext-ann", Active: true, DisplayName: "Ann",
			PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
			Emails:       []store.Value{{Value: "ann@example.com", Type: "work", Primary: true}, {Value: "a@home.example"}},
			Enterprise:   &store.Enterprise{Department: "Tours"},
			Source:       store.Source{Name: "corp", ID: "uuid-ann", DN: "uid=ann,ou=people,dc=example,dc=com"}}
		bob = &store.User{UserName: "bob"}
		for _, u := range []*store.User{ann, bob} {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		gone = &store.User{UserName: "leaver", Emails: []store.Value{{Value: "leaver@example.com"}}}
		if err := tx.CreateUser(ctx, gone); err != nil {
			return err
		}
		for i := range 30 {
			if err := tx.CreateUser(ctx, &store.User{UserName: fmt.Sprintf("filler%02d", i)}); err != nil {
				return err
			}
		}
		inner = &store.Group{DisplayName: "Inner", ExternalID: "g-in", Members: []store.Member{{ID: ann.ID}, {ID: bob.ID}}}
		if err := tx.CreateGroup(ctx, inner); err != nil {
			return err
		}
		outer = &store.Group{DisplayName: "Outer", Members: []store.Member{{ID: inner.ID, Type: store.MemberGroup}}}
		if err := tx.CreateGroup(ctx, outer); err != nil {
			return err
		}
		cred = &store.Credential{Kind: "scim-token", Name: "okta", SecretHash: strings.Repeat("ab", 32),
			Scopes: []string{"read", "write"}, Expires: time.Now().Add(time.Hour).Truncate(time.Microsecond)}
		if err := tx.CreateCredential(ctx, cred); err != nil {
			return err
		}
		if err := tx.PutObject(ctx, &store.Object{Kind: "ldapsync.state", Name: "corp", Doc: []byte(`{"watermark":"20240101000000Z"}`)}, 0); err != nil {
			return err
		}
		return tx.Record(ctx, store.Activity{Action: "login.fail", ResourceType: "User", ResourceID: bob.ID, ResourceKey: bob.Key, UserKey: bob.Key})
	}); err != nil {
		t.Fatal(err)
	}
	entra := store.WithDomain(ctx, "entra")
	if err := src.Write(entra, actor, func(tx store.Tx) error {
		_, err := tx.UpdateUser(entra, ann.ID, func(u *store.User) error { u.ExternalID = "8aa1-entra"; return nil })
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// The newest user deleted: its key must not be handed out again.
	var last *store.User
	if err := src.Write(ctx, actor, func(tx store.Tx) error {
		last = &store.User{UserName: "newest"}
		return tx.CreateUser(ctx, last)
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{gone.ID, last.ID} {
		if err := src.Write(ctx, actor, func(tx store.Tx) error { return tx.DeleteUser(ctx, id) }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := func() (*store.User, error) {
		var out *store.User
		err := src.Write(ctx, actor, func(tx store.Tx) (err error) {
			out, err = tx.UpdateUser(ctx, bob.ID, func(u *store.User) error { u.Title = "v2"; return nil })
			return err
		})
		return out, err
	}(); err != nil {
		t.Fatal(err)
	}
	wantAnn, err := src.GetUser(ctx, ann.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Two names that were apart before RFC 8265 keys: SQLite's migration
	// parked the younger under its key, NUL and its number (made by hand
	// here), which PostgreSQL text cannot hold.
	for _, name := range []string{"ärne", "parked-tmp"} {
		if err := src.Write(ctx, actor, func(tx store.Tx) error { return tx.CreateUser(ctx, &store.User{UserName: name}) }); err != nil {
			t.Fatal(err)
		}
	}
	// Write-back on: two changes wait in the outbox, the first after a
	// failed attempt.
	var fill00, fill01 *store.User
	next := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	if err := src.Write(ctx, actor, func(tx store.Tx) error {
		if err := tx.SetOutbox(ctx, true); err != nil {
			return err
		}
		var err error
		if fill00, err = tx.GetUserByUserName(ctx, "filler00"); err != nil {
			return err
		}
		if fill01, err = tx.GetUserByUserName(ctx, "filler01"); err != nil {
			return err
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := src.Write(ctx, actor, func(tx store.Tx) error {
		if _, err := tx.UpdateUser(ctx, fill00.ID, func(u *store.User) error { u.DisplayName = "Filler"; return nil }); err != nil {
			return err
		}
		return tx.DeleteUser(ctx, fill01.ID)
	}); err != nil {
		t.Fatal(err)
	}
	wantBox, err := src.ListOutbox(ctx, store.OutboxQuery{})
	if err != nil || len(wantBox) != 2 {
		t.Fatalf("source outbox: %+v %v", wantBox, err)
	}
	if err := src.Write(ctx, actor, func(tx store.Tx) error {
		return tx.DeferOutbox(ctx, wantBox[0].Seq, "busy", next, false)
	}); err != nil {
		t.Fatal(err)
	}
	wantUsers, _ := src.ListUsers(ctx, store.Query{Limit: 0})
	_, wantActs, _ := src.ListActivity(ctx, store.ActivityQuery{Limit: 1})
	src.Close()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE users SET user_name = 'ÄRNE', user_name_key = 'ärne' || char(0) || key,
 doc = json_set(doc, '$.userName', 'ÄRNE') WHERE user_name = 'parked-tmp'`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	cluster := pgtest.Start(t)
	url := cluster.NewDatabase(t)
	var out bytes.Buffer
	if err := run(ctx, []string{"migrate-db", "--from", path, "--to", url}, &out, &out); err != nil {
		t.Fatalf("migrate-db: %v\n%s", err, out.String())
	}
	t.Log(out.String())

	dst, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	got, err := dst.GetUserByUserName(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != ann.ID || got.Key != ann.Key || got.ExternalID != "ext-ann" || got.PasswordHash != ann.PasswordHash ||
		got.Source != ann.Source || got.Enterprise == nil || got.Enterprise.Department != "Tours" ||
		!got.Meta.Created.Equal(wantAnn.Meta.Created) || !got.Meta.LastModified.Equal(wantAnn.Meta.LastModified) ||
		got.Meta.Version != wantAnn.Meta.Version || len(got.Groups) != 2 {
		t.Fatalf("ann after migration: %+v", got)
	}
	for name, want := range map[string]string{"ÄRNE": "ÄRNE", "ärne": "ärne", "Ärne": "ärne"} {
		if u, err := dst.GetUserByUserName(ctx, name); err != nil || u.UserName != want {
			t.Fatalf("GetUserByUserName(%q) after migration: %+v %v, want %s", name, u, err, want)
		}
	}
	if e, err := dst.GetUser(entra, ann.ID); err != nil || e.ExternalID != "8aa1-entra" {
		t.Fatalf("ann in the entra domain after migration: %+v %v", e, err)
	}
	if p, err := dst.ListUsers(entra, store.Query{Limit: 10, Filter: store.Compare{Attr: "externalId", Op: store.OpEq, Value: "8aa1-entra"}}); err != nil || p.Total != 1 {
		t.Fatalf("externalId eq in the entra domain after migration: %+v %v", p, err)
	}
	if hist, n, err := dst.ListActivity(ctx, store.ActivityQuery{UserID: gone.ID}); err != nil || n != 2 || hist[0].Action != "user.delete" {
		t.Fatalf("the deleted user's history by id after migration: %+v (%d) %v", hist, n, err)
	}
	if b, _ := dst.GetUser(ctx, bob.ID); b.Title != "v2" || b.Meta.Version != 3 { // created, joined Inner, updated
		t.Fatalf("bob after migration: %+v", b)
	}
	page, err := dst.ListUsers(ctx, store.Query{Limit: 10, Filter: store.Compare{Attr: "emails.value", Op: store.OpEq, Value: "A@HOME.example"}})
	if err != nil || page.Total != 1 {
		t.Fatalf("e-mail lookup after migration: %+v %v", page, err)
	}
	if all, _ := dst.ListUsers(ctx, store.Query{Limit: 0}); all.Total != wantUsers.Total {
		t.Fatalf("%d users, want %d", all.Total, wantUsers.Total)
	}
	g, err := dst.GetGroup(ctx, inner.ID, true)
	if err != nil || len(g.Members) != 2 || g.ExternalID != "g-in" {
		t.Fatalf("group after migration: %+v %v", g, err)
	}
	c, err := dst.FindCredential(ctx, "scim-token", cred.SecretHash)
	if err != nil || c.Name != "okta" || len(c.Scopes) != 2 || !c.Expires.Equal(cred.Expires) {
		t.Fatalf("credential after migration: %+v %v", c, err)
	}
	o, err := dst.GetObject(ctx, "ldapsync.state", "corp")
	if err != nil || string(o.Doc) != `{"watermark":"20240101000000Z"}` || o.Version != 1 {
		t.Fatalf("sync state after migration: %+v %v", o, err)
	}
	acts, total, _ := dst.ListActivity(ctx, store.ActivityQuery{UserID: bob.ID})
	if _, all, _ := dst.ListActivity(ctx, store.ActivityQuery{Limit: 1}); all != wantActs || total == 0 || acts[0].Action != "user.update" {
		t.Fatalf("activity after migration: %d entries (want %d), bob's: %+v", all, wantActs, acts)
	}
	box, err := dst.ListOutbox(ctx, store.OutboxQuery{})
	if err != nil || len(box) != 2 {
		t.Fatalf("outbox after migration: %+v %v", box, err)
	}
	if e := box[0]; e.Seq != wantBox[0].Seq || e.Action != "user.update" || e.Actor != actor || e.Attempts != 1 ||
		e.LastError != "busy" || !e.NextAttempt.Equal(next) || e.UserBefore == nil || e.UserBefore.DisplayName != "" ||
		e.User == nil || e.User.DisplayName != "Filler" || e.User.ID != fill00.ID || !e.At.Equal(wantBox[0].At) {
		t.Fatalf("deferred outbox entry after migration: %+v", e)
	}
	if e := box[1]; e.Action != "user.delete" || e.UserBefore == nil || e.UserBefore.UserName != "filler01" ||
		e.User != nil || e.Attempts != 0 || !e.NextAttempt.IsZero() {
		t.Fatalf("pending outbox entry after migration: %+v", e)
	}
	if st, err := dst.OutboxStats(ctx); err != nil || !st.Enabled || st.Pending != 2 || st.LastErrorSeq != box[0].Seq {
		t.Fatalf("outbox stats after migration: %+v %v", st, err)
	}
	// The deleted user's address is free again, as in SQLite; a taken one is not.
	// New rows continue above every key SQLite gave, the deleted newest
	// one's included.
	fresh := &store.User{UserName: "leaver2", Emails: []store.Value{{Value: "leaver@example.com"}}}
	if err := dst.Write(ctx, actor, func(tx store.Tx) error { return tx.CreateUser(ctx, fresh) }); err != nil {
		t.Fatal(err)
	}
	if fresh.Key <= last.Key {
		t.Fatalf("new key %d, but SQLite gave keys up to %d (the last one deleted)", fresh.Key, last.Key)
	}
	// Still recording, past the copied entries.
	if box, err := dst.ListOutbox(ctx, store.OutboxQuery{AfterSeq: wantBox[1].Seq}); err != nil || len(box) != 1 ||
		box[0].Action != "user.create" || box[0].User.ID != fresh.ID {
		t.Fatalf("outbox after a change on the migrated store: %+v %v", box, err)
	}
	err = dst.Write(ctx, actor, func(tx store.Tx) error {
		return tx.CreateUser(ctx, &store.User{UserName: "copycat", Emails: []store.Value{{Value: "ANN@example.com"}}})
	})
	if store.KindOf(err) != store.KindConflict {
		t.Fatalf("an address a migrated user holds: %v, want a conflict", err)
	}
	out.Reset()
	err = run(ctx, []string{"migrate-db", "--from", path, "--to", url}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("migrate-db into a filled database: %v", err)
	}
}
