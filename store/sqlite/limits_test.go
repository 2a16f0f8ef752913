package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// TestUserStoredBeforeTheLimitsStaysUpdatable: databases written before
// the store had limits may hold a megabyte userName (the legacy doors
// accepted one). An identity provider must still be able to deactivate
// such a user; only the values an update changes are checked.
func TestUserStoredBeforeTheLimitsStaysUpdatable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := storetest.CreateUser(t, db, &store.User{UserName: "placeholder", Active: true})
	db.Close()

	huge := strings.Repeat("a", 1_000_004)
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `UPDATE users SET user_name = ?, doc = json_set(doc, '$.userName', ?, '$.title', ?) WHERE key = ?`,
		huge, huge, "boss\x00", u.Key); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	update := func(fn func(u *store.User)) (*store.User, error) {
		var out *store.User
		err := db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) (err error) {
			out, err = tx.UpdateUser(ctx, u.ID, func(u *store.User) error { fn(u); return nil })
			return err
		})
		return out, err
	}
	got, err := update(func(u *store.User) { u.Active = false })
	if err != nil || got.Active || got.UserName != huge {
		t.Fatalf("deactivating a user stored before the limits: %v", err)
	}
	if _, err := update(func(u *store.User) { u.Title = "boss\x00\x00" }); store.FieldOf(err) != "title" {
		t.Fatalf("a changed value must meet the rules: %v", err)
	}
	if got, err := update(func(u *store.User) { u.UserName = "repaired"; u.Title = "boss" }); err != nil || got.UserName != "repaired" {
		t.Fatalf("repair: %+v %v", got, err)
	}
}
