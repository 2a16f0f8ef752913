package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/internal/metrics"
)

type requestIDKey struct{}

func contextWith(r *http.Request, k, v any) context.Context {
	return context.WithValue(r.Context(), k, v)
}

// routeInfo carries the matched route pattern from inside the router back
// to the request log and metrics, which wrap the router.
type routeInfo struct{ pattern string }

type routeKey struct{}

// captureRoute is router middleware: it runs after matching, so it knows
// the pattern ("/scim/v2/Users/{id}"), which keeps metric labels bounded.
func captureRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info, ok := r.Context().Value(routeKey{}).(*routeInfo); ok {
			if route := mux.CurrentRoute(r); route != nil {
				if p, err := route.GetPathTemplate(); err == nil {
					info.pattern = p
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// RequestID returns the request id of ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestLog gives every request an id (a sane incoming X-Request-Id is
// kept) and logs one line per request. It logs the path without the query
// string: filters can carry user names, and nothing secret belongs in logs.
func requestLog(log *slog.Logger, m *metrics.Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !saneID(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		info := &routeInfo{pattern: "unmatched"}
		ctx := context.WithValue(context.WithValue(r.Context(), requestIDKey{}, id), routeKey{}, info)
		door := doorOf(r.URL.Path)
		next.ServeHTTP(sw, r.WithContext(ctx))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		elapsed := time.Since(start)
		if m != nil {
			m.ObserveRequest(door, info.pattern, r.Method, sw.status, elapsed)
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("id", id),
			slog.String("door", door),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Duration("duration", elapsed),
			slog.String("remote", r.RemoteAddr),
		)
	})
}

func saneID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// doorOf names the door a path belongs to, for logs and metrics.
func doorOf(path string) string {
	switch {
	case strings.HasPrefix(path, "/scim/"):
		return "scim"
	case strings.HasPrefix(path, "/api/application/"):
		return "pterodactyl"
	case strings.HasPrefix(path, "/api/users"), strings.HasPrefix(path, "/api/auth/"):
		return "usersapi"
	case strings.HasPrefix(path, "/api/v1/"):
		return "xpdev"
	case strings.HasPrefix(path, "/api/app/"), strings.HasPrefix(path, "/api/user/"):
		return "xyops"
	case strings.HasPrefix(path, "/xqual/"):
		return "xstudio"
	case strings.HasPrefix(path, "/admin/"):
		return "admin"
	}
	return "other"
}

// recoverer is the last line of defence: a panic becomes a plain 500.
// Doors recover first to answer in their own format.
func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
