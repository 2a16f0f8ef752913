package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/postgres/pgtest"
)

// twoNodes opens two stores on one new database.
func twoNodes(t *testing.T) (*DB, *DB) {
	t.Helper()
	url := pgtest.Start(t).NewDatabase(t)
	var nodes [2]*DB
	for i := range nodes {
		db, err := Open(context.Background(), url, Options{MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes[i] = db
	}
	return nodes[0], nodes[1]
}

var admin = store.Actor{Door: "admin", Principal: "root"}

// holdWrite runs fn in a write transaction of db that stays open until
// release is closed; it returns once fn has run, and the transaction's
// result on done.
func holdWrite(t *testing.T, db *DB, fn func(tx store.Tx) error) (release chan struct{}, done chan error) {
	t.Helper()
	release, done, held := make(chan struct{}), make(chan error, 1), make(chan error, 1)
	go func() {
		done <- db.Write(context.Background(), admin, func(tx store.Tx) error {
			err := fn(tx)
			held <- err
			if err != nil {
				return err
			}
			<-release
			return nil
		})
	}()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	return release, done
}

// TestOutboxDeferredOnceAcrossNodes: two nodes deferring one entry at
// once count one attempt: the second skips the entry the first holds
// (FOR UPDATE SKIP LOCKED) instead of waiting and counting it again.
func TestOutboxDeferredOnceAcrossNodes(t *testing.T) {
	n1, n2 := twoNodes(t)
	ctx := context.Background()
	if err := n1.Write(ctx, admin, func(tx store.Tx) error { return tx.SetOutbox(ctx, true) }); err != nil {
		t.Fatal(err)
	}
	if err := n1.Write(ctx, store.Actor{Door: "scim"}, func(tx store.Tx) error {
		return tx.CreateUser(ctx, &store.User{UserName: "alice"})
	}); err != nil {
		t.Fatal(err)
	}
	es, err := n1.ListOutbox(ctx, store.OutboxQuery{})
	if err != nil || len(es) != 1 {
		t.Fatalf("outbox: %+v %v", es, err)
	}
	seq, next := es[0].Seq, time.Now().Add(time.Minute)
	release, done := holdWrite(t, n1, func(tx store.Tx) error { return tx.DeferOutbox(ctx, seq, "first", next, false) })
	// A wait for the held entry would last until the context ends.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = n2.Write(wctx, admin, func(tx store.Tx) error { return tx.DeferOutbox(wctx, seq, "second", next, false) })
	close(release)
	if err != nil {
		t.Fatalf("second node's defer: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	es, err = n2.ListOutbox(ctx, store.OutboxQuery{})
	if err != nil || len(es) != 1 || es[0].Attempts != 1 || es[0].LastError != "first" {
		t.Fatalf("after concurrent defers: %+v %v", es, err)
	}
}

// TestOutboxTurnedOnWhileWriting: a change whose transaction ends after
// another node turned the outbox on is recorded, even though it was made
// before that commit: its flush waits for the outbox lock and then reads
// the outbox on.
func TestOutboxTurnedOnWhileWriting(t *testing.T) {
	n1, n2 := twoNodes(t)
	ctx := context.Background()
	release, done := holdWrite(t, n1, func(tx store.Tx) error { return tx.SetOutbox(ctx, true) })
	created := make(chan error, 1)
	go func() {
		created <- n2.Write(ctx, store.Actor{Door: "scim"}, func(tx store.Tx) error {
			return tx.CreateUser(ctx, &store.User{UserName: "bob"})
		})
	}()
	// Let the change reach its flush: it then waits for the lock (or, were
	// there none, it would have committed unrecorded).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var waiting int
		if err := n1.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 || len(created) > 0 || time.Now().After(deadline) {
			break
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	es, err := n1.ListOutbox(ctx, store.OutboxQuery{})
	if err != nil || len(es) != 1 || es[0].Action != "user.create" || es[0].User == nil || es[0].User.UserName != "bob" {
		t.Fatalf("outbox after a create racing the switch: %+v %v", es, err)
	}
}

// BenchmarkCreateUser: one user per write transaction, as a SCIM create,
// with the outbox off (what every write pays for it: two statements more
// in the activity's round trip) and on (one round trip more).
func BenchmarkCreateUser(b *testing.B) {
	c := pgtest.Start(b)
	ctx := context.Background()
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("outbox=%v", on), func(b *testing.B) {
			db := openFresh(b, c)
			if err := db.Write(ctx, admin, func(tx store.Tx) error { return tx.SetOutbox(ctx, on) }); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				if err := db.Write(ctx, store.Actor{Door: "scim"}, func(tx store.Tx) error {
					return tx.CreateUser(ctx, &store.User{UserName: fmt.Sprintf("u%d", i), Active: true,
						Emails: []store.Value{{Value: fmt.Sprintf("u%d@example.com", i)}}})
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
