// Package ldapsync pulls users and groups from LDAP directories and Active
// Directory into the store, continuously and cheaply.
//
// A run has two phases. The fetch phase reads the directory with paged
// searches (only what changed since the watermark, in an incremental run)
// and spools the entries to a temporary file; it writes nothing, so a
// directory that fails mid-way leaves the store untouched. The apply phase
// then writes the entries in batches, one store transaction per batch, and
// finally moves the watermark, which lives in the store: a crash anywhere
// loses nothing, and the next run repeats the work it did not finish.
// Every synced user and group remembers its directory identity (entryUUID,
// objectGUID), so renames and moves are updates.
package ldapsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
)

// StateKind is the store object kind holding each source's sync state.
const StateKind = "ldapsync.state"

// Errors SyncOnce returns before doing anything.
var (
	ErrUnknownSource = errors.New("ldapsync: unknown source")
	ErrRunning       = errors.New("ldapsync: a sync of this source is already running")
)

// bindTimeout bounds a login bind.
const bindTimeout = 15 * time.Second

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("ldapsync: dry run")

// RunLocker is implemented by stores that several scimbridge nodes share
// (store/postgres): TryLock takes a lock held across all of them, so that
// each source is synced by one node at a time. The lock goes with the node:
// when it dies, another takes over on its next scheduled try.
type RunLocker interface {
	TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error)
}

// Syncer runs the configured sources.
type Syncer struct {
	st      store.Store
	log     *slog.Logger
	sources []*source
	byName  map[string]*source

	// spoolDir holds fetch spools ("" is the system temp dir).
	spoolDir      string
	progressEvery time.Duration
	now           func() time.Time

	// out delivers the doors' changes to the write-back sources; nil when
	// no source writes back.
	out *outbound

	mu     sync.Mutex
	runCtx context.Context // set by Run; admin-triggered runs end with it
	bg     sync.WaitGroup
}

// source is one directory with its runtime status.
type source struct {
	cfg SourceConfig
	dir *directory
	m   *mapper

	running sync.Mutex // one run at a time
	// ran tells the scheduler that a run it did not start (admin, CLI)
	// finished, so that a failure brings the next retry forward.
	ran chan struct{}

	mu     sync.Mutex
	status SourceStatus
	// kept is the timing of the runs since the state was last stored (see
	// keepOrSave); nil when the stored state is current. Only the run
	// holding running reads or writes it.
	kept *keptTiming
}

// keptTiming is what a run that changed nothing leaves in memory instead
// of storing: when it ran, and the version of the stored state it
// belongs to.
type keptTiming struct {
	version     int64
	lastFull    time.Time
	lastSuccess time.Time
	lastRun     *Report
}

// SourceStatus is a source's sync status, for the admin endpoint,
// /readyz and /metrics.
type SourceStatus struct {
	Name    string `json:"name"`
	Running bool   `json:"running"`
	// LastRun is the last run that finished, successful or not (dry runs
	// excluded).
	LastRun             *Report   `json:"lastRun,omitempty"`
	LastSuccess         time.Time `json:"lastSuccess,omitzero"`
	LastFullSync        time.Time `json:"lastFullSync,omitzero"`
	LastError           string    `json:"lastError,omitempty"`
	ConsecutiveFailures int       `json:"consecutiveFailures"`
	NextRun             time.Time `json:"nextRun,omitzero"`
	Watermark           string    `json:"watermark,omitempty"`
}

// state is what the store keeps per source (kind StateKind, name = source).
type state struct {
	Watermark string `json:"watermark,omitempty"`
	Detection string `json:"detection,omitempty"`
	// Server is the AD domain controller the USN watermark belongs to.
	Server string `json:"server,omitempty"`
	// Cookies are the RFC 4533 sync cookies, per search ("users", "groups").
	Cookies     map[string]string `json:"cookies,omitempty"`
	LastFull    time.Time         `json:"lastFull,omitzero"`
	LastSuccess time.Time         `json:"lastSuccess,omitzero"`
	LastRun     *Report           `json:"lastRun,omitempty"`
}

