package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/postgres/pgtest"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// openFresh opens a store on a new, empty database of the cluster.
func openFresh(t testing.TB, c *pgtest.Cluster) *DB {
	t.Helper()
	db, err := Open(context.Background(), c.NewDatabase(t), Options{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStoreBehaviour(t *testing.T) {
	c := pgtest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t, c) })
	t.Run("SharedEmails", func(t *testing.T) {
		storetest.RunSharedEmails(t, func(t *testing.T) store.Store {
			db, err := Open(context.Background(), c.NewDatabase(t), Options{MaxConns: 8, Policy: store.Policy{SharedEmails: true}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
}

// TestNodesMigrateOnceAndShareLocks: several nodes opening one empty
// database at once migrate it once; an advisory lock taken by one node is
// refused to the others until released, or until that node's connection
// goes (a node that dies).
func TestNodesMigrateOnceAndShareLocks(t *testing.T) {
	c := pgtest.Start(t)
	url := c.NewDatabase(t)
	ctx := context.Background()
	nodes := make([]*DB, 3)
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { nodes[i], errs[i] = Open(ctx, url, Options{MaxConns: 4}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer nodes[i].Close()
		if err := nodes[i].Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var applied int
	if err := nodes[0].pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil || applied != len(migrationFiles()) {
		// One row per migration (numbers may leave gaps).
		t.Fatalf("schema_migrations holds %d rows (%v), want %d", applied, err, len(migrationFiles()))
	}

	unlock, ok, err := nodes[0].TryLock(ctx, "ldapsync:corp")
	if err != nil || !ok {
		t.Fatalf("first lock: %v %v", ok, err)
	}
	if _, ok, err := nodes[1].TryLock(ctx, "ldapsync:corp"); ok || err != nil {
		t.Fatalf("second node got a held lock: %v %v", ok, err)
	}
	if u, ok, _ := nodes[1].TryLock(ctx, "ldapsync:other"); !ok {
		t.Fatal("another name is another lock")
	} else {
		u()
	}
	unlock()
	unlock2, ok, err := nodes[1].TryLock(ctx, "ldapsync:corp")
	if err != nil || !ok {
		t.Fatalf("lock after release: %v %v", ok, err)
	}
	_ = unlock2
	nodes[1].Close() // the holder dies
	// Its server process ends a moment after the connection closes.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		u, ok, err := nodes[2].TryLock(ctx, "ldapsync:corp")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			u()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock of a node that died was not released")
		}
	}
}

// TestCountsFollowConcurrentWrites: the kept row counts (unfiltered
// totals) equal count(*) after concurrent creates, batch creates and
// deletes, rolled-back ones included.
func TestCountsFollowConcurrentWrites(t *testing.T) {
	c := pgtest.Start(t)
	db := openFresh(t, c)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				_ = db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
					for j := range 5 {
						u := &store.User{UserName: fmt.Sprintf("u%d-%d-%d", w, i, j)}
						if err := tx.CreateUser(ctx, u); err != nil {
							return err
						}
						if j == 4 {
							if err := tx.DeleteUser(ctx, u.ID); err != nil {
								return err
							}
						}
					}
					if i%3 == 0 {
						return errors.New("roll back")
					}
					return tx.CreateGroup(ctx, &store.Group{DisplayName: fmt.Sprintf("g%d-%d", w, i)})
				})
			}
		})
	}
	wg.Wait()
	for _, table := range []string{"users", "groups"} {
		var want int
		if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&want); err != nil {
			t.Fatal(err)
		}
		var got int
		if table == "users" {
			p, err := db.ListUsers(ctx, store.Query{Limit: 0})
			if err != nil {
				t.Fatal(err)
			}
			got = p.Total
		} else {
			p, err := db.ListGroups(ctx, store.Query{Limit: 0})
			if err != nil {
				t.Fatal(err)
			}
			got = p.Total
		}
		if got != want || want == 0 {
			t.Fatalf("%s: total %d, count(*) %d", table, got, want)
		}
	}
}

// TestConcurrentEmailAcrossNodes: e-mail uniqueness is a check, not an
// index; creates of one address racing on two nodes leave exactly one
// holder (the advisory lock in checkEmails).
func TestConcurrentEmailAcrossNodes(t *testing.T) {
	c := pgtest.Start(t)
	url := c.NewDatabase(t)
	ctx := context.Background()
	nodes := make([]*DB, 2)
	for i := range nodes {
		db, err := Open(ctx, url, Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		nodes[i] = db
	}
	for round := range 5 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, conflicts := 0, 0
		for i := range 16 {
			wg.Go(func() {
				err := nodes[i%2].Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
					return tx.CreateUser(ctx, &store.User{UserName: fmt.Sprintf("r%d-u%d", round, i),
						Emails: []store.Value{{Value: fmt.Sprintf("Shared%d@example.com", round)}}})
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case store.KindOf(err) == store.KindConflict:
					conflicts++
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if won != 1 || conflicts != 15 {
			t.Fatalf("round %d: %d creates won, %d conflicts; want 1 and 15", round, won, conflicts)
		}
	}
}
