package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// TestGroupCommitKeepsEachWriteAtomic runs many concurrent writes so that
// they share transactions: each succeeds or leaves nothing behind, whatever
// its neighbours in the batch do, and a panic reaches only its own caller.
func TestGroupCommitKeepsEachWriteAtomic(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	const n = 200
	errBoom := errors.New("boom")
	if err := db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
		return tx.CreateUser(ctx, &store.User{UserName: "taken"})
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	panics := make([]any, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			errs[i] = db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
				u := &store.User{UserName: fmt.Sprintf("u%03d", i)}
				if err := tx.CreateUser(ctx, u); err != nil {
					return err
				}
				g := &store.Group{DisplayName: fmt.Sprintf("g%03d", i), Members: []store.Member{{ID: u.ID}}}
				if err := tx.CreateGroup(ctx, g); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return errBoom // after writing: must all be undone
				case 7:
					panic(fmt.Sprintf("panic %d", i))
				case 9:
					// A conflict after writing, with a user that exists.
					return tx.CreateUser(ctx, &store.User{UserName: "TAKEN"})
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		_, uerr := db.GetUserByUserName(ctx, fmt.Sprintf("u%03d", i))
		page, _ := db.ListGroups(ctx, store.Query{Limit: 1, Filter: store.Compare{Attr: "displayName", Op: store.OpEq, Value: fmt.Sprintf("g%03d", i)}})
		switch i % 10 {
		case 3, 7, 9:
			if !store.IsNotFound(uerr) || page.Total != 0 {
				t.Errorf("write %d failed but left data behind", i)
			}
		default:
			if uerr != nil || page.Total != 1 || errs[i] != nil || panics[i] != nil {
				t.Errorf("write %d: err=%v panic=%v user=%v group=%d", i, errs[i], panics[i], uerr, page.Total)
			}
		}
		switch i % 10 {
		case 3:
			if !errors.Is(errs[i], errBoom) {
				t.Errorf("write %d: error %v, want boom", i, errs[i])
			}
		case 7:
			if panics[i] != fmt.Sprintf("panic %d", i) {
				t.Errorf("write %d: panic %v not re-raised in its caller", i, panics[i])
			}
		case 9:
			if store.KindOf(errs[i]) != store.KindConflict {
				t.Errorf("write %d: %v, want a conflict", i, errs[i])
			}
		}
	}
	acts, total, _ := db.ListActivity(ctx, store.ActivityQuery{Limit: 1})
	if want := n/10*7*3 + 1; total != want || len(acts) != 1 {
		t.Errorf("activity entries %d, want %d (failed writes must record nothing)", total, want)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, store.Actor{}, func(store.Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

// TestImpatientWritersCostNoOneElse: clients that give up after a few
// milliseconds share batches with ordinary writers. Their cancellation must
// fail their own write at most: every ordinary write succeeds, every
// acknowledged write is stored, and every failed one left nothing behind.
func TestImpatientWritersCostNoOneElse(t *testing.T) {
	db := openTemp(t)
	const (
		ordinary, impatient = 8, 16
		perWriter           = 150
	)
	type outcome struct {
		name string
		err  error
	}
	results := make([][]outcome, ordinary+impatient)
	var wg sync.WaitGroup
	for w := range ordinary + impatient {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 12))
			for i := range perWriter {
				name := fmt.Sprintf("w%02d-%04d", w, i)
				ctx, cancel := context.Background(), func() {}
				if w >= ordinary {
					ctx, cancel = context.WithTimeout(ctx, 500*time.Microsecond+time.Duration(rng.IntN(4500))*time.Microsecond)
				}
				err := db.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
					u := &store.User{UserName: name, Emails: []store.Value{{Value: name + "@x.example"}}}
					if err := tx.CreateUser(ctx, u); err != nil {
						return err
					}
					g := &store.Group{DisplayName: "g-" + name, Members: []store.Member{{ID: u.ID}}}
					return tx.CreateGroup(ctx, g)
				})
				cancel()
				results[w] = append(results[w], outcome{name, err})
			}
		})
	}
	wg.Wait()
	ctx := context.Background()
	var collateral, cancelled, acked int
	for w, rs := range results {
		for _, r := range rs {
			_, uerr := db.GetUserByUserName(ctx, r.name)
			page, gerr := db.ListGroups(ctx, store.Query{Limit: 1, Filter: store.Compare{Attr: "displayName", Op: store.OpEq, Value: "g-" + r.name}})
			if gerr != nil {
				t.Fatal(gerr)
			}
			switch {
			case r.err == nil:
				acked++
				if uerr != nil || page.Total != 1 {
					t.Errorf("%s acknowledged but not stored: user %v, groups %d", r.name, uerr, page.Total)
				}
			default:
				if w < ordinary {
					collateral++
					if collateral <= 5 {
						t.Errorf("ordinary write %s failed: %v", r.name, r.err)
					}
				} else {
					cancelled++
				}
				if !store.IsNotFound(uerr) || page.Total != 0 {
					t.Errorf("%s failed (%v) but left data behind", r.name, r.err)
				}
			}
		}
	}
	t.Logf("acknowledged %d, impatient writes cancelled %d, ordinary writes failed %d of %d",
		acked, cancelled, collateral, ordinary*perWriter)
	if collateral > 0 {
		t.Errorf("%d of %d ordinary writes failed because of other clients' cancellations", collateral, ordinary*perWriter)
	}
	if cancelled == 0 {
		t.Error("no impatient write was cancelled: the test did not test anything")
	}
}
