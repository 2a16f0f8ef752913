package legacyapi

import (
	"net/http"
)

// RefusalMessage is the text a dialect shows when the server turns a
// request away before it reaches the dialect: 429 (the client is over its
// rate limit) or 503 (the server is overloaded).
func RefusalMessage(status int) string {
	if status == http.StatusTooManyRequests {
		return "Too many requests: slow down and retry later."
	}
	return "The server is busy: retry later."
}

// Credential returns the first credential a request carries among the
// Authorization header, the named headers and the named cookies, for
// keying rate limits (the caller hashes it), or "".
func Credential(r *http.Request, headers, cookies []string) string {
	if v := r.Header.Get("Authorization"); v != "" {
		return v
	}
	for _, h := range headers {
		if v := r.Header.Get(h); v != "" {
			return v
		}
	}
	for _, name := range cookies {
		if c, err := r.Cookie(name); err == nil && c.Value != "" {
			return c.Value
		}
	}
	return ""
}
