package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimbridge/scimbridge/ldapsync"
)

// syncCollector reports directory sync state from the syncer's status:
// per source, the last run's time, duration and counts, the failures in a
// row, and how many runs finished since start (counted as new last runs
// appear, so nothing in the syncer has to know about metrics).
type syncCollector struct {
	status func() []ldapsync.SourceStatus

	mu       sync.Mutex
	lastSeen map[string]int64 // source → Started of the last counted run
	runs     map[[2]string]float64

	runsDesc, lastRun, duration, objects, failed, consecutive, lastSuccess *prometheus.Desc
}

// RegisterSync adds the directory sync metrics, read from status.
func (m *Metrics) RegisterSync(status func() []ldapsync.SourceStatus) {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("scimbridge_sync_"+name, help, append([]string{"source"}, labels...), nil)
	}
	m.Registry.MustRegister(&syncCollector{
		status: status, lastSeen: map[string]int64{}, runs: map[[2]string]float64{},
		runsDesc:    d("runs_total", "Directory sync runs finished since start, by outcome.", "outcome"),
		lastRun:     d("last_run_timestamp_seconds", "When the last sync run started."),
		duration:    d("last_run_duration_seconds", "How long the last sync run took."),
		objects:     d("last_run_objects", "What the last run did to users and groups.", "type", "result"),
		failed:      d("last_run_failed_entries", "Directory entries the last run skipped as bad."),
		consecutive: d("consecutive_failures", "Failed runs in a row."),
		lastSuccess: d("last_success_timestamp_seconds", "When the last successful run started."),
	})
}

func (c *syncCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.runsDesc, c.lastRun, c.duration, c.objects, c.failed, c.consecutive, c.lastSuccess} {
		ch <- d
	}
}

func (c *syncCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, s := range c.status() {
		gauge(c.consecutive, float64(s.ConsecutiveFailures), s.Name)
		if !s.LastSuccess.IsZero() {
			gauge(c.lastSuccess, float64(s.LastSuccess.Unix()), s.Name)
		}
		if r := s.LastRun; r != nil {
			if started := r.Started.UnixNano(); c.lastSeen[s.Name] != started {
				c.lastSeen[s.Name] = started
				outcome := "success"
				if r.Error != "" {
					outcome = "failure"
				}
				c.runs[[2]string{s.Name, outcome}]++
			}
			gauge(c.lastRun, float64(r.Started.Unix()), s.Name)
			gauge(c.duration, r.Seconds, s.Name)
			gauge(c.failed, float64(r.Failed), s.Name)
			for typ, counts := range map[string]ldapsync.Counts{"users": r.Users, "groups": r.Groups} {
				for result, n := range map[string]int{"created": counts.Created, "updated": counts.Updated, "linked": counts.Linked,
					"deactivated": counts.Deactivated, "deleted": counts.Deleted, "unchanged": counts.Unchanged} {
					gauge(c.objects, float64(n), s.Name, typ, result)
				}
			}
		}
		for _, outcome := range []string{"success", "failure"} {
			ch <- prometheus.MustNewConstMetric(c.runsDesc, prometheus.CounterValue, c.runs[[2]string{s.Name, outcome}], s.Name, outcome)
		}
	}
}

// writeBackCollector reports directory write-back from the syncer's
// status: the outbox's pending and dead changes and the oldest one's age,
// and the deliveries and failed attempts since start.
type writeBackCollector struct {
	status func(context.Context) (*ldapsync.WriteBackStatus, error)

	pending, dead, oldest, delivered, failed, sourceFailures *prometheus.Desc
}

// RegisterWriteBack adds the write-back metrics, read from status (which
// reports ldapsync.ErrNoWriteBack when no source writes back: then there
// are none).
func (m *Metrics) RegisterWriteBack(status func(context.Context) (*ldapsync.WriteBackStatus, error)) {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("scimbridge_writeback_"+name, help, labels, nil)
	}
	m.Registry.MustRegister(&writeBackCollector{
		status:         status,
		pending:        d("pending", "Changes waiting in the outbox for the directory."),
		dead:           d("dead", "Changes that failed for good and wait for an operator."),
		oldest:         d("oldest_pending_age_seconds", "How long the oldest pending change has waited."),
		delivered:      d("delivered_total", "Changes written to a directory since start."),
		failed:         d("failed_attempts_total", "Failed attempts to write a change since start."),
		sourceFailures: d("source_consecutive_failures", "Failed attempts in a row to reach a write-back directory.", "source"),
	})
}

func (c *writeBackCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.dead, c.oldest, c.delivered, c.failed, c.sourceFailures} {
		ch <- d
	}
}

func (c *writeBackCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.status(ctx)
	if err != nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(c.pending, float64(s.Pending))
	gauge(c.dead, float64(s.Dead))
	gauge(c.oldest, s.OldestSeconds)
	ch <- prometheus.MustNewConstMetric(c.delivered, prometheus.CounterValue, float64(s.Delivered))
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(s.FailedAttempts))
	for _, src := range s.Sources {
		gauge(c.sourceFailures, float64(src.ConsecutiveFailures), src.Name)
	}
}
