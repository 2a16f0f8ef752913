package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/internal/metrics"
)

type requestIDKey struct{}

// routeInfo carries what the router learns (the matched route pattern and
// the door it belongs to) back out to the request log and metrics, which
// wrap the router.
type routeInfo struct{ pattern, door string }

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

// edge is the middleware every door's subrouter gets: it names the door
// for the request log and metrics, and applies the rate limits with the
// door's own key, login rule and refusal.
//
// It also bounds the door's requests in flight (admission control): past
// the bound a request is refused at once with 503 and Retry-After, so that
// overload sheds load instead of queueing without bound.
func (a *App) edge(d Door) mux.MiddlewareFunc {
	name := d.Name()
	var inFlight chan struct{}
	if n := a.cfg.MaxInFlight; n > 0 {
		inFlight = make(chan struct{}, n)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if info, ok := r.Context().Value(routeKey{}).(*routeInfo); ok {
				info.door = name
			}
			if ok, wait := a.limits.allow(d, r); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(max(int(wait.Seconds()+0.999), 1)))
				d.Refuse(w, r, http.StatusTooManyRequests)
				return
			}
			if inFlight != nil {
				select {
				case inFlight <- struct{}{}:
					defer func() { <-inFlight }()
				default:
					a.metrics.ObserveShed(name)
					w.Header().Set("Retry-After", "1")
					d.Refuse(w, r, http.StatusServiceUnavailable)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RequestID returns the request id of ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestIDHandler adds the request id to every log record made with a
// request's context, so that a door's error lines can be matched to the
// request line.
type requestIDHandler struct{ slog.Handler }

func withRequestID(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" && rec.Message != "request" {
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
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
// observe (may be nil) is told each request's door and status.
func requestLog(log *slog.Logger, m *metrics.Metrics, observe func(door string, status int), next http.Handler) http.Handler {
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
		info := &routeInfo{pattern: "unmatched", door: "other"}
		ctx := context.WithValue(context.WithValue(r.Context(), requestIDKey{}, id), routeKey{}, info)
		next.ServeHTTP(sw, r.WithContext(ctx))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		elapsed := time.Since(start)
		if m != nil {
			m.ObserveRequest(info.door, info.pattern, r.Method, sw.status, elapsed)
		}
		if observe != nil {
			observe(info.door, sw.status)
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("id", id),
			slog.String("door", info.door),
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
