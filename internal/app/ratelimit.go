package app

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/scim"
)

// limiters keeps one token bucket per key (a credential or an address).
// Idle buckets are dropped so that a flood of distinct keys cannot grow it
// without bound.
type limiters struct {
	limit rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*bucket
}

type bucket struct {
	l    *rate.Limiter
	seen time.Time
}

const maxBuckets = 100_000

func newLimiters(perSecond float64, burst int) *limiters {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = max(1, int(perSecond))
	}
	return &limiters{limit: rate.Limit(perSecond), burst: burst, m: map[string]*bucket{}}
}

// allow takes a token for key; when there is none it says how long to wait.
func (s *limiters) allow(key string, now time.Time) (bool, time.Duration) {
	if s == nil || key == "" {
		return true, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.m[key]
	if b == nil {
		if len(s.m) >= maxBuckets {
			s.sweep(now)
		}
		b = &bucket{l: rate.NewLimiter(s.limit, s.burst)}
		s.m[key] = b
	}
	b.seen = now
	r := b.l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep drops buckets idle long enough to be full again, then, if still
// too many, half of them.
func (s *limiters) sweep(now time.Time) {
	refill := time.Duration(float64(s.burst)/float64(s.limit)*float64(time.Second)) + time.Second
	for k, b := range s.m {
		if now.Sub(b.seen) > refill {
			delete(s.m, k)
		}
	}
	for k := range s.m {
		if len(s.m) < maxBuckets/2 {
			break
		}
		delete(s.m, k)
	}
}

// rateLimiter applies the configured limits: per credential, per client
// address, and a stricter per-address limit on login endpoints.
type rateLimiter struct {
	perCredential, perAddress, login *limiters
	now                              func() time.Time
}

func newRateLimiter(c config.RateLimit) *rateLimiter {
	return &rateLimiter{
		perCredential: newLimiters(c.PerCredential.PerSecond, c.PerCredential.Burst),
		perAddress:    newLimiters(c.PerAddress.PerSecond, c.PerAddress.Burst),
		login:         newLimiters(c.LoginPerMinute/60, c.LoginBurst),
		now:           time.Now,
	}
}

func (rl *rateLimiter) middleware(next http.Handler) http.Handler {
	if rl.perCredential == nil && rl.perAddress == nil && rl.login == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := rl.now()
		addr := httpjson.ClientIP(r)
		checks := []struct {
			set *limiters
			key string
		}{{rl.perAddress, addr}, {rl.perCredential, credentialKey(r)}}
		if isLogin(r) {
			checks = append(checks, struct {
				set *limiters
				key string
			}{rl.login, addr})
		}
		for _, c := range checks {
			if ok, wait := c.set.allow(c.key, now); !ok {
				writeTooMany(w, r, wait)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// credentialKey identifies the credential a request carries, hashed: the
// limiter's memory never holds a secret.
func credentialKey(r *http.Request) string {
	v := r.Header.Get("Authorization")
	for _, h := range []string{"X-API-Key", "X-XPDevToken", "X-Session-ID"} {
		if v == "" {
			v = r.Header.Get(h)
		}
	}
	for _, name := range []string{"JSESSIONID", "session_id"} {
		if v == "" {
			if c, err := r.Cookie(name); err == nil {
				v = c.Value
			}
		}
	}
	if v == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:12])
}

func isLogin(r *http.Request) bool {
	p := r.URL.Path
	if strings.HasSuffix(p, "/api/auth/login") || strings.HasSuffix(p, "/api/user/login") || strings.HasSuffix(p, "/xqual/api/authenticate") {
		return true
	}
	return strings.HasSuffix(p, "/xqual/api") && strings.EqualFold(r.URL.Query().Get("command"), "authenticate")
}

var versioned = regexp.MustCompile(`/v\d+/?$`)

// writeTooMany answers 429 in the format of the door the request is for.
func writeTooMany(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	secs := int(wait.Seconds() + 0.999)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	const msg = "Too many requests: slow down and retry later."
	switch doorOf(r.URL.Path) {
	case "scim":
		scim.WriteError(w, &scim.Error{Status: http.StatusTooManyRequests, Detail: msg})
	case "pterodactyl":
		w.Header().Set("X-RateLimit-Remaining", "0")
		httpjson.Write(w, http.StatusTooManyRequests, map[string]any{"errors": []map[string]string{{
			"code": "ThrottleRequestsException", "status": "429", "detail": "Too Many Attempts."}}})
	case "usersapi":
		httpjson.Write(w, http.StatusTooManyRequests, map[string]any{"success": false, "message": msg})
	case "xpdev":
		httpjson.Write(w, http.StatusTooManyRequests, map[string]string{"message": msg})
	case "xyops":
		// xyOps maps codes to HTTP statuses only on versioned URLs.
		status := http.StatusOK
		if versioned.MatchString(r.URL.Path) {
			status = http.StatusTooManyRequests
		}
		httpjson.Write(w, status, map[string]string{"code": "rate", "description": msg})
	case "xstudio":
		httpjson.Write(w, http.StatusTooManyRequests, map[string]string{"result": "failure", "message": msg})
	default:
		httpjson.Write(w, http.StatusTooManyRequests, map[string]string{"error": msg})
	}
}