// New prepares a syncer; it contacts no directory until asked.
func New(cfg Config, st store.Store, log *slog.Logger) (*Syncer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Syncer{st: st, log: log, byName: map[string]*source{}, progressEvery: 5 * time.Second, now: time.Now}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, raw := range cfg.Sources {
		c := raw.withDefaults()
		dir, err := newDirectory(c, log)
		if err != nil {
			return nil, err
		}
		src := &source{cfg: c, dir: dir, m: newMapper(c, s.clock), ran: make(chan struct{}, 1)}
		src.status.Name = c.Name
		if saved, _, err := s.loadState(ctx, c.Name); err != nil {
			return nil, fmt.Errorf("source %s: read sync state: %w", c.Name, err)
		} else {
			src.status.LastRun, src.status.LastSuccess = saved.LastRun, saved.LastSuccess
			src.status.LastFullSync, src.status.Watermark = saved.LastFull, saved.Watermark
		}
		s.sources = append(s.sources, src)
		s.byName[c.Name] = src
	}
	var err error
	if s.out, err = newOutbound(s, s.sources); err != nil {
		return nil, err
	}
	if err := s.recordChanges(ctx); err != nil {
		return nil, fmt.Errorf("turn the store's outbox on or off: %w", err)
	}
	return s, nil
}

// recordChanges has the store record the doors' changes in its outbox
// exactly while a source writes back, so that nothing accumulates there
// for no reader.
func (s *Syncer) recordChanges(ctx context.Context) error {
	st, err := s.st.OutboxStats(ctx)
	if err != nil {
		return err
	}
	want := s.out != nil
	if st.Enabled == want {
		return nil
	}
	return s.st.Write(ctx, writeBackActor, func(tx store.Tx) error { return tx.SetOutbox(ctx, want) })
}

// Sources names the configured sources in configuration order.
func (s *Syncer) Sources() []string {
	out := make([]string, len(s.sources))
	for i, src := range s.sources {
		out[i] = src.cfg.Name
	}
	return out
}

// Status returns every source's status.
func (s *Syncer) Status() []SourceStatus {
	out := make([]SourceStatus, len(s.sources))
	for i, src := range s.sources {
		src.mu.Lock()
		out[i] = src.status
		src.mu.Unlock()
	}
	return out
}

// clock is the syncer's now, read when called (tests replace s.now).
func (s *Syncer) clock() time.Time { return s.now() }

func (s *Syncer) loadState(ctx context.Context, name string) (*state, int64, error) {
	obj, err := s.st.GetObject(ctx, StateKind, name)
	if store.IsNotFound(err) {
		return &state{}, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	st := &state{}
	if err := json.Unmarshal(obj.Doc, st); err != nil {
		return nil, 0, fmt.Errorf("decode %s/%s: %w", StateKind, name, err)
	}
	return st, obj.Version, nil
}

// SyncOnce runs one sync of the named source now: incremental when a
// watermark allows it, else (or with opts.Full) full.
func (s *Syncer) SyncOnce(ctx context.Context, name string, opts RunOptions) (*Report, error) {
	src := s.byName[name]
	if src == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownSource, name)
	}
	if !src.running.TryLock() {
		return nil, ErrRunning
	}
	defer src.running.Unlock()
	if l, ok := s.st.(RunLocker); ok {
		unlock, got, err := l.TryLock(ctx, "ldapsync:"+name)
		if err != nil {
			return nil, fmt.Errorf("ldapsync: take the run lock: %w", err)
		}
		if !got {
			return nil, ErrRunning // on another node
		}
		defer unlock()
	}
	src.setRunning(true)
	defer src.setRunning(false)

	rep := &Report{Source: name, Started: s.now().UTC(), DryRun: opts.DryRun}
	run, err := s.syncOnce(ctx, src, opts, rep)
	rep.Duration = s.now().Sub(rep.Started)
	rep.Seconds = rep.Duration.Seconds()
	var st *state
	if err == nil {
		st = run.next
		if !opts.DryRun {
			// The watermark moves only after everything is written.
			st.LastRun = rep
			if err = s.keepOrSave(ctx, src, run); err != nil {
				err = fmt.Errorf("save sync state: %w", err)
			}
		}
	}
	if err != nil {
		rep.Error = err.Error()
	}
	s.logRun(rep, err)
	if !opts.DryRun {
		src.finish(rep, st, err)
		if !opts.scheduled {
			select {
			case src.ran <- struct{}{}:
			default:
			}
		}
	}
	return rep, err
}

