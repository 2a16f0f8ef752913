package ldapsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store"
)

func manyPeople(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(person(fmt.Sprintf("u%05d", i), "User", fmt.Sprintf("N%d", i), fmt.Sprintf("u%05d@example.com", i)))
	}
	return b.String()
}

// limitedAccount is a second service account that keeps slapd's size limit.
const limitedDN = "cn=limited," + ldaptest.Suffix

func limitedAccountLDIF() string {
	return "dn: " + limitedDN + "\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: limited\nuserPassword: " +
		ldaptest.HashPassword("limited-secret") + "\n\n"
}

func TestPagingBeyondTheServerSizeLimit(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{SizeLimit: 500, LDIF: limitedAccountLDIF() + manyPeople(1200)})
	st := newStore(t)

	// The size limit applies to the limited account even when paging: the
	// run fails as a whole and writes nothing.
	limited := sourceFor(srv)
	limited.Name, limited.BindDN, limited.BindPassword = "limited", limitedDN, "limited-secret"
	limited.PageSize = 100
	s := newSyncer(t, st, limited)
	rep, err := s.SyncOnce(context.Background(), "limited", RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "Size Limit Exceeded") {
		t.Fatalf("limited account: err = %v, report %s", err, rep.Summary())
	}
	if n := countUsers(t, st); n != 0 {
		t.Fatalf("failed run wrote %d users", n)
	}
	if _, err := st.GetObject(context.Background(), StateKind, "limited"); !store.IsNotFound(err) {
		t.Fatalf("failed run saved state: %v", err)
	}

	// The sync account's limit is lifted; paging reads all 1,200 entries,
	// 100 a page, more than the 500 the server hands out per search.
	cfg := sourceFor(srv)
	cfg.PageSize, cfg.BatchSize = 100, 250
	s = newSyncer(t, st, cfg)
	rep = syncOnce(t, s, RunOptions{})
	if rep.ReadUsers != 1200 || rep.Users.Created != 1200 || countUsers(t, st) != 1200 {
		t.Fatalf("paged run: %s", rep.Summary())
	}
}

// cutProxy forwards TCP to target and, while armed, cuts every connection
// after the server has sent limit bytes: a directory dying mid-search.
type cutProxy struct {
	addr  string
	limit atomic.Int64 // < 0: never cut
}

func startCutProxy(t *testing.T, target string, limit int64) *cutProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{addr: l.Addr().String()}
	p.limit.Store(limit)
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(up, c); up.Close() }()
			go func() {
				defer wg.Done()
				if n := p.limit.Load(); n >= 0 {
					_, _ = io.CopyN(c, up, n)
				} else {
					_, _ = io.Copy(c, up)
				}
				c.Close()
				up.Close()
			}()
		}
	}()
	return p
}

func TestDirectoryDownMidSyncLeavesStoreUntouched(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: manyPeople(600) + groupOfNames("g", userDN("u00001"))})
	u, _ := url.Parse(srv.URL)
	proxy := startCutProxy(t, u.Host, 40_000)
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.URL = "ldap://" + proxy.addr
	s := newSyncer(t, st, cfg)

	activity := activityCount(t, st)
	rep, err := s.SyncOnce(context.Background(), "corp", RunOptions{})
	if err == nil {
		t.Fatalf("run through a connection cut mid-search succeeded: %s", rep.Summary())
	}
	if rep.ReadUsers == 0 || rep.ReadUsers >= 600 {
		t.Fatalf("the cut should fall mid-search; read %d users", rep.ReadUsers)
	}
	if n := countUsers(t, st); n != 0 || activityCount(t, st) != activity {
		t.Fatalf("failed run wrote to the store: %d users", n)
	}
	status := s.Status()[0]
	if status.ConsecutiveFailures != 1 || status.LastError == "" || status.LastRun == nil || status.LastRun.Error == "" {
		t.Fatalf("status after failure: %+v", status)
	}

	proxy.limit.Store(-1)
	rep = syncOnce(t, s, RunOptions{})
	if rep.Mode != "full" || rep.Users.Created != 600 || rep.Groups.Created != 1 {
		t.Fatalf("run after recovery: %s", rep.Summary())
	}
	if st := s.Status()[0]; st.ConsecutiveFailures != 0 || st.LastError != "" {
		t.Fatalf("status after recovery: %+v", st)
	}
}

