package main

import (
	"io"
	"log"
	"log/slog"

	"github.com/scimbridge/scimbridge/internal/config"
)

// newLogger is the process's logger in the configured level and format.
// Every line goes through it: the request log, the doors', the store's,
// the directory sync's and the HTTP server's own (httpErrorLog).
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: millis}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// millis writes every duration as a number of milliseconds under the key
// with "_ms" appended (duration=2.504005ms becomes duration_ms=2.504):
// one unit for every line, which log tools can add and compare.
func millis(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	return slog.Float64(a.Key+"_ms", float64(a.Value.Duration().Microseconds())/1000)
}

// httpErrorLog routes what net/http logs itself (TLS handshake errors, a
// panic in a handler it recovered) into log, as one warning each.
func httpErrorLog(log *slog.Logger) *log.Logger {
	return slog.NewLogLogger(log.Handler(), slog.LevelWarn)
}
