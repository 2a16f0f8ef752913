// Package app assembles scimbridge: it mounts every door on one router,
// each on a subrouter of its own wrapped in the same edge middleware
// (request ids, request logs, metrics, rate limits), and serves the health
// endpoints. It knows each door only through the Door interface.
package app

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/admin"
	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/internal/metrics"
	"github.com/scimbridge/scimbridge/ldapsync"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
)

// SCIMPrefix is where the SCIM door serves.
const SCIMPrefix = scim.Prefix

// App is an assembled scimbridge.
type App struct {
	cfg     *config.Config
	st      store.Store
	log     *slog.Logger
	handler http.Handler
	syncer  *ldapsync.Syncer
	metrics *metrics.Metrics
	limits  *rateLimiter
	admin   *admin.API
}

// New builds the app on an open store (cfg.DB names the SQLite file whose
// size /metrics reports).
func New(cfg *config.Config, st store.Store, log *slog.Logger) (*App, error) {
	log = slog.New(withRequestID(log.Handler()))
	a := &App{cfg: cfg, log: log, metrics: metrics.New(cfg.DB), limits: newRateLimiter(cfg.RateLimit)}
	// Every door reads and writes through the timed store.
	st = a.metrics.Store(st)
	a.st = st
	syncer, err := ldapsync.New(cfg.LDAP, st, log)
	if err != nil {
		return nil, err
	}
	a.syncer = syncer
	a.metrics.RegisterSync(syncer.Status)
	a.metrics.RegisterWriteBack(syncer.WriteBackStatus)
	// The doors write through the write-back's store: it seals the
	// passwords they hand on and wakes the delivery.
	doors, err := a.doors(cfg, syncer.DoorStore(st), log)
	if err != nil {
		return nil, err
	}
	trusted, err := cfg.TrustedProxyPrefixes()
	if err != nil {
		return nil, err
	}

	r := mux.NewRouter()
	r.Use(captureRoute)
	r.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok"})
	}).Methods(http.MethodGet)
	r.HandleFunc("/readyz", a.readyz).Methods(http.MethodGet)
	if cfg.Metrics.On() {
		r.Handle("/metrics", a.metrics.Handler(cfg.Metrics.Token)).Methods(http.MethodGet)
	}
	var canonical []pathCanonicaliser
	for _, d := range doors {
		sub := r.NewRoute().Subrouter()
		sub.Use(a.edge(d))
		d.Routes(sub)
		if c, ok := d.(pathCanonicaliser); ok {
			canonical = append(canonical, c)
		}
	}
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusNotFound, map[string]string{"error": "not found"})
	})
	routed := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		for _, c := range canonical {
			c.CanonicalPath(req)
		}
		r.ServeHTTP(w, req)
	})
	a.handler = httpjson.ClientAddress(trusted, requestLog(log, a.metrics, a.admin.Observe, recoverer(log, routed)))
	return a, nil
}

// doors builds every enabled door on the store.
func (a *App) doors(cfg *config.Config, st store.Store, log *slog.Logger) ([]Door, error) {
	staticToken, err := cfg.SCIMToken()
	if err != nil {
		return nil, err
	}
	scimTokens := auth.NewTokens(st, auth.SCIMTokenKind, staticToken, "config-token")
	scimDoor := scim.New(scim.Options{
		Store: st, Log: log, Auth: scim.Tokens{Tokens: scimTokens}, BaseURL: cfg.SCIM.BaseURL, MaxBody: cfg.MaxBodyBytes,
		DefaultPageSize: cfg.SCIM.DefaultPageSize, MaxPageSize: cfg.SCIM.MaxPageSize,
		PatchResponse:     cfg.SCIM.PatchResponse,
		BulkMaxOperations: cfg.SCIM.BulkMaxOperations, BulkMaxPayload: cfg.SCIM.BulkMaxPayloadBytes,
		TestTokenEndpoint: cfg.SCIM.TestTokenEndpoint,
		Compat:            cfg.SCIM.Compat, AdvertisePagination: cfg.SCIM.AdvertisePagination,
	})
	adminDoor := admin.New(admin.Options{Store: st, Log: log, Token: cfg.Admin.Token, SCIMTokens: scimTokens,
		Sync: a.syncer.AdminHandler(), SyncStatus: consoleSyncStatus(a.syncer.Status), Dialects: slices.Collect(maps.Keys(KeyFormats))})
	a.admin = adminDoor
	deps := legacyapi.Deps{Store: st, Log: log, Passwords: &auth.Verifier{Directory: a.syncer}, MaxBody: cfg.MaxBodyBytes}
	return append([]Door{scimDoor, adminDoor}, legacyDoors(cfg.Legacy, deps)...), nil
}

