package xyops

import (
	"sync"
	"time"
)

// rateLimiter counts each API key's requests per clock second, like
// xyOps' per-key max_per_sec.
type rateLimiter struct {
	perSec int
	mu     sync.Mutex
	// windows holds the current second and its count, per credential id;
	// it is bounded by the number of keys.
	windows map[int64]rateWindow
}

type rateWindow struct {
	second int64
	count  int
}

func newRateLimiter(perSec int) *rateLimiter {
	return &rateLimiter{perSec: perSec, windows: map[int64]rateWindow{}}
}

// allow counts one request of the key and reports whether it is within the
// limit; a limiter with no limit allows everything.
func (l *rateLimiter) allow(keyID int64, now time.Time) bool {
	if l == nil || l.perSec <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.windows[keyID]
	if sec := now.Unix(); w.second != sec {
		w = rateWindow{second: sec}
	}
	w.count++
	l.windows[keyID] = w
	return w.count <= l.perSec
}