// logRun logs a finished run and the entries it skipped.
func (s *Syncer) logRun(rep *Report, err error) {
	name := rep.Source
	attrs := []any{slog.String("source", name), slog.String("mode", rep.Mode), slog.Bool("dryRun", rep.DryRun),
		slog.Duration("duration", rep.Duration), slog.Int("readUsers", rep.ReadUsers), slog.Int("readGroups", rep.ReadGroups),
		slog.Any("users", rep.Users), slog.Any("groups", rep.Groups), slog.Int("membershipChanges", rep.MembershipChanges),
		slog.Int("failed", rep.Failed)}
	for _, e := range rep.Errors {
		s.log.Warn("ldapsync: skipped entry", slog.String("source", name), slog.String("dn", e.DN), slog.String("error", e.Error))
	}
	if err != nil {
		s.log.Error("ldapsync: sync failed; the store is unchanged by the failed part", append(attrs, slog.String("error", err.Error()))...)
		return
	}
	s.log.Info("ldapsync: sync done", attrs...)
}

// runState is the state a run started from (as stored, at version, with
// the timing kept in memory since) and the state it leaves.
type runState struct {
	prev    *state
	version int64
	next    *state
}

// syncOnce is one run: choose the mode, read the directory, prepare and
// check the writes, write. It returns the state to save.
func (s *Syncer) syncOnce(ctx context.Context, src *source, opts RunOptions, rep *Report) (*runState, error) {
	st, version, err := s.loadState(ctx, src.cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("read sync state: %w", err)
	}
	if k := src.kept; k != nil && k.version == version {
		st.LastFull, st.LastSuccess, st.LastRun = k.lastFull, k.lastSuccess, k.lastRun
	}
	rep.Mode, rep.Reason = runMode(src.cfg, st, opts, s.now())
	readStart := s.now()
	f, err := s.fetch(ctx, src, st, rep)
	rep.ReadSeconds = s.now().Sub(readStart).Seconds()
	if err != nil {
		return nil, fmt.Errorf("read directory: %w", err)
	}
	writeStart := s.now()
	defer func() { rep.WriteSeconds = s.now().Sub(writeStart).Seconds() }()
	defer f.close()
	rep.Watermark = f.watermark

	a := s.newApplier(src, opts, rep, f)
	gone, err := a.prepare(ctx, f)
	if err != nil {
		return nil, err
	}
	run := &runState{prev: st, version: version, next: s.nextState(src.cfg, st, f, rep)}
	if opts.DryRun {
		if err := a.dryRun(ctx, f, gone); err != nil {
			return nil, err
		}
		return run, rep.onlyFailures()
	}
	if err := a.apply(ctx, f, gone); err != nil {
		return nil, fmt.Errorf("write store: %w", err)
	}
	return run, rep.onlyFailures()
}

// runMode says whether a run is full or incremental, and why it is full.
func runMode(cfg SourceConfig, st *state, opts RunOptions, now time.Time) (mode, reason string) {
	switch {
	case opts.Full:
		return "full", "requested"
	case cfg.ChangeDetection == DetectNone:
		return "full", "change detection is off"
	case st.Watermark == "":
		return "full", "no watermark yet"
	case st.Detection != cfg.ChangeDetection:
		return "full", "change detection changed"
	case now.Sub(st.LastFull) >= cfg.FullSyncInterval:
		return "full", "periodic reconciliation (full_sync_interval)"
	}
	return "incremental", ""
}

// nextState is the state a successful run leaves: the new watermark and
// cookies, and when the last full run was.
func (s *Syncer) nextState(cfg SourceConfig, st *state, f *fetched, rep *Report) *state {
	next := &state{Watermark: f.watermark, Detection: cfg.ChangeDetection, Server: f.server, Cookies: f.cookies,
		LastFull: st.LastFull, LastSuccess: s.now().UTC()}
	if rep.Mode == "full" {
		next.LastFull = rep.Started
	}
	return next
}

func (src *source) setRunning(b bool) {
	src.mu.Lock()
	src.status.Running = b
	src.mu.Unlock()
}

func (src *source) isRunning() bool {
	src.mu.Lock()
	defer src.mu.Unlock()
	return src.status.Running
}

func (src *source) setNext(t time.Time) {
	src.mu.Lock()
	src.status.NextRun = t
	src.mu.Unlock()
}

// keepOrSave stores the state a successful run leaves, unless it differs
// from the stored one only in when runs happened: a run that changed
// nothing opens no write transaction (issue 16), so its timing stays in
// memory until a run that changes something stores it too. A restart
// forgets that timing: the status shows the last stored run, and a full
// run that was due before an unchanged one may run once more.
func (s *Syncer) keepOrSave(ctx context.Context, src *source, run *runState) error {
	prev, next := run.prev, run.next
	if run.version != 0 && prev.Watermark == next.Watermark && prev.Detection == next.Detection &&
		prev.Server == next.Server && maps.Equal(prev.Cookies, next.Cookies) {
		src.kept = &keptTiming{version: run.version, lastFull: next.LastFull, lastSuccess: next.LastSuccess, lastRun: next.LastRun}
		return nil
	}
	if err := s.saveState(ctx, src.cfg.Name, next); err != nil {
		return err
	}
	src.kept = nil
	return nil
}

