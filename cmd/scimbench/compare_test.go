package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestMain lets compare start this test binary as the reference server,
// the way it starts the scimbench binary outside tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "reference" {
		if err := serveReference(context.Background(), os.Args[2:], os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestCompareSmoke runs compare with a few users and short phases against
// the real scimbridge binary and the reference, and checks that the table
// has a row per phase in which both servers answered without errors. It
// asserts nothing about speed.
func TestCompareSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds scimbridge")
	}
	bin := filepath.Join(t.TempDir(), "scimbridge")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/scimbridge/scimbridge/cmd/scimbridge").CombinedOutput(); err != nil {
		t.Fatalf("build scimbridge: %v\n%s", err, out)
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"compare", "--users", "150", "--duration", "300ms",
		"--concurrency", "4", "--create-concurrency", "2", "--seed-concurrency", "4", "--no-pin",
		"--scimbridge", bin, "--dir", t.TempDir()}, &out)
	text := out.String()
	t.Log("\n" + text)
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range comparePhases {
		row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(ph.label) +
			`\s+\d+\s+(\d+)\s+[\d.]+ms\s+(\d+)\s+\S+\s+(\d+)\s+[\d.]+ms\s+(\d+)\s+\S+\s+[\d.]+×`).FindStringSubmatch(text)
		if row == nil {
			t.Errorf("no complete row for %q", ph.label)
			continue
		}
		for i, name := range []string{"reference", "scimbridge"} {
			if n, _ := strconv.Atoi(row[1+2*i]); n == 0 {
				t.Errorf("%s: %s answered no request", ph.label, name)
			}
			if row[2+2*i] != "0" {
				t.Errorf("%s: %s had %s errors", ph.label, name, row[2+2*i])
			}
		}
	}
	if !regexp.MustCompile(`(?m)^peak RSS\s+\d+ MiB\s+\d+ MiB`).MatchString(text) {
		t.Error("no peak RSS row")
	}
}

// TestMeasureOrder: round 0 measures every scimbridge before the
// reference (index 0), and over as many rounds as there are servers each
// server is measured once in every place.
func TestMeasureOrder(t *testing.T) {
	if got := measureOrder(3, 0); !slices.Equal(got, []int{1, 2, 0}) {
		t.Errorf("measureOrder(3, 0) = %v, want [1 2 0]", got)
	}
	for _, n := range []int{2, 3} {
		places := make([]map[int]bool, n)
		for r := range n {
			for place, server := range measureOrder(n, r) {
				if places[server] == nil {
					places[server] = map[int]bool{}
				}
				places[server][place] = true
			}
		}
		for server, seen := range places {
			if len(seen) != n {
				t.Errorf("%d servers: server %d measured only in places %v over %d rounds", n, server, seen, n)
			}
		}
	}
}

// TestWaitIdle: waitIdle returns only once the server stopped using CPU
// (here a process that spins for two to three seconds and then sleeps),
// and at once for a server that is idle already.
func TestWaitIdle(t *testing.T) {
	start := func(script string) *server {
		cmd := exec.Command("sh", "-c", script)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		s := &server{name: "test", cmd: cmd, exited: make(chan struct{})}
		go func() { cmd.Wait(); close(s.exited) }()
		t.Cleanup(func() { cmd.Process.Kill(); <-s.exited })
		return s
	}
	busy := start(`end=$(($(date +%s) + 3)); while [ "$(date +%s)" -lt "$end" ]; do :; done; exec sleep 60`)
	time.Sleep(100 * time.Millisecond)
	if cpuTime(busy) == 0 {
		t.Skip("no CPU time in /proc for the child")
	}
	waited, idle := waitIdle(context.Background(), busy)
	if !idle || waited < time.Second {
		t.Errorf("spinning server: waited %s (idle %v), want ≥ 1s and idle", waited, idle)
	}
	if waited, idle := waitIdle(context.Background(), start(`exec sleep 60`)); !idle || waited > idleWait/2 {
		t.Errorf("idle server: waited %s (idle %v)", waited, idle)
	}
}

// TestResultAdd: a phase measured in rounds counts every round's requests
// over every round's time, and its percentiles are over all latencies.
func TestResultAdd(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	total := &result{n: 3, errors: 1, lat: ms(1, 2, 9), elapsed: time.Second, rate: 3}
	total.add(&result{n: 5, lat: ms(3, 4, 5, 6, 7), elapsed: time.Second, rate: 5})
	if total.n != 8 || total.errors != 1 || total.rate != 4 || total.elapsed != 2*time.Second {
		t.Errorf("n %d, errors %d, rate %v, elapsed %s; want 8, 1, 4, 2s", total.n, total.errors, total.rate, total.elapsed)
	}
	if !slices.Equal(total.lat, ms(1, 2, 3, 4, 5, 6, 7, 9)) || total.pct(100) != 9*time.Millisecond {
		t.Errorf("latencies %v", total.lat)
	}
}