func TestSchedulerRetriesWithBackoffUntilTheDirectoryIsBack(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "Alice", "A", "")})
	srv.Stop()
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.Interval = time.Hour
	cfg.RetryMin, cfg.RetryMax = 30*time.Millisecond, 120*time.Millisecond
	s := newSyncer(t, st, cfg)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor(t, 10*time.Second, "three failed attempts", func() bool { return s.Status()[0].ConsecutiveFailures >= 3 })
	// After three failures the wait has doubled twice, capped at retryMax.
	st0 := s.Status()[0]
	if wait := time.Until(st0.NextRun); wait > 2*cfg.RetryMax {
		t.Fatalf("next retry in %s, beyond retryMax %s", wait, cfg.RetryMax)
	}
	if n := countUsers(t, st); n != 0 {
		t.Fatalf("failed runs wrote %d users", n)
	}
	srv.Start()
	// After a success the scheduler is back to the normal interval.
	waitFor(t, 10*time.Second, "a successful run and the next one an interval away", func() bool {
		s := s.Status()[0]
		return !s.LastSuccess.IsZero() && s.ConsecutiveFailures == 0 && time.Until(s.NextRun) > 30*time.Minute
	})
	if mustUser(t, st, "alice").Source.Name != "corp" {
		t.Fatal("alice not synced after recovery")
	}
}

func TestBackoffDoublesUpToTheMaximum(t *testing.T) {
	cfg := SourceConfig{RetryMin: time.Second, RetryMax: 10 * time.Second}
	for failures, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 40: 10 * time.Second} {
		got := backoff(cfg, failures)
		if got < want || got > want+want/10 {
			t.Errorf("backoff after %d failures = %s, want %s (+10%% jitter)", failures, got, want)
		}
	}
}

