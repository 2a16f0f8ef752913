package ldapsync

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
)

// BenchmarkLargeImport is issue 15's scale test: the full import of
// 1,000,000 users and 10,000 groups (100 members each) from a
// slapadd-loaded slapd into an empty SQLite store, the first incremental
// run after it (which learns the keys cookie), and an incremental run of
// 100 changed users. It reports the import's time and the peak RSS of
// this process (VmHWM, reset before the import), which does the sync.
// Loading slapd takes minutes, so it runs only when asked:
//
//	SCIMBRIDGE_BENCH_1M=1 go test -run '^$' -bench LargeImport -benchtime 1x -timeout 60m ./ldapsync/
//
// SCIMBRIDGE_BENCH_1M=N (N > 1) runs it with N users and N/100 groups.
func BenchmarkLargeImport(b *testing.B) {
	users := 0
	switch v := os.Getenv("SCIMBRIDGE_BENCH_1M"); v {
	case "":
		b.Skip("set SCIMBRIDGE_BENCH_1M=1 (or a number of users) to run the 1,000,000-user import")
	case "1":
		users = 1_000_000
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			b.Fatalf("SCIMBRIDGE_BENCH_1M=%q: want 1 or a number of users of at least 100", v)
		}
		users = n
	}
	groups := users / 100
	start := time.Now()
	ldif := writeFixture(b, users, groups, benchGroupMembers)
	b.Logf("LDIF of %d users and %d groups written in %.1f s", users, groups, time.Since(start).Seconds())
	start = time.Now()
	srv := ldaptest.Start(b, ldaptest.Options{LDIFFile: ldif, MaxSize: 16 << 30})
	b.Logf("slapd loaded (slapadd) and started in %.1f s", time.Since(start).Seconds())
	os.Remove(ldif)

	for b.Loop() {
		b.StopTimer()
		st := newStore(b)
		cfg := sourceFor(srv)
		cfg.PageSize, cfg.BatchSize = 1000, 1000
		s := newSyncer(b, st, cfg)
		runtime.GC()
		resetPeakRSS(b)
		heap := watchHeap()
		b.StartTimer()
		rep, err := s.SyncOnce(context.Background(), "corp", RunOptions{})
		b.StopTimer()
		peakHeap := heap.done()
		peakRSS := peakRSSMiB(b)
		if err != nil || rep.Users.Created != users || rep.Groups.Created != groups || rep.MembershipChanges != groups || rep.Failed != 0 {
			b.Fatalf("import: %v %s", err, rep.Summary())
		}
		b.ReportMetric(rep.Duration.Seconds(), "import-s")
		b.ReportMetric(peakRSS, "peak-RSS-MiB")
		b.ReportMetric(peakHeap, "peak-heap-MiB")
		b.Logf("import: %s; peak RSS %.0f MiB, peak Go heap %.0f MiB", rep.Summary(), peakRSS, peakHeap)

		// The first incremental run has no keys cookie yet: the server
		// lists every entryUUID once.
		rep, err = s.SyncOnce(context.Background(), "corp", RunOptions{})
		if err != nil || rep.Mode != "incremental" {
			b.Fatalf("first incremental: %v %s", err, rep.Summary())
		}
		b.ReportMetric(rep.Duration.Seconds(), "first-incremental-s")
		b.Logf("first incremental: %s", rep.Summary())

		var changes strings.Builder
		for i := range 100 {
			fmt.Fprintf(&changes, "dn: uid=u%06d,%s\nchangetype: modify\nreplace: title\ntitle: Changed\n\n", (i*9973)%users, ldaptest.PeopleDN)
		}
		srv.Modify(b, changes.String())
		rep, err = s.SyncOnce(context.Background(), "corp", RunOptions{})
		if err != nil || rep.Mode != "incremental" || rep.Users.Updated != 100 {
			b.Fatalf("incremental of 100 changes: %v %s", err, rep.Summary())
		}
		b.ReportMetric(rep.Duration.Seconds(), "incremental-100-s")
		b.Logf("incremental of 100 changes: %s; peak RSS since the import began %.0f MiB", rep.Summary(), peakRSSMiB(b))
		b.StartTimer()
	}
}

// resetPeakRSS resets this process's VmHWM (Linux: clear_refs 5).
func resetPeakRSS(tb testing.TB) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		tb.Logf("cannot reset the peak RSS (%v): it covers the whole process", err)
	}
}

// peakRSSMiB reads this process's VmHWM.
func peakRSSMiB(tb testing.TB) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kib, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kib / 1024
		}
	}
	tb.Fatal("no VmHWM in /proc/self/status")
	return 0
}
