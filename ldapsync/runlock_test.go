package ldapsync

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store"
)

// sharedStore is a store with the RunLocker of a store several nodes
// share; held names are locked by "another node".
type sharedStore struct {
	store.Store
	mu    sync.Mutex
	held  map[string]bool
	taken []string
}

func (s *sharedStore) TryLock(_ context.Context, name string) (func(), bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[name] {
		return nil, false, nil
	}
	s.held[name] = true
	s.taken = append(s.taken, name)
	return func() {
		s.mu.Lock()
		delete(s.held, name)
		s.mu.Unlock()
	}, true, nil
}

// TestSyncTakesTheSharedRunLock: on a store shared by several nodes, a
// sync runs only under the source's lock, and a source another node is
// syncing is refused with ErrRunning before the directory is read.
func TestSyncTakesTheSharedRunLock(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("ann", "Ann", "Lee", "ann@example.com")})
	st := &sharedStore{Store: newStore(t), held: map[string]bool{"ldapsync:corp": true}}
	s := newSyncer(t, st, sourceFor(srv))
	if _, err := s.SyncOnce(context.Background(), "corp", RunOptions{}); !errors.Is(err, ErrRunning) {
		t.Fatalf("sync while another node holds the lock: %v, want ErrRunning", err)
	}
	if n := countUsers(t, st); n != 0 {
		t.Fatalf("%d users written without the lock", n)
	}
	delete(st.held, "ldapsync:corp")
	syncOnce(t, s, RunOptions{})
	if n := countUsers(t, st); n != 1 || len(st.taken) != 1 || st.held["ldapsync:corp"] {
		t.Fatalf("users %d, lock taken %v, still held %v", n, st.taken, st.held)
	}
}

// TestDeliveryTakesTheSharedLock: on a store shared by several nodes, a
// write-back pass runs only under the cluster-wide write-back lock (two
// nodes' passes could write one object's changes out of order); while
// another node holds it, the pass is refused with ErrRunning and the
// outbox is untouched. A dry run writes nothing and needs no lock.
func TestDeliveryTakesTheSharedLock(t *testing.T) {
	srv := writableServer(t, ldaptest.Options{})
	st := &sharedStore{Store: newStore(t), held: map[string]bool{"ldapsync:write-back": true}}
	s := newSyncer(t, st, writeBackFor(t, srv))
	createUser(t, s, st, &store.User{UserName: "alice", Active: true})
	if _, err := s.DeliverOnce(context.Background(), DeliverOptions{}); !errors.Is(err, ErrRunning) {
		t.Fatalf("delivery while another node holds the lock: %v, want ErrRunning", err)
	}
	if rep, err := s.DeliverOnce(context.Background(), DeliverOptions{DryRun: true}); err != nil || rep.Planned != 1 {
		t.Fatalf("dry run while another node delivers: %+v %v", rep, err)
	}
	if es := pendingOutbox(t, st); len(es) != 1 {
		t.Fatalf("outbox while another node delivers: %+v", es)
	}
	delete(st.held, "ldapsync:write-back")
	if _, rep := deliver(t, s); rep.Delivered != 1 || st.held["ldapsync:write-back"] {
		t.Fatalf("delivery with the lock free: %+v, still held %v", rep, st.held)
	}
	if es := pendingOutbox(t, st); len(es) != 0 {
		t.Fatalf("outbox after delivery: %+v", es)
	}
}