// Handler is the app's HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// Syncer is the directory syncer (its scheduler is started by Run).
func (a *App) Syncer() *ldapsync.Syncer { return a.syncer }

// RunBackground runs the background work (directory sync schedules, and
// the console's note of their runs) until ctx ends.
func (a *App) RunBackground(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { a.admin.WatchSync(ctx, 10*time.Second) })
	a.syncer.Run(ctx)
	wg.Wait()
}

// readyz reports whether the store is open, migrated and able to write
// (not while writes fail: a full disk, a read-only or removed file), and
// each directory source's last sync state. It names no host, DN or error
// text: it is open to anyone who can reach the port.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	type source struct {
		Name                string `json:"name"`
		State               string `json:"state"` // never-run, ok, failing, running
		LastSuccess         string `json:"lastSuccess,omitempty"`
		ConsecutiveFailures int    `json:"consecutiveFailures"`
	}
	body := struct {
		Status  string   `json:"status"`
		Sources []source `json:"sources"`
		// WriteBack is the outbox of directory write-back, when on; a
		// directory that is down leaves the server ready (the doors'
		// writes queue).
		WriteBack *writeBackHealth `json:"writeBack,omitempty"`
	}{Status: "ready", Sources: []source{}, WriteBack: a.writeBackHealth(r.Context())}
	for _, st := range a.syncer.Status() {
		src := source{Name: st.Name, State: "never-run", ConsecutiveFailures: st.ConsecutiveFailures}
		switch {
		case st.Running:
			src.State = "running"
		case st.ConsecutiveFailures > 0:
			src.State = "failing"
		case st.LastRun != nil:
			src.State = "ok"
		}
		if !st.LastSuccess.IsZero() {
			src.LastSuccess = st.LastSuccess.UTC().Format(time.RFC3339)
		}
		body.Sources = append(body.Sources, src)
	}
	status := http.StatusOK
	if err := a.st.Ping(r.Context()); err != nil {
		body.Status, status = "store unavailable", http.StatusServiceUnavailable
		// Writes that fail were logged once by the store, not per probe.
		level := slog.LevelError
		switch store.KindOf(err) {
		case store.KindInsufficientStorage:
			body.Status, level = "store full", slog.LevelDebug
		case store.KindUnavailable:
			level = slog.LevelDebug
		}
		a.log.Log(r.Context(), level, "readyz: store not ready", "err", err)
	}
	httpjson.Write(w, status, body)
}

// writeBackHealth is /readyz's view of directory write-back: "ok",
// "backlog" (changes older than a minute wait), "failing" (a directory
// cannot be reached) or "dead" (changes wait for an operator); no error
// text, which may name hosts and DNs.
type writeBackHealth struct {
	State         string  `json:"state"`
	Pending       int     `json:"pending"`
	Dead          int     `json:"dead"`
	OldestSeconds float64 `json:"oldestSeconds"`
}

func (a *App) writeBackHealth(ctx context.Context) *writeBackHealth {
	st, err := a.syncer.WriteBackStatus(ctx)
	if err != nil {
		return nil
	}
	h := &writeBackHealth{State: "ok", Pending: st.Pending, Dead: st.Dead, OldestSeconds: st.OldestSeconds}
	failing := false
	for _, src := range st.Sources {
		failing = failing || src.ConsecutiveFailures > 0
	}
	switch {
	case st.Dead > 0:
		h.State = "dead"
	case failing:
		h.State = "failing"
	case st.OldestSeconds > 60:
		h.State = "backlog"
	}
	return h
}
