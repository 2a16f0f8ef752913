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
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/app"
	"github.com/scimbridge/scimbridge/store"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	logOut := newLogWriter(stderr)
	defer logOut.Close()
	log := newLogger(cfg, logOut)

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
	srv := &http.Server{
		Handler:           a.Handler(),
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
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
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
