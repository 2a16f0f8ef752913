package auth

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Password hashing is the one expensive thing a request can ask for: each
// argon2id run holds a 19 MiB block for its whole duration. Unbounded, 500
// concurrent creates with passwords drove the server past 6 GB and out of
// memory. Every hash and check therefore takes a slot of one process-wide
// pool (memory is a property of the process, so the pool is too): the
// number of slots bounds the memory, and a request that cannot get a slot
// within the wait gets ErrHashingBusy, which every door answers with 503
// and Retry-After.

// hashMemory is what one argon2id run holds (argonMemory KiB), for sizing.
const hashMemory = argonMemory * 1024

// ErrHashingBusy is the answer when no hashing slot frees up in time.
var ErrHashingBusy error = &store.Error{Kind: store.KindUnavailable,
	Message: "the server is busy hashing passwords: retry later"}

type hashPool struct {
	slots chan struct{}
	wait  time.Duration
	// runs counts the argon2id runs made, for HashRuns.
	runs atomic.Int64
}

var pool = newHashPool(DefaultHashSlots(), DefaultHashWait)

// DefaultHashWait is how long a request waits for a hashing slot.
const DefaultHashWait = 2 * time.Second

// DefaultHashSlots is the pool size when none is configured: one slot per
// core, since hashing is CPU-bound and more slots would add memory, not
// throughput (at least 2).
func DefaultHashSlots() int { return max(2, runtime.NumCPU()) }

func newHashPool(slots int, wait time.Duration) *hashPool {
	if slots < 1 {
		slots = DefaultHashSlots()
	}
	if wait <= 0 {
		wait = DefaultHashWait
	}
	return &hashPool{slots: make(chan struct{}, slots), wait: wait}
}

// ConfigureHashing sets the pool's size and wait; zero values keep the
// defaults. Call it once at start-up, before serving.
func ConfigureHashing(slots int, wait time.Duration) { pool = newHashPool(slots, wait) }

// HashingMemoryBound is the most memory password hashing can hold at once.
func HashingMemoryBound() int64 { return int64(cap(pool.slots)) * hashMemory }

// HashRuns is how many argon2id runs (hashes and checks) the process has
// made since the pool was configured: what makes a password check slow,
// counted so that a test can see that an unknown user costs one run as a
// known one does.
func HashRuns() int64 { return pool.runs.Load() }

// withSlot runs fn holding a hashing slot, waiting at most the pool's wait
// (or until ctx ends).
func withSlot(ctx context.Context, fn func()) error {
	p := pool
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
	case <-t.C:
		return ErrHashingBusy
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.slots }()
	p.runs.Add(1)
	fn()
	return nil
}