// saveState stores a source's state after a successful run.
func (s *Syncer) saveState(ctx context.Context, name string, st *state) error {
	doc, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.st.Write(ctx, store.Actor{Door: "ldapsync", Principal: name}, func(tx store.Tx) error {
		return tx.PutObject(ctx, &store.Object{Kind: StateKind, Name: name, Doc: doc}, 0)
	})
}

// finish records a run in the status.
func (src *source) finish(rep *Report, st *state, err error) {
	src.mu.Lock()
	defer src.mu.Unlock()
	src.status.LastRun = rep
	if err != nil {
		src.status.LastError = err.Error()
		src.status.ConsecutiveFailures++
		return
	}
	src.status.LastError, src.status.ConsecutiveFailures = "", 0
	src.status.LastSuccess, src.status.LastFullSync = st.LastSuccess, st.LastFull
	src.status.Watermark = st.Watermark
}

// Run runs each source on its interval until ctx ends: the first run at
// once, then every interval; after a failure it retries with exponential
// backoff between retry_min and retry_max.
func (s *Syncer) Run(ctx context.Context) {
	s.mu.Lock()
	s.runCtx = ctx
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, src := range s.sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.schedule(ctx, src)
		}()
	}
	if s.out != nil {
		wg.Go(func() { s.out.run(ctx) })
	}
	wg.Wait()
	s.bg.Wait()
}

func (s *Syncer) schedule(ctx context.Context, src *source) {
	var delay time.Duration
	failures := 0
	for {
		if !s.wait(ctx, src, delay, &failures) {
			return
		}
		_, err := s.SyncOnce(ctx, src.cfg.Name, RunOptions{scheduled: true})
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrRunning):
			delay = src.cfg.RetryMin
		case err != nil:
			failures++
			delay = backoff(src.cfg, failures)
			s.log.Warn("ldapsync: will retry", slog.String("source", src.cfg.Name), slog.Duration("in", delay),
				slog.Int("consecutiveFailures", failures))
		default:
			failures = 0
			delay = src.cfg.Interval
		}
	}
}

// wait waits delay before the next scheduled run, or less when a run the
// scheduler did not start (admin, CLI) finishes meanwhile: after a failed
// one the retry follows the backoff from its end, after a successful one
// the next run is an interval away. It returns false when ctx ends.
func (s *Syncer) wait(ctx context.Context, src *source, delay time.Duration, failures *int) bool {
	next := s.now().Add(delay)
	for {
		src.setNext(next)
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
			return true
		case <-src.ran:
			t.Stop()
			src.mu.Lock()
			*failures = src.status.ConsecutiveFailures
			src.mu.Unlock()
			if *failures == 0 {
				next = s.now().Add(src.cfg.Interval)
			} else if retry := s.now().Add(backoff(src.cfg, *failures)); retry.Before(next) {
				next = retry
			}
		}
	}
}

// backoff doubles the wait after each consecutive failure, from retry_min up
// to retry_max, with up to 10% jitter so sources do not retry in lockstep.
func backoff(cfg SourceConfig, failures int) time.Duration {
	d := cfg.RetryMin
	for i := 1; i < failures && d < cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, cfg.RetryMax)
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}

// Bind checks a password by binding as dn to the named source: wrong
// credentials give auth.ErrInvalidCredentials, an unreachable directory
// another error.
func (s *Syncer) Bind(ctx context.Context, sourceName, dn, password string) error {
	src := s.byName[sourceName]
	if src == nil {
		return fmt.Errorf("%w %q", ErrUnknownSource, sourceName)
	}
	// An empty password would be an unauthenticated bind, which succeeds.
	if password == "" || dn == "" {
		return auth.ErrInvalidCredentials
	}
	conn, err := src.dir.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Someone is waiting to log in: a hung directory must not hold them
	// for the sync's long request timeout.
	conn.SetTimeout(min(src.cfg.RequestTimeout, bindTimeout))
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := conn.Bind(dn, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return auth.ErrInvalidCredentials
		}
		return fmt.Errorf("ldapsync: bind to %s: %w", sourceName, err)
	}
	return nil
}

var _ auth.DirectoryBinder = (*Syncer)(nil)
