// Package ratelimit holds the request-rate limiters every door uses: token
// buckets (a sustained rate with a burst) and fixed windows (so many
// requests a minute, as vendor APIs count them), each kept per key (a
// client address, a hashed credential, a key id) in a bounded map.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxKeys bounds each limiter's memory: a flood of distinct keys drops the
// idlest state instead of growing the map.
const maxKeys = 100_000

// keyed is per-key state with a bound and a sweep, shared by both kinds.
type keyed[K comparable, S any] struct {
	mu   sync.Mutex
	m    map[K]*entry[S]
	idle time.Duration // state unused this long is as good as new
}

type entry[S any] struct {
	state S
	seen  time.Time
}

// get returns key's state, making it with fresh when new. Call with mu held.
func (k *keyed[K, S]) get(key K, now time.Time, fresh func() S) *S {
	e := k.m[key]
	if e == nil {
		if len(k.m) >= maxKeys {
			k.sweep(now)
		}
		e = &entry[S]{state: fresh()}
		k.m[key] = e
	}
	e.seen = now
	return &e.state
}

// sweep drops state idle long enough to be new again, then, if still too
// much, half of it.
func (k *keyed[K, S]) sweep(now time.Time) {
	for key, e := range k.m {
		if now.Sub(e.seen) > k.idle {
			delete(k.m, key)
		}
	}
	for key := range k.m {
		if len(k.m) < maxKeys/2 {
			break
		}
		delete(k.m, key)
	}
}

// Buckets is a token bucket per key. A nil *Buckets allows everything.
type Buckets struct {
	limit rate.Limit
	burst int
	keys  keyed[string, *rate.Limiter]
}

// NewBuckets returns token buckets refilling perSecond with room for burst
// (at least one, by default the rate); nil when perSecond is not positive.
func NewBuckets(perSecond float64, burst int) *Buckets {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = max(1, int(perSecond))
	}
	refill := time.Duration(float64(burst)/perSecond*float64(time.Second)) + time.Second
	return &Buckets{limit: rate.Limit(perSecond), burst: burst,
		keys: keyed[string, *rate.Limiter]{m: map[string]*entry[*rate.Limiter]{}, idle: refill}}
}

// Allow takes a token for key; when there is none it says how long to
// wait. An empty key is never limited.
func (b *Buckets) Allow(key string, now time.Time) (bool, time.Duration) {
	if b == nil || key == "" {
		return true, 0
	}
	b.keys.mu.Lock()
	defer b.keys.mu.Unlock()
	l := *b.keys.get(key, now, func() *rate.Limiter { return rate.NewLimiter(b.limit, b.burst) })
	r := l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Windows counts requests per key in fixed windows of one period: at most
// limit in each. A nil *Windows allows everything.
type Windows struct {
	limit  int
	period time.Duration
	align  bool
	keys   keyed[int64, window]
}

type window struct {
	start time.Time
	used  int
}

// NewWindows returns fixed-window counters of limit requests per period;
// nil when limit is not positive. With align, windows are aligned to the
// clock (each calendar second or minute); without, a key's window starts
// at its first request.
func NewWindows(limit int, period time.Duration, align bool) *Windows {
	if limit <= 0 {
		return nil
	}
	return &Windows{limit: limit, period: period, align: align,
		keys: keyed[int64, window]{m: map[int64]*entry[window]{}, idle: period}}
}

// Limit is the number of requests a window allows.
func (w *Windows) Limit() int { return w.limit }

// Take counts one request of key. It reports whether the request is within
// the limit, how many remain in the window, and when the window ends.
func (w *Windows) Take(key int64, now time.Time) (ok bool, remaining int, retryAfter time.Duration) {
	if w == nil {
		return true, 0, 0
	}
	w.keys.mu.Lock()
	defer w.keys.mu.Unlock()
	win := w.keys.get(key, now, func() window { return window{start: w.startOf(now)} })
	if now.Sub(win.start) >= w.period || now.Before(win.start) {
		*win = window{start: w.startOf(now)}
	}
	ok = win.used < w.limit
	if ok {
		win.used++
	}
	return ok, w.limit - win.used, w.period - now.Sub(win.start)
}

func (w *Windows) startOf(now time.Time) time.Time {
	if w.align {
		return now.Truncate(w.period)
	}
	return now
}
