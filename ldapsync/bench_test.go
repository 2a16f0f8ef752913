package ldapsync

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store"
)

// Benchmark sizes from the issue: 100,000 users and 1,000 groups of 100.
const (
	benchUsers        = 100_000
	benchGroups       = 1_000
	benchGroupMembers = 100
)

// writeFixture writes an LDIF file of users and groups for slapadd.
func writeFixture(tb testing.TB, users, groups, members int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "fixture.ldif")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range users {
		fmt.Fprintf(w, "dn: uid=u%06d,%s\nobjectClass: inetOrgPerson\nuid: u%06d\ncn: User %d\ngivenName: User\nsn: N%d\nmail: u%06d@example.com\ntitle: Engineer\nemployeeNumber: %d\n\n",
			i, ldaptest.PeopleDN, i, i, i, i, i)
	}
	for g := range groups {
		fmt.Fprintf(w, "dn: cn=g%04d,%s\nobjectClass: groupOfNames\ncn: g%04d\n", g, ldaptest.GroupsDN, g)
		for m := range members {
			fmt.Fprintf(w, "member: uid=u%06d,%s\n", (g*members+m)%users, ldaptest.PeopleDN)
		}
		w.WriteString("\n")
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// heapPeak samples the live heap while a run goes on.
type heapPeak struct {
	peak atomic.Uint64
	stop chan struct{}
	wg   sync.WaitGroup
}

func watchHeap() *heapPeak {
	h := &heapPeak{stop: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		var m runtime.MemStats
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > h.peak.Load() {
				h.peak.Store(m.HeapInuse)
			}
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapPeak) done() float64 {
	close(h.stop)
	h.wg.Wait()
	return float64(h.peak.Load()) / (1 << 20)
}

// BenchmarkFullImport imports 100,000 users and 1,000 groups × 100 members
// from slapd into an empty store. Run with:
//
//	go test -run '^$' -bench FullImport -benchtime 1x ./ldapsync/
func BenchmarkFullImport(b *testing.B) {
	srv := ldaptest.Start(b, ldaptest.Options{LDIFFile: writeFixture(b, benchUsers, benchGroups, benchGroupMembers)})
	for b.Loop() {
		b.StopTimer()
		st := newStore(b)
		cfg := sourceFor(srv)
		cfg.PageSize, cfg.BatchSize = 1000, 1000
		s := newSyncer(b, st, cfg)
		runtime.GC()
		heap := watchHeap()
		b.StartTimer()
		rep, err := s.SyncOnce(context.Background(), "corp", RunOptions{})
		b.StopTimer()
		peak := heap.done()
		if err != nil || rep.Users.Created != benchUsers || rep.Groups.Created != benchGroups || rep.MembershipChanges != benchGroups || rep.Failed != 0 {
			b.Fatalf("import: %v %s", err, rep.Summary())
		}
		b.ReportMetric(peak, "peak-heap-MiB")
		b.ReportMetric(float64(benchUsers)/rep.Duration.Seconds(), "users/s")
		b.Logf("%s; peak heap %.0f MiB", rep.Summary(), peak)
		b.StartTimer()
	}
}

// BenchmarkIncremental100Changes measures an incremental run after 100
// users changed, on top of the full 100,000-user import. The run reads the
// keys of the whole scope to find deletions (find_deletions: every_run).
func BenchmarkIncremental100Changes(b *testing.B) {
	benchmarkIncremental(b, FindDeletionsEveryRun)
}

// BenchmarkIncremental100ChangesWithoutKeysSearch is the same run with
// find_deletions: full_runs, which reads only the changed entries.
func BenchmarkIncremental100ChangesWithoutKeysSearch(b *testing.B) {
	benchmarkIncremental(b, FindDeletionsFullRuns)
}

func benchmarkIncremental(b *testing.B, findDeletions string) {
	srv := ldaptest.Start(b, ldaptest.Options{LDIFFile: writeFixture(b, benchUsers, benchGroups, benchGroupMembers)})
	st := newStore(b)
	cfg := sourceFor(srv)
	cfg.PageSize, cfg.BatchSize = 1000, 1000
	cfg.FindDeletions = findDeletions
	s := newSyncer(b, st, cfg)
	if rep, err := s.SyncOnce(context.Background(), "corp", RunOptions{}); err != nil {
		b.Fatalf("initial import: %v %s", err, rep.Summary())
	}
	round := 0
	for b.Loop() {
		b.StopTimer()
		round++
		var ldif strings.Builder
		for i := range 100 {
			fmt.Fprintf(&ldif, "dn: uid=u%06d,%s\nchangetype: modify\nreplace: title\ntitle: Round %d\n\n", (i*997+round)%benchUsers, ldaptest.PeopleDN, round)
		}
		srv.Modify(b, ldif.String())
		b.StartTimer()
		rep, err := s.SyncOnce(context.Background(), "corp", RunOptions{})
		b.StopTimer()
		if err != nil || rep.Mode != "incremental" || rep.Users.Updated != 100 {
			b.Fatalf("incremental: %v %s", err, rep.Summary())
		}
		b.Logf("%s", rep.Summary())
		b.StartTimer()
	}
}

// BenchmarkFullResyncUnchanged measures the periodic full reconciliation
// of the 100,000-user directory when nothing changed: everything is read
// and compared, nothing is written.
func BenchmarkFullResyncUnchanged(b *testing.B) {
	srv := ldaptest.Start(b, ldaptest.Options{LDIFFile: writeFixture(b, benchUsers, benchGroups, benchGroupMembers)})
	st := newStore(b)
	cfg := sourceFor(srv)
	cfg.PageSize, cfg.BatchSize = 1000, 1000
	s := newSyncer(b, st, cfg)
	if rep, err := s.SyncOnce(context.Background(), "corp", RunOptions{}); err != nil {
		b.Fatalf("initial import: %v %s", err, rep.Summary())
	}
	for b.Loop() {
		rep, err := s.SyncOnce(context.Background(), "corp", RunOptions{Full: true})
		if err != nil || rep.Users.Unchanged != benchUsers || rep.Users.Updated+rep.MembershipChanges != 0 {
			b.Fatalf("resync: %v %s", err, rep.Summary())
		}
		b.Logf("%s", rep.Summary())
	}
}

// BenchmarkWriteBackBacklog measures one write-back pass over a backlog of
// 1,000 new users (as after an outage), each an add, a read of its
// entryUUID and a link in the store, in one pass.
func BenchmarkWriteBackBacklog(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		srv := writableServer(b, ldaptest.Options{})
		st := newStore(b)
		s := newSyncer(b, st, writeBackFor(b, srv))
		for i := range 1000 {
			createUser(b, s, st, &store.User{UserName: fmt.Sprintf("bl%04d", i), Active: true,
				Name: store.Name{GivenName: "Back", FamilyName: fmt.Sprintf("Log %d", i)}})
		}
		b.StartTimer()
		start := time.Now()
		rep, err := s.DeliverOnce(context.Background(), DeliverOptions{})
		took := time.Since(start)
		b.StopTimer()
		if err != nil || rep.Delivered != 1000 {
			b.Fatalf("pass: %v %+v", err, rep)
		}
		b.ReportMetric(1000/took.Seconds(), "changes/s")
		b.StartTimer()
	}
}

// BenchmarkUnchangedFullSync2000 measures the full run of a directory of
// 2,000 users and 20 groups × 100 that changed since the last run not at
// all (issue 16: such a run spent 4.4 s in write transactions under
// load), idle and while another writer keeps the store busy, as the doors
// do under load (500 creates a second). It reports the write
// transactions a run opens.
//
//	go test -run '^$' -bench UnchangedFullSync2000 -benchtime 20x ./ldapsync/
func BenchmarkUnchangedFullSync2000(b *testing.B) {
	const users, groups = 2000, 20
	srv := ldaptest.Start(b, ldaptest.Options{LDIFFile: writeFixture(b, users, groups, benchGroupMembers)})
	for _, load := range []bool{false, true} {
		name := "idle"
		if load {
			name = "under-write-load"
		}
		b.Run(name, func(b *testing.B) {
			st := &writeCounter{Store: newStore(b)}
			s := newSyncer(b, st, sourceFor(srv))
			if rep, err := s.SyncOnce(context.Background(), "corp", RunOptions{}); err != nil {
				b.Fatalf("initial import: %v %s", err, rep.Summary())
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			if load {
				// Doors creating users at 500 a second from 8 clients, one
				// user per transaction: the sync's write transactions queue
				// behind theirs.
				var n atomic.Int64
				for range 8 {
					wg.Go(func() {
						tick := time.NewTicker(16 * time.Millisecond)
						defer tick.Stop()
						for {
							select {
							case <-ctx.Done():
								return
							case <-tick.C:
							}
							u := &store.User{UserName: fmt.Sprintf("load%07d", n.Add(1)), Active: true}
							_ = st.Store.Write(ctx, store.Actor{Door: "scim", Principal: "bench"}, func(tx store.Tx) error {
								return tx.CreateUser(ctx, u)
							})
						}
					})
				}
			}
			var writes, writeNs int64
			for b.Loop() {
				w, ns := st.writes.Load(), st.writeNs.Load()
				rep, err := s.SyncOnce(context.Background(), "corp", RunOptions{Full: true})
				if err != nil || rep.Users.Unchanged != users || rep.Users.Updated+rep.MembershipChanges != 0 {
					b.Fatalf("resync: %v %s", err, rep.Summary())
				}
				// The doors' writes run through st.Store, uncounted.
				writes, writeNs = writes+st.writes.Load()-w, writeNs+st.writeNs.Load()-ns
			}
			b.ReportMetric(float64(writes)/float64(b.N), "write-txns/op")
			b.ReportMetric(time.Duration(writeNs/int64(b.N)).Seconds(), "s-in-write-txns/op")
			cancel()
			wg.Wait()
		})
	}
}
