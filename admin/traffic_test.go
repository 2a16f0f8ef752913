package admin

import (
	"math"
	"testing"
	"time"
)

func TestTrafficCountsPerMinuteAndForgetsTheOldest(t *testing.T) {
	var tr traffic
	t0 := time.Date(2026, 1, 2, 10, 0, 30, 0, time.UTC)
	tr.observe(t0, "scim", 200)
	tr.observe(t0, "scim", 404)
	tr.observe(t0.Add(time.Minute), "admin", 503)
	tr.observe(t0.Add(time.Minute), "scim", 201)

	minutes, doors := tr.snapshot(t0.Add(time.Minute))
	if len(minutes) != historyMinutes || !minutes[len(minutes)-1].Start.Equal(time.Date(2026, 1, 2, 10, 1, 0, 0, time.UTC)) {
		t.Fatalf("window ends at %v", minutes[len(minutes)-1].Start)
	}
	if got := minutes[len(minutes)-2].All; got != (StatusCounts{OK: 1, ClientErrors: 1}) {
		t.Errorf("10:00: %+v", got)
	}
	if got := minutes[len(minutes)-1].All; got != (StatusCounts{OK: 1, ServerErrors: 1}) {
		t.Errorf("10:01: %+v", got)
	}
	if len(doors) != 2 || doors[0].Door != "scim" || doors[0].Total() != 3 || doors[1].Door != "admin" || doors[1].ServerErrors != 1 {
		t.Errorf("doors %+v", doors)
	}

	// An hour later 10:00 has left the window, and its slot is reused
	// without its old counts.
	later := t0.Add(historyMinutes * time.Minute)
	tr.observe(later, "scim", 200)
	minutes, doors = tr.snapshot(later)
	total := 0
	for _, m := range minutes {
		total += m.All.Total()
	}
	if total != 3 || minutes[len(minutes)-1].All.Total() != 1 || doors[0].Total() != 2 {
		t.Errorf("an hour later: %d requests, last minute %+v, doors %+v", total, minutes[len(minutes)-1].All, doors)
	}
	// Nothing observed for hours: an empty window.
	if minutes, doors = tr.snapshot(later.Add(3 * time.Hour)); len(doors) != 0 || minutes[0].All.Total() != 0 {
		t.Errorf("stale counts: %+v", doors)
	}
}

func TestChartLayout(t *testing.T) {
	start := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	minutes := make([]minuteCounts, historyMinutes)
	for i := range minutes {
		minutes[i].Start = start.Add(time.Duration(i) * time.Minute)
	}
	minutes[10].All = StatusCounts{OK: 30, ClientErrors: 10, ServerErrors: 5} // the busiest: 45 → axis to 50
	minutes[20].All = StatusCounts{OK: 25}
	runs := []SyncRun{
		{Source: "corp", Mode: "full", Started: start.Add(30 * time.Minute), Duration: 6 * time.Minute},
		{Source: "corp", Mode: "incremental", Started: start.Add(40 * time.Minute), Error: "directory down"},
		{Source: "old", Started: start.Add(-time.Minute)}, // before the window
	}
	c := buildChart(minutes, runs)
	if c.Requests != 70 || c.Grid[2].Label != "50" || c.Grid[1].Label != "25" {
		t.Fatalf("requests %d, grid %+v", c.Requests, c.Grid)
	}
	plotH := c.Bottom - c.Top
	busy := c.Columns[10]
	if len(busy.Bars) != 3 || busy.Bars[0].Class != "bar-ok" || busy.Bars[2].Class != "bar-server" {
		t.Fatalf("bars %+v", busy.Bars)
	}
	if h := busy.Bars[0].H; h != round1(30.0/50*plotH) {
		t.Errorf("30 of 50 is %v high", h)
	}
	// Stacked: each part sits on the one below.
	near := func(x, y float64) bool { return math.Abs(x-y) < 0.15 }
	if b := busy.Bars; !near(b[1].Y+b[1].H, b[0].Y) || !near(b[2].Y+b[2].H, b[1].Y) || !near(b[0].Y+b[0].H, c.Bottom) {
		t.Errorf("not stacked: %+v", b)
	}
	if c.Columns[20].Bars[0].H != round1(25.0/50*plotH) || len(c.Columns[0].Bars) != 0 {
		t.Error("other minutes")
	}
	if len(c.Runs) != 2 || c.Runs[0].Class != "run-ok" || c.Runs[1].Class != "run-failed" {
		t.Fatalf("runs %+v", c.Runs)
	}
	plotW := c.Right - c.Left
	if x := c.Runs[0].X; x != round1(c.Left+plotW/2) {
		t.Errorf("a run half-way through the hour is at %v", x)
	}
	if w := c.Runs[0].W; w != round1(plotW/10) {
		t.Errorf("a 6-minute run is %v wide", w)
	}
	if c.Runs[1].W < 3 {
		t.Error("a short run must stay visible")
	}
	if want := "corp: incremental sync at 10:40:00 UTC"; c.Runs[1].Title[:len(want)] != want ||
		c.Runs[1].Title[len(c.Runs[1].Title)-len("failed: directory down"):] != "failed: directory down" {
		t.Errorf("run title %q", c.Runs[1].Title)
	}
	if c.Columns[10].Title != "10:10 UTC: 45 requests (30 ok, 10 client errors, 5 server errors)" {
		t.Errorf("column title %q", c.Columns[10].Title)
	}
}

func TestNiceCeiling(t *testing.T) {
	for n, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 5, 6: 10, 11: 20, 45: 50, 51: 100, 999: 1000, 1001: 2000} {
		if got := niceCeiling(n); got != want {
			t.Errorf("niceCeiling(%d) = %d, want %d", n, got, want)
		}
	}
}

// BenchmarkObserve is what the console's counts add to every request.
func BenchmarkObserve(b *testing.B) {
	a := New(Options{})
	doors := []string{"scim", "admin", "pterodactyl", "other"}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			a.Observe(doors[i%len(doors)], 200+i%3*100)
			i++
		}
	})
}
