package main

import (
	"context"
	"crypto/tls"
	"errors"
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
	"github.com/scimbridge/scimbridge/store/postgres"
)

func serveCommand() *command {
	return &command{name: "serve", summary: "run the server (the default command)",
		details: "Before it writes anything it checks the configuration, binds the listen address and opens the\n" +
			"database. With no SCIM token configured or stored, the first start prints a generated one, once.\n" +
			"SIGINT or SIGTERM finish the requests in flight (those still running after --shutdown-grace are cut,\n" +
			"and the log says how many) and close the store. It refuses to start on a new, empty database where\n" +
			"one was in use (the marker .NAME.marker beside it remembers) unless given --create.",
		define: func(fs *flagSet, c *cli) runFunc {
			create := fs.boolean("create", "start a new, empty database where one was in use and is now missing")
			grace := fs.duration("shutdown-grace", "DURATION", 30*time.Second, "how long SIGTERM waits for requests in flight before cutting them")
			com := fs.common(true)
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				mode := firstStart
				if *create {
					mode = createAnew
				}
				return c.serve(ctx, com, mode, *grace)
			}
		}}
}

func (c *cli) serve(ctx context.Context, com *common, mode openMode, grace time.Duration) error {
	cfg, err := com.load()
	if err != nil {
		return err
	}
	logOut := newLogWriter(c.stderr)
	defer logOut.Close()
	log := newLogger(cfg, logOut)
	if c.setDefaultLogger != nil {
		c.setDefaultLogger(log)
	}
	staticToken, err := cfg.SCIMToken()
	if err != nil {
		return err
	}
	// Every check that can fail comes before the first write: the address
	// is bound before the database is opened (or created) and before a
	// first token is generated, stored and printed.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	var pprofLn net.Listener
	if cfg.Debug.PprofListen != "" {
		if pprofLn, err = net.Listen("tcp", cfg.Debug.PprofListen); err != nil {
			return fmt.Errorf("debug.pprof_listen (%s): %w", cfg.Debug.PprofListen, err)
		}
		defer pprofLn.Close()
	}
	if !postgres.IsURL(cfg.DB) {
		// Several nodes share a PostgreSQL database by design; the lock
		// file keeps a second server off one SQLite file.
		unlock, err := lockDatabase(cfg.DB)
		if err != nil {
			return err
		}
		defer unlock()
	}
	st, err := openStore(ctx, cfg, mode, log)
	if err != nil {
		return err
	}
	defer st.Close()

	auth.ConfigureHashing(cfg.Hashing.Slots, cfg.Hashing.Wait)
	a, err := app.New(cfg, st, log)
	if err != nil {
		return err
	}
	if staticToken == "" {
		if err := firstStartToken(ctx, st, c.stdout); err != nil {
			return err
		}
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
		ErrorLog:          httpErrorLog(log),
	}
	if pprofLn != nil {
		startPprof(pprofLn, log)
	}
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { a.RunBackground(bg) })

	scheme := "http"
	if cfg.TLS.CertFile != "" {
		scheme = "https"
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	log.Info("scimbridge listening", "addr", ln.Addr().String(), "db", dbLabel(cfg.DB),
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
	log.Info("shutting down: finishing in-flight requests", "in_flight", inFlight.Load(), "grace", grace)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
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
			"unanswered", unanswered, "grace", grace)
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
func startPprof(ln net.Listener, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Warn("pprof is ON", "addr", ln.Addr().String())
	go func() {
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: httpErrorLog(log)}
		if err := srv.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
			log.Error("pprof listener", "err", err)
		}
	}()
}
