package admin

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// chart is the console's inline SVG of the last hour: requests per minute
// as stacked bars (ok, client errors, server errors) and the sync runs as
// marks on a lane above them, each with a <title> the browser shows on
// hover. It is drawn on the server, so it needs no script.
type chart struct {
	Width, Height float64
	Left, Right   float64 // the plot's x range
	Top, Bottom   float64 // the plot's y range (Bottom is the zero line)
	LaneY, LaneH  float64 // the sync-run lane
	LaneW         float64
	Columns       []chartColumn
	Grid          []chartLine
	Ticks         []chartTick
	Runs          []chartRun
	Requests      int // in the whole window
}

type chartColumn struct {
	Title string
	Bars  []chartBar
}

type chartBar struct {
	X, Y, W, H float64
	Class      string
}

type chartLine struct {
	Y     float64
	Label string
}

type chartTick struct {
	X      float64
	Label  string
	Anchor string // SVG text-anchor: the last label ends at the plot's edge
}

type chartRun struct {
	X, W  float64
	Class string
	Title string
}

const (
	chartWidth  = 720
	chartHeight = 230
)

func round1(x float64) float64 { return math.Round(x*10) / 10 }

// buildChart lays out the minutes (oldest first, one minute each) and the
// sync runs that started within them.
func buildChart(minutes []minuteCounts, runs []SyncRun) chart {
	c := chart{Width: chartWidth, Height: chartHeight, Left: 44, Right: chartWidth - 8, Top: 34, Bottom: chartHeight - 24,
		LaneY: 8, LaneH: 14}
	c.LaneW = c.Right - c.Left
	if len(minutes) == 0 {
		return c
	}
	most := 0
	for _, m := range minutes {
		most = max(most, m.All.Total())
		c.Requests += m.All.Total()
	}
	top := niceCeiling(most)
	plotW, plotH := c.Right-c.Left, c.Bottom-c.Top
	slot := plotW / float64(len(minutes))
	for _, frac := range []float64{0, 0.5, 1} {
		c.Grid = append(c.Grid, chartLine{Y: round1(c.Bottom - frac*plotH), Label: formatCount(frac * float64(top))})
	}
	for i, m := range minutes {
		x := c.Left + float64(i)*slot
		col := chartColumn{Title: fmt.Sprintf("%s UTC: %d requests (%d ok, %d client errors, %d server errors)",
			m.Start.Format("15:04"), m.All.Total(), m.All.OK, m.All.ClientErrors, m.All.ServerErrors)}
		y := c.Bottom
		for _, part := range []struct {
			n     int
			class string
		}{{m.All.OK, "bar-ok"}, {m.All.ClientErrors, "bar-client"}, {m.All.ServerErrors, "bar-server"}} {
			if part.n == 0 {
				continue
			}
			h := float64(part.n) / float64(top) * plotH
			y -= h
			col.Bars = append(col.Bars, chartBar{X: round1(x + 1), Y: round1(y), W: round1(slot - 2), H: round1(h), Class: part.class})
		}
		c.Columns = append(c.Columns, col)
		switch {
		case i == len(minutes)-1:
			c.Ticks = append(c.Ticks, chartTick{X: c.Right, Label: m.Start.Format("15:04"), Anchor: "end"})
		case i%15 == 0:
			c.Ticks = append(c.Ticks, chartTick{X: round1(x + slot/2), Label: m.Start.Format("15:04"), Anchor: "middle"})
		}
	}
	start := minutes[0].Start
	window := minutes[len(minutes)-1].Start.Add(time.Minute).Sub(start)
	for _, r := range runs {
		off := r.Started.Sub(start)
		if off < 0 || off >= window {
			continue
		}
		class := "run-ok"
		if r.Error != "" {
			class = "run-failed"
		}
		w := max(float64(r.Duration)/float64(window)*plotW, 3)
		x := c.Left + float64(off)/float64(window)*plotW
		c.Runs = append(c.Runs, chartRun{X: round1(x), W: round1(min(w, c.Right-x)), Class: class, Title: runSummary(r)})
	}
	return c
}

// niceCeiling is the smallest 1, 2 or 5 times a power of ten that is at
// least n (and at least 1), so that the axis reads well.
func niceCeiling(n int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}

func formatCount(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// runSummary is one line about a sync run.
func runSummary(r SyncRun) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s sync at %s UTC, %.1f s; users %s; groups %s", r.Source, r.Mode,
		r.Started.UTC().Format("15:04:05"), r.Duration.Seconds(), countsSummary(r.Users), countsSummary(r.Groups))
	if r.Failed > 0 {
		fmt.Fprintf(&b, "; %d entries skipped", r.Failed)
	}
	if r.Error != "" {
		b.WriteString("; failed: " + r.Error)
	}
	return b.String()
}

func countsSummary(c SyncCounts) string {
	return fmt.Sprintf("%d created, %d updated, %d linked, %d deactivated, %d deleted, %d unchanged",
		c.Created, c.Updated, c.Linked, c.Deactivated, c.Deleted, c.Unchanged)
}
