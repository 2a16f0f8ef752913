package sqlite

import (
	"context"
	"slices"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// TestUpdateWritesOnlyWhatChanged: an update that changes no indexed column
// (a deactivation, a new title) sets none of them and leaves the e-mail
// rows alone, so that their index entries are not rewritten; an update
// that does change them still writes them. Triggers record what SQLite was
// asked to write: "UPDATE OF column" fires for every column in the SET
// list, changed or not.
func TestUpdateWritesOnlyWhatChanged(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	u := &store.User{UserName: "probe", DisplayName: "Probe", Active: true,
		Emails: []store.Value{{Value: "probe@example.com", Type: "work", Primary: true}, {Value: "p@home.example"}}}
	write := func(fn func(tx store.Tx) error) {
		t.Helper()
		if err := db.Write(ctx, store.Actor{Door: "test"}, fn); err != nil {
			t.Fatal(err)
		}
	}
	write(func(tx store.Tx) error { return tx.CreateUser(ctx, u) })
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE probe (what TEXT);
CREATE TRIGGER probe_users AFTER UPDATE OF user_name, user_name_key, display_name, password_hash, source, source_id, source_dn ON users
 BEGIN INSERT INTO probe VALUES ('indexed users column'); END;
CREATE TRIGGER probe_emails AFTER DELETE ON user_emails BEGIN INSERT INTO probe VALUES ('emails rewritten'); END;`); err != nil {
		t.Fatal(err)
	}
	probed := func() []string {
		t.Helper()
		got := columnText(t, db.w, 0, `SELECT DISTINCT what FROM probe ORDER BY what`)
		if _, err := db.w.ExecContext(ctx, `DELETE FROM probe`); err != nil {
			t.Fatal(err)
		}
		return got
	}
	update := func(fn func(u *store.User)) *store.User {
		t.Helper()
		var out *store.User
		write(func(tx store.Tx) error {
			var err error
			out, err = tx.UpdateUser(ctx, u.ID, func(u *store.User) error { fn(u); return nil })
			return err
		})
		return out
	}
	for name, fn := range map[string]func(u *store.User){
		"deactivate": func(u *store.User) { u.Active = false },
		"title":      func(u *store.User) { u.Title = "Guide" },
	} {
		update(fn)
		if got := probed(); len(got) > 0 {
			t.Errorf("%s wrote %v", name, got)
		}
	}
	got := update(func(u *store.User) { u.Active = true })
	if !got.Active || got.Title != "Guide" || got.Meta.Version != 4 {
		t.Errorf("after the updates: active %v, title %q, version %d", got.Active, got.Title, got.Meta.Version)
	}
	update(func(u *store.User) { u.Emails[1].Value = "probe@home.example" })
	if got := probed(); !slices.Equal(got, []string{"emails rewritten"}) {
		t.Errorf("changed e-mail: %v", got)
	}
	update(func(u *store.User) { u.DisplayName = "Probe 2" })
	if got := probed(); !slices.Equal(got, []string{"indexed users column"}) {
		t.Errorf("new displayName: %v", got)
	}
	read, err := db.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if read.DisplayName != "Probe 2" || read.Emails[1].Value != "probe@home.example" || !read.Active || read.Title != "Guide" {
		t.Errorf("read back %+v", read)
	}
	hits, err := db.ListUsers(ctx, store.Query{Limit: 10, Filter: store.Compare{Attr: "emails.value", Op: store.OpEq, Value: "probe@home.example"}})
	if err != nil || len(hits.Users) != 1 || hits.Users[0].ID != u.ID {
		t.Errorf("e-mail lookup after the change: %v, %v", hits, err)
	}
}
