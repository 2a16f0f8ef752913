package metrics

import (
	"context"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

type plainStore struct{ store.Store }

type sharedStore struct{ store.Store }

func (sharedStore) TryLock(context.Context, string) (func(), bool, error) {
	return func() {}, false, nil
}

// TestTimedStoreKeepsTheSharedLock: the timing wrapper must not hide a
// shared store's cluster-wide lock (ldapsync.RunLocker), or every node
// would sync every source at once; nor invent one for a store without it.
func TestTimedStoreKeepsTheSharedLock(t *testing.T) {
	m := New("")
	if _, ok := m.Store(sharedStore{}).(locker); !ok {
		t.Fatal("the wrapped shared store lost its TryLock")
	}
	if _, ok := m.Store(plainStore{}).(locker); ok {
		t.Fatal("the wrapped plain store gained a TryLock")
	}
}
