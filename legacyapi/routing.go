package legacyapi

// The HTTP mechanics the dialects share: ids in paths, page offsets, the
// public base URL and per-path method dispatch with the dialect's own 405.

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// ParseKey parses an integer id from a path: a positive decimal number.
func ParseKey(s string) (int64, bool) {
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// BaseURL returns the scheme and host the client used ("https://panel.example.com"),
// or configured when it is set. X-Forwarded-Proto is honoured so that links
// behind a TLS-terminating proxy say https.
func BaseURL(r *http.Request, configured string) string {
	if configured != "" {
		return strings.TrimRight(configured, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host
}

// PageOffset returns the offset of a 1-based page, and false when it is so
// far out that no row can be on it (and the product would overflow).
func PageOffset(page, size int) (int, bool) {
	if page < 1 {
		page = 1
	}
	if size <= 0 || page-1 > (1<<40)/size {
		return 0, false
	}
	return (page - 1) * size, true
}

// Methods dispatches one path's requests by method, so that a known path
// with an unsupported method reaches the dialect's own 405 answer (gorilla/mux's
// method matching loses the mismatch once a later route fails on its path).
// A GET handler also serves HEAD. notAllowed gets the Allow header set.
func Methods(handlers map[string]http.HandlerFunc, notAllowed http.HandlerFunc) http.HandlerFunc {
	allow := make([]string, 0, len(handlers)+1)
	for m := range handlers {
		allow = append(allow, m)
	}
	if _, ok := handlers[http.MethodGet]; ok {
		if _, ok := handlers[http.MethodHead]; !ok {
			allow = append(allow, http.MethodHead)
		}
	}
	sort.Strings(allow)
	allowed := strings.Join(allow, ", ")
	return func(w http.ResponseWriter, r *http.Request) {
		h, ok := handlers[r.Method]
		if !ok && r.Method == http.MethodHead {
			h, ok = handlers[http.MethodGet]
		}
		if !ok {
			w.Header().Set("Allow", allowed)
			notAllowed(w, r)
			return
		}
		h(w, r)
	}
}
