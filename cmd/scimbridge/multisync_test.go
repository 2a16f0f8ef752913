package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store/postgres/pgtest"
)

// TestSyncRunsOnOneNodeAtATime: three nodes on one PostgreSQL database
// schedule the same directory source every second. Runs, read from the
// nodes' logs, never overlap; after the node that ran the latest sync is
// killed with SIGKILL, another node runs the next one.
func TestSyncRunsOnOneNodeAtATime(t *testing.T) {
	var ldif strings.Builder
	for i := range 1500 {
		uid := fmt.Sprintf("p%04d", i)
		fmt.Fprintf(&ldif, "dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: P %d\nsn: %d\nmail: %s@example.com\n\n",
			uid, ldaptest.PeopleDN, uid, i, i, uid)
	}
	dir := ldaptest.Start(t, ldaptest.Options{LDIF: ldif.String()})
	cluster := pgtest.Start(t)
	dbURL := cluster.NewDatabase(t)
	// Full syncs every time (change detection off), so each run reads and
	// compares every entry: long enough to overlap if nothing prevented it.
	conf := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `
ldap:
  sources:
    - name: corp
      url: %s
      bind_dn: %s
      bind_password: %s
      users: {base_dn: "%s"}
      change_detection: none
      interval: 1s
      retry_min: 100ms
      retry_max: 1s
`, dir.URL, ldaptest.SyncDN, ldaptest.SyncPassword, ldaptest.PeopleDN), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildServer(t, raceFlags...)
	var nodes []*serverProc
	for range 3 {
		nodes = append(nodes, startServerArgs(t, bin, []string{"--db", dbURL, "--config", conf}))
	}
	waitRuns := func(min int, since time.Time) []syncRun {
		deadline := time.Now().Add(60 * time.Second)
		for {
			runs := syncRuns(t, nodes)
			n := 0
			for _, r := range runs {
				if r.end.After(since) {
					n++
				}
			}
			if n >= min {
				return runs
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d sync runs after %s within 60 s, want %d; node 0's log:\n%s", n, since.Format(time.StampMilli), min, nodes[0].output())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	runs := waitRuns(6, time.Time{})
	checkNoOverlap(t, runs)
	leader := runs[len(runs)-1].node
	killedAt := time.Now()
	nodes[leader].kill(t)
	after := waitRuns(2, killedAt)
	checkNoOverlap(t, after)
	took := false
	for _, r := range after {
		if r.end.After(killedAt) && r.node != leader {
			took = true
		}
	}
	if !took {
		t.Fatal("no other node synced after the node that ran the latest sync was killed")
	}
	t.Logf("%d runs before the kill, never overlapping, on nodes %v; node %d killed, then node(s) %v ran the next",
		len(runs), nodesOf(runs, time.Time{}), leader, nodesOf(after, killedAt))
}

type syncRun struct {
	node       int
	start, end time.Time
}

var syncDone = regexp.MustCompile(`time=(\S+) level=INFO msg="ldapsync: sync done".* duration_ms=(\S+)`)

// syncRuns reads every node's finished runs from its log, by start time.
func syncRuns(t *testing.T, nodes []*serverProc) []syncRun {
	var out []syncRun
	for i, n := range nodes {
		for _, line := range strings.Split(n.output(), "\n") {
			m := syncDone.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			end, err := time.Parse(time.RFC3339Nano, m[1])
			d, err2 := time.ParseDuration(m[2] + "ms")
			if err != nil || err2 != nil {
				t.Fatalf("log line %q: %v %v", line, err, err2)
			}
			out = append(out, syncRun{node: i, start: end.Add(-d), end: end})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out
}

func checkNoOverlap(t *testing.T, runs []syncRun) {
	t.Helper()
	for i := 1; i < len(runs); i++ {
		// The logged duration ends a moment before the log line: allow
		// the logging itself 50 ms.
		if runs[i].start.Add(50 * time.Millisecond).Before(runs[i-1].end) {
			t.Fatalf("node %d's run %s–%s overlaps node %d's %s–%s", runs[i].node, runs[i].start.Format(time.StampMilli),
				runs[i].end.Format(time.StampMilli), runs[i-1].node, runs[i-1].start.Format(time.StampMilli), runs[i-1].end.Format(time.StampMilli))
		}
	}
}

func nodesOf(runs []syncRun, since time.Time) []int {
	seen := map[int]bool{}
	var out []int
	for _, r := range runs {
		if r.end.After(since) && !seen[r.node] {
			seen[r.node] = true
			out = append(out, r.node)
		}
	}
	sort.Ints(out)
	return out
}