func TestCrashMidApplyResumesOnNextRun(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: manyPeople(100)})
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.BatchSize = 10
	s := newSyncer(t, st, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Dies right after the first batch committed.
	_, err := s.SyncOnce(ctx, "corp", RunOptions{OnChange: func(Change) { cancel() }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v", err)
	}
	partial := countUsers(t, st)
	if partial == 0 || partial == 100 {
		t.Fatalf("interrupted run wrote %d users; want one batch", partial)
	}
	if _, err := st.GetObject(context.Background(), StateKind, "corp"); !store.IsNotFound(err) {
		t.Fatalf("interrupted run moved the watermark: %v", err)
	}
	rep := syncOnce(t, s, RunOptions{})
	if rep.Mode != "full" || rep.Users.Created != 100-partial || countUsers(t, st) != 100 {
		t.Fatalf("resumed run: %s (partial %d)", rep.Summary(), partial)
	}
}

func TestReferralsAreNotFollowedAndProgressIsLogged(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: manyPeople(300) +
		"dn: ou=branch," + ldaptest.PeopleDN + "\nobjectClass: referral\nobjectClass: extensibleObject\nou: branch\nref: ldap://branch.example.com/ou=people,dc=branch,dc=com\n\n"})
	st := newStore(t)
	var logs strings.Builder
	var mu sync.Mutex
	s, err := New(Config{Sources: []SourceConfig{sourceFor(srv)}}, st,
		slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s.spoolDir, s.progressEvery = t.TempDir(), 0
	rep := syncOnce(t, s, RunOptions{})
	if rep.Referrals != 1 || rep.Users.Created != 300 || rep.Failed != 0 {
		t.Fatalf("run: %s, %d referrals", rep.Summary(), rep.Referrals)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{`msg="ldapsync: progress" source=corp phase=read entries=`,
		`msg="ldapsync: progress" source=corp phase="write users"`, `msg="ldapsync: sync done" source=corp mode=full`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

// A run in which every entry fails (here AD users without an objectGUID)
// applied nothing: it is a failed run, for the status (and so /readyz),
// the admin endpoint and the exit code of scimbridge sync, and it keeps
// the watermark where it was.
func TestRunWhoseEveryEntryFailedIsAFailure(t *testing.T) {
	var ldif strings.Builder
	for i := range 3 {
		e := adUser(fmt.Sprintf("User %d", i), fmt.Sprintf("user%d", i), 512, 100+i, i)
		ldif.WriteString(e[:strings.Index(e, "objectGUID::")] + "\n")
	}
	srv := ldaptest.Start(t, ldaptest.Options{ADSchema: true, LDIF: ldif.String()})
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.Preset = PresetActiveDirectory
	s := newSyncer(t, st, cfg)
	rep, err := s.SyncOnce(context.Background(), "corp", RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "every entry failed: 3 skipped, none applied") ||
		!strings.Contains(err.Error(), "entry has no objectGUID") || rep.Failed != 3 {
		t.Fatalf("run: err %v, %s", err, rep.Summary())
	}
	status := s.Status()[0]
	if status.ConsecutiveFailures != 1 || status.LastError == "" || !status.LastSuccess.IsZero() {
		t.Fatalf("status after a run of failures: %+v", status)
	}
	if _, err := st.GetObject(context.Background(), StateKind, "corp"); !store.IsNotFound(err) {
		t.Fatalf("a failed run saved the watermark: %v", err)
	}
	var out strings.Builder
	err = RunCLI(context.Background(), nil, Config{Sources: []SourceConfig{cfg}}, st, testLogger(t), &out)
	if err == nil || !strings.Contains(out.String(), "3 failed") {
		t.Fatalf("sync command: err %v\n%s", err, out.String())
	}
	// One good entry makes the run a success with skipped entries.
	srv.Modify(t, "dn: cn=Good,"+ldaptest.PeopleDN+"\nchangetype: add\nobjectClass: user\ncn: Good\nsn: G\nsAMAccountName: good\n"+
		"userAccountControl: 512\nuSNChanged: 300\nobjectGUID:: "+guidBytes(9)+"\n")
	rep = syncOnce(t, s, RunOptions{})
	if rep.Failed != 3 || rep.Users.Created != 1 {
		t.Fatalf("run with one good entry: %s", rep.Summary())
	}
}

// A failed run started by an operator (admin endpoint, CLI) brings the
// scheduler's next retry forward instead of waiting out the interval.
func TestFailedAdminRunBringsTheRetryForward(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "Alice", "A", "")})
	st := newStore(t)
	cfg := sourceFor(srv)
	cfg.Interval = time.Hour
	cfg.RetryMin, cfg.RetryMax = 50*time.Millisecond, 100*time.Millisecond
	s := newSyncer(t, st, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, 10*time.Second, "the first scheduled run", func() bool {
		st := s.Status()[0]
		return !st.LastSuccess.IsZero() && time.Until(st.NextRun) > 30*time.Minute
	})

	srv.Stop()
	if _, err := s.SyncOnce(context.Background(), "corp", RunOptions{}); err == nil {
		t.Fatal("run against a stopped directory succeeded")
	}
	waitFor(t, 5*time.Second, "the retry to be scheduled within the backoff", func() bool {
		return time.Until(s.Status()[0].NextRun) < time.Second
	})
	srv.Start()
	waitFor(t, 10*time.Second, "the scheduled retry to succeed", func() bool {
		st := s.Status()[0]
		return st.ConsecutiveFailures == 0 && time.Until(st.NextRun) > 30*time.Minute
	})
}
