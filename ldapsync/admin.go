package ldapsync

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/httpjson"
)

// AdminHandler serves sync status and on-demand runs. The lead mounts it
// at /admin/sync/ behind admin authentication; it routes on the last path
// element, so it works with or without http.StripPrefix.
//
//	GET  /admin/sync/ or /admin/sync/status   → {"sources": [SourceStatus…]}
//	POST /admin/sync/run?source=NAME&full=true[&force=true][&wait=true]
//	GET  /admin/sync/writeback                → {"writeBack": WriteBackStatus, "dead": [DeadLetter…]}
//	POST /admin/sync/writeback/retry[?seq=N…]  → {"revived": n}
//	POST /admin/sync/writeback/deliver        → {"report": DeliveryReport, "deliveries": [Delivery…]}
//
// A run without wait starts in the background (202 with the started
// sources); with wait=true the response carries the reports.
func (s *Syncer) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimSuffix(r.URL.Path, "/")
		last := path[strings.LastIndexByte(path, '/')+1:]
		if i := strings.LastIndex(path, "/writeback"); i >= 0 && (strings.HasSuffix(path, "/writeback") || strings.HasPrefix(path[i:], "/writeback/")) {
			s.serveWriteBack(w, r, strings.TrimPrefix(path[i+len("/writeback"):], "/"))
			return
		}
		switch {
		case last == "run":
			if r.Method != http.MethodPost {
				w.Header().Set("Allow", http.MethodPost)
				writeJSONError(w, http.StatusMethodNotAllowed, "use POST to start a sync")
				return
			}
			s.serveRun(w, r)
		case last == "status" || last == "sync" || last == "":
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				writeJSONError(w, http.StatusMethodNotAllowed, "use GET for the sync status")
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"sources": s.Status()})
		default:
			writeJSONError(w, http.StatusNotFound, "no such sync endpoint; use status or run")
		}
	})
}

// DeadLetter is a dead change as the admin API shows it.
type DeadLetter struct {
	Seq       int64     `json:"seq"`
	At        time.Time `json:"at"`
	Action    string    `json:"action"`
	Object    string    `json:"object"`
	Door      string    `json:"door"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"lastError"`
}

// serveWriteBack serves /admin/sync/writeback and its operations.
func (s *Syncer) serveWriteBack(w http.ResponseWriter, r *http.Request, op string) {
	if s.out == nil {
		writeJSONError(w, http.StatusNotFound, "no source has write_back.enabled")
		return
	}
	want := http.MethodPost
	if op == "" {
		want = http.MethodGet
	}
	switch {
	case op != "" && op != "retry" && op != "deliver":
		writeJSONError(w, http.StatusNotFound, "no such write-back endpoint; use writeback, writeback/retry or writeback/deliver")
		return
	case r.Method != want && !(want == http.MethodGet && r.Method == http.MethodHead):
		w.Header().Set("Allow", want)
		writeJSONError(w, http.StatusMethodNotAllowed, "use "+want)
		return
	}
	ctx := r.Context()
	switch op {
	case "":
		status, err := s.WriteBackStatus(ctx)
		if err != nil {
			writeJSONError(w, http.StatusServiceUnavailable, "cannot read the outbox")
			return
		}
		dead, err := s.DeadLetters(ctx, 100)
		if err != nil {
			writeJSONError(w, http.StatusServiceUnavailable, "cannot read the outbox")
			return
		}
		letters := make([]DeadLetter, len(dead))
		for i, e := range dead {
			letters[i] = DeadLetter{Seq: e.Seq, At: e.At, Action: e.Action, Object: objectName(&e), Door: e.Actor.Door,
				Attempts: e.Attempts, LastError: e.LastError}
		}
		writeJSON(w, http.StatusOK, map[string]any{"writeBack": status, "dead": letters})
	case "retry":
		var seqs []int64
		for _, v := range r.URL.Query()["seq"] {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				writeJSONError(w, http.StatusBadRequest, "query parameter seq must be an outbox sequence number")
				return
			}
			seqs = append(seqs, n)
		}
		n, err := s.RetryDead(ctx, seqs...)
		if err != nil {
			writeJSONError(w, http.StatusServiceUnavailable, "cannot write the outbox")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"revived": n})
	case "deliver":
		deliveries := []Delivery{}
		rep, err := s.DeliverOnce(ctx, DeliverOptions{OnDelivery: func(d Delivery) { deliveries = append(deliveries, d) }})
		status := http.StatusOK
		if errors.Is(err, ErrRunning) {
			status = http.StatusConflict // another node is delivering
		} else if err != nil {
			status = http.StatusBadGateway
		}
		writeJSON(w, status, map[string]any{"report": rep, "deliveries": deliveries})
	}
}

func (s *Syncer) serveRun(w http.ResponseWriter, r *http.Request) {
	req, ok := s.parseRunRequest(w, r)
	if !ok {
		return
	}
	if req.wait {
		s.runAndReport(w, r, req)
		return
	}
	s.startRuns(w, req)
}

// runRequest is what a POST /admin/sync/run asks for.
type runRequest struct {
	names []string
	opts  RunOptions
	wait  bool
}

// parseRunRequest reads the query; on a bad one it writes the error and
// returns false.
func (s *Syncer) parseRunRequest(w http.ResponseWriter, r *http.Request) (*runRequest, bool) {
	q := r.URL.Query()
	req := &runRequest{names: s.Sources()}
	for _, p := range []struct {
		name string
		v    *bool
	}{{"full", &req.opts.Full}, {"force", &req.opts.Force}, {"wait", &req.wait}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, "query parameter "+p.name+" must be true or false")
			return nil, false
		}
		*p.v = b
	}
	if name := q.Get("source"); name != "" {
		if s.byName[name] == nil {
			writeJSONError(w, http.StatusNotFound, "unknown source "+strconv.Quote(name))
			return nil, false
		}
		req.names = []string{name}
	}
	return req, true
}

// runAndReport runs the sources one after the other and answers with
// their reports (502 when one failed).
func (s *Syncer) runAndReport(w http.ResponseWriter, r *http.Request, req *runRequest) {
	var reports []*Report
	status := http.StatusOK
	for _, name := range req.names {
		rep, err := s.SyncOnce(r.Context(), name, req.opts)
		if errors.Is(err, ErrRunning) {
			writeJSONError(w, http.StatusConflict, "a sync of "+name+" is already running")
			return
		}
		if err != nil {
			status = http.StatusBadGateway
		}
		reports = append(reports, rep)
	}
	writeJSON(w, status, map[string]any{"reports": reports})
}

// startRuns starts the sources in the background (202), unless one is
// already running (409).
func (s *Syncer) startRuns(w http.ResponseWriter, req *runRequest) {
	for _, name := range req.names {
		if s.byName[name].isRunning() {
			writeJSONError(w, http.StatusConflict, "a sync of "+name+" is already running")
			return
		}
	}
	ctx := s.backgroundContext()
	for _, name := range req.names {
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			_, _ = s.SyncOnce(ctx, name, req.opts)
		}()
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"started": req.names})
}

// backgroundContext is the context runs started over HTTP live in: the
// scheduler's, so they stop with the server.
func (s *Syncer) backgroundContext() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCtx != nil {
		return s.runCtx
	}
	return context.Background()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, status, v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
