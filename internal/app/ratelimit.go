package app

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/ratelimit"
)

// rateLimiter applies the configured limits at every door's edge: per
// credential, per client address, and a stricter per-address limit on
// logins. Each door says what its credential is and which requests are
// logins.
type rateLimiter struct {
	perCredential, perAddress, login *ratelimit.Buckets
	now                              func() time.Time
}

func newRateLimiter(c config.RateLimit) *rateLimiter {
	return &rateLimiter{
		perCredential: ratelimit.NewBuckets(c.PerCredential.PerSecond, c.PerCredential.Burst),
		perAddress:    ratelimit.NewBuckets(c.PerAddress.PerSecond, c.PerAddress.Burst),
		login:         ratelimit.NewBuckets(c.LoginPerMinute/60, c.LoginBurst),
		now:           time.Now,
	}
}

// allow takes a token from every limit the request is under; when one has
// none it says how long to wait.
func (rl *rateLimiter) allow(d Door, r *http.Request) (bool, time.Duration) {
	if rl.perCredential == nil && rl.perAddress == nil && rl.login == nil {
		return true, 0
	}
	now := rl.now()
	addr := httpjson.ClientIP(r)
	if ok, wait := rl.perAddress.Allow(addr, now); !ok {
		return false, wait
	}
	if ok, wait := rl.perCredential.Allow(hashKey(d.RateKey(r)), now); !ok {
		return false, wait
	}
	if rl.login != nil && d.IsLogin(r) {
		return rl.login.Allow(addr, now)
	}
	return true, 0
}

// hashKey keeps a credential out of the limiter's memory.
func hashKey(v string) string {
	if v == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:12])
}
