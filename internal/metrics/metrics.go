// Package metrics exposes scimbridge's Prometheus metrics: HTTP requests by
// door, route pattern and status with latency histograms, store operation
// latency, directory sync runs, and the SQLite file and WAL sizes.
package metrics

import (
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/store/postgres"
)

// Metrics holds the collectors of one server.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	storeOps *prometheus.HistogramVec
	storeErr *prometheus.CounterVec
	shed     *prometheus.CounterVec
}

// New registers the collectors; dbPath is the SQLite file to report the
// size of ("" for none). A PostgreSQL URL has no file here: its size is
// the database server's to report, so no file gauges are registered.
func New(dbPath string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimbridge_http_requests_total",
			Help: "HTTP requests by door, route pattern, method and status code.",
		}, []string{"door", "route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scimbridge_http_request_duration_seconds",
			Help:    "HTTP request latency by door, route pattern and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"door", "route", "method"}),
		storeOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scimbridge_store_operation_duration_seconds",
			Help:    "Store operation latency by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5, 1, 5},
		}, []string{"op"}),
		storeErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimbridge_store_errors_total",
			Help: "Store operations that failed unexpectedly (not-found and conflicts excluded).",
		}, []string{"op"}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimbridge_http_shed_total",
			Help: "Requests refused with 503 because the door had max_in_flight requests in flight.",
		}, []string{"door"}),
	}
	reg.MustRegister(m.requests, m.latency, m.storeOps, m.storeErr, m.shed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if dbPath != "" && !postgres.IsURL(dbPath) {
		reg.MustRegister(
			fileSize("scimbridge_sqlite_file_bytes", "Size of the SQLite database file.", dbPath),
			fileSize("scimbridge_sqlite_wal_bytes", "Size of the SQLite write-ahead log.", dbPath+"-wal"),
		)
	}
	return m
}

func fileSize(name, help, path string) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
		fi, err := os.Stat(path)
		if err != nil {
			return 0
		}
		return float64(fi.Size())
	})
}

// ObserveRequest records one HTTP request.
func (m *Metrics) ObserveRequest(door, route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(door, route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(door, route, method).Observe(d.Seconds())
}

// ObserveShed counts a request the door's admission control refused.
func (m *Metrics) ObserveShed(door string) { m.shed.WithLabelValues(door).Inc() }

// Handler serves the metrics; with a token, only to "Authorization:
// Bearer <token>".
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := auth.HashToken(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := httpjson.BearerToken(r)
		if got == "" || !auth.Equal(auth.HashToken(got), want) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
