package storetest

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// testNoLostUpdate: concurrent read-modify-writes of one user, each
// reading it inside its transaction and storing a change computed from
// what it read (what a SCIM PATCH does), all survive: none is computed
// from a version another one has already replaced.
func testNoLostUpdate(t *testing.T, s store.Store) {
	u := CreateUser(t, s, &store.User{UserName: "counter", Title: "0"})
	const writers = 20
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			errs[i] = s.Write(ctx(), actor, func(tx store.Tx) error {
				cur, err := tx.GetUser(ctx(), u.ID)
				if err != nil {
					return err
				}
				n, err := strconv.Atoi(cur.Title)
				if err != nil {
					return err
				}
				_, err = tx.UpdateUser(ctx(), u.ID, func(next *store.User) error {
					next.Title = strconv.Itoa(n + 1)
					return nil
				})
				return err
			})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetUser(ctx(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != strconv.Itoa(writers) || got.Meta.Version != writers+1 {
		t.Fatalf("title %s at version %d after %d increments: updates were lost", got.Title, got.Meta.Version, writers)
	}
}

// testFailedChangeKeepsTransaction: a change refused for a conflict rolls
// back alone; the transaction goes on and commits what else it did (the
// directory sync's dry run reports a conflicting entry and continues).
func testFailedChangeKeepsTransaction(t *testing.T, s store.Store) {
	CreateUser(t, s, &store.User{UserName: "taken"})
	g := createGroup(t, s, &store.Group{DisplayName: "Taken"})
	err := s.Write(ctx(), actor, func(tx store.Tx) error {
		for i, try := range []func() error{
			func() error { return tx.CreateUser(ctx(), &store.User{UserName: "TAKEN"}) },
			func() error { return tx.CreateGroup(ctx(), &store.Group{DisplayName: "taken"}) },
			func() error {
				other := &store.Group{DisplayName: "other"}
				if err := tx.CreateGroup(ctx(), other); err != nil {
					return err
				}
				_, err := tx.UpdateGroup(ctx(), other.ID, func(o *store.Group) error { o.DisplayName = g.DisplayName; return nil })
				return err
			},
		} {
			if err := try(); store.KindOf(err) != store.KindConflict {
				return fmt.Errorf("attempt %d: %v, want a conflict", i, err)
			}
		}
		return tx.CreateUser(ctx(), &store.User{UserName: "after-the-conflicts"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUserByUserName(ctx(), "after-the-conflicts"); err != nil {
		t.Fatalf("the write after the conflicts was not committed: %v", err)
	}
	page, _ := s.ListGroups(ctx(), store.Query{Limit: 10, Filter: store.Compare{Attr: "displayName", Op: store.OpEq, Value: "other"}})
	if page.Total != 1 {
		t.Fatalf("a group created before its refused rename: %d", page.Total)
	}
}
