package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/app"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, true)
	create := fs.Bool("create", false, "start a new, empty database where one was in use and is now missing")
	grace := fs.Duration("shutdown-grace", 30*time.Second, "how long SIGTERM waits for requests in flight before cutting them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	logOut := newLogWriter(stderr)
	defer logOut.Close()
	log := newLogger(cfg, logOut)
	st, err := sqlite.Open(ctx, cfg.DB, sqlite.Options{Create: *create, Log: log, WALMaxBytes: cfg.SQLite.WALMaxBytes})
	if errors.Is(err, sqlite.ErrVanished) {
		return fmt.Errorf("%w\nrefusing to start on a new, empty database; if that is what you want, start once with --create", err)
	}
	if err != nil {
		return err
	}
	defer st.Close()

	staticToken, err := cfg.SCIMToken()
	if err != nil {
		return err
	}
	if staticToken == "" {
		if err := firstStartToken(ctx, st, stdout); err != nil {
			return err
		}
	}

	auth.ConfigureHashing(cfg.Hashing.Slots, cfg.Hashing.Wait)
	a, err := app.New(cfg, st, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	// Requests run under reqCtx, so that at the end of the shutdown grace
	// period the ones still running can be told to stop.
	reqCtx, cutRequests := context.WithCancel(context.Background())
	defer cutRequests()
	var inFlight atomic.Int64
	srv := &http.Server{
		Handler:           countInFlight(a.Handler(), &inFlight),
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	if cfg.Debug.PprofListen != "" {
		startPprof(cfg.Debug.PprofListen, log)
	}
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { a.RunBackground(bg) })

	scheme := "http"
	if cfg.TLS.CertFile != "" {
		scheme = "https"
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	log.Info("scimbridge listening", "addr", ln.Addr().String(), "db", cfg.DB,
		"scim", scheme+"://"+ln.Addr().String()+app.SCIMPrefix, "version", version)
	errc := make(chan error, 1)
	go func() {
		if scheme == "https" {
			errc <- srv.ServeTLS(ln, cfg.TLS.CertFile, cfg.TLS.KeyFile)
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		stopBG()
		wg.Wait()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "in_flight", inFlight.Load(), "grace", grace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		// The grace period is over: an orderly stop that cuts what is left,
		// not a failure. Their contexts end first, so that store calls stop
		// at the next statement and each door can still answer.
		cut := inFlight.Load()
		cutRequests()
		for deadline := time.Now().Add(cutWait); inFlight.Load() > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		unanswered := inFlight.Load()
		_ = srv.Close()
		log.Warn("shutdown grace period over: cut the requests still running", "cut", cut,
			"unanswered", unanswered, "grace", grace.String())
		err = nil
	}
	stopBG()
	wg.Wait()
	if cerr := st.Checkpoint(context.Background()); cerr != nil {
		log.Warn("checkpoint on shutdown", "err", cerr)
	}
	log.Info("stopped")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// cutWait is how long requests cut at the end of the grace period get to
// answer before their connections close.
const cutWait = time.Second

// countInFlight keeps n at the number of requests being handled.
func countInFlight(h http.Handler, n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		defer n.Add(-1)
		h.ServeHTTP(w, r)
	})
}

// firstStartToken generates a SCIM token when none exists at all, prints
// it once, and keeps only its hash.
func firstStartToken(ctx context.Context, st store.Store, stdout io.Writer) error {
	existing, err := st.ListCredentials(ctx, auth.SCIMTokenKind)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return nil
	}
	token, _, err := auth.IssueSCIMToken(ctx, st, store.Actor{Door: "cli", Principal: "first-start"}, "initial", 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nNo SCIM token was configured, so one was generated. It is shown only this once;\n"+
		"only its hash is stored. Give it to your identity provider as the bearer token:\n\n    %s\n\n", token)
	return nil
}

// startPprof serves the profiler on its own listener, never on the main
// router, so it cannot be reached through the public address.
func startPprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Warn("pprof is ON", "addr", addr)
	go func() {
		srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		if err := srv.ListenAndServe(); err != nil {
			log.Error("pprof listener", "err", err)
		}
	}()
}
