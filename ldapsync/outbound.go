package ldapsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimbridge/scimbridge/store"
)

// The delivery of the outbox (store/outbox.go) to the write-back sources.
//
// A pass reads the outbox in sequence order and turns each entry into the
// LDAP operations it stands for (writeops.go). Order holds per object (a
// user, a group with its memberships): once an entry of an object fails,
// is waiting for a retry or is dead, the object's later entries wait too,
// and so does a membership change whose member waits. A delivered entry is
// deleted from the outbox (acked); a failed one is deferred with its error
// and exponential backoff, and dead after max_attempts, or at once when the
// directory refuses it for good (a schema or naming violation): an operator
// retries dead entries over the admin API or the CLI. A directory that
// cannot be reached fails no entry: the source backs off as a whole and its
// entries stay pending, however long the outage.
//
// Every operation is safe to repeat, because a crash between the directory
// write and the ack repeats it: an add that finds its entry links to it, a
// replace writes the same values, an added member already there or a
// removed one already gone is done.

// writeBackActor is who the delivery's own store writes (links, acks) are
// by: the sync's door, which the outbox does not record.
var writeBackActor = store.Actor{Door: "ldapsync", Principal: "write-back"}

// outbound delivers the outbox.
type outbound struct {
	s       *Syncer
	sources []*wbSource // write-back enabled, in configuration order
	creator *wbSource   // creates unknown users and groups; nil: none
	seal    *sealer     // nil: passwords are not written
	poll    time.Duration
	wakeCh  chan struct{}

	mu sync.Mutex // one pass at a time

	smu    sync.Mutex
	counts outboundCounts
}

type outboundCounts struct {
	delivered, skipped, failed int64
	lastDelivery               time.Time
	lastError                  string
	lastErrorAt                time.Time
}

// newOutbound prepares write-back for the sources that enable it; nil when
// none does.
func newOutbound(s *Syncer, sources []*source) (*outbound, error) {
	o := &outbound{s: s, wakeCh: make(chan struct{}, 1), poll: time.Hour}
	for _, src := range sources {
		w := src.cfg.WriteBack
		if !w.Enabled {
			continue
		}
		ws, err := newWBSource(src)
		if err != nil {
			return nil, err
		}
		o.sources = append(o.sources, ws)
		if w.creates() {
			o.creator = ws
		}
		o.poll = min(o.poll, w.PollInterval)
		if w.PasswordKeyFile != "" && o.seal == nil {
			key, err := readSealKey(w.PasswordKeyFile)
			if err != nil {
				return nil, fmt.Errorf("source %s: write_back.password_key_file: %w", src.cfg.Name, err)
			}
			if o.seal, err = newSealer(key); err != nil {
				return nil, err
			}
		}
	}
	if len(o.sources) == 0 {
		return nil, nil
	}
	return o, nil
}

// wake asks for a pass now.
func (o *outbound) wake() {
	select {
	case o.wakeCh <- struct{}{}:
	default:
	}
}

// run delivers until ctx ends: whenever a door wrote, and every poll
// interval.
func (o *outbound) run(ctx context.Context) {
	t := time.NewTicker(o.poll)
	defer t.Stop()
	for {
		if _, err := o.deliver(ctx, DeliverOptions{}); err != nil && ctx.Err() == nil && !errors.Is(err, ErrRunning) {
			o.s.log.Warn("ldapsync: write-back pass failed", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-o.wakeCh:
		case <-t.C:
		}
	}
}

// DeliverOnce runs one write-back pass now: every due change of the
// outbox, in order. It is an error when no source writes back.
func (s *Syncer) DeliverOnce(ctx context.Context, opts DeliverOptions) (*DeliveryReport, error) {
	if s.out == nil {
		return nil, ErrNoWriteBack
	}
	return s.out.deliver(ctx, opts)
}

// RetryDead makes every dead change pending again (due at once, attempts
// reset) and wakes the delivery; it returns how many it revived.
func (s *Syncer) RetryDead(ctx context.Context, seqs ...int64) (int, error) {
	if s.out == nil {
		return 0, ErrNoWriteBack
	}
	var n int
	err := s.st.Write(ctx, writeBackActor, func(tx store.Tx) error {
		var err error
		n, err = tx.RetryOutbox(ctx, seqs...)
		return err
	})
	if err == nil {
		s.out.wake()
	}
	return n, err
}

// ErrNoWriteBack is the answer of the write-back calls when no source has
// write_back.enabled.
var ErrNoWriteBack = errors.New("ldapsync: no source has write_back.enabled")

// sourceFor finds the write-back source of a resource linked to src (by
// name), or the creating source for an unlinked one; nil when none writes
// it.
func (o *outbound) sourceFor(src store.Source, typ string) *wbSource {
	if src.Name != "" {
		for _, w := range o.sources {
			if w.src.cfg.Name == src.Name {
				return w
			}
		}
		return nil
	}
	if o.creator != nil && (typ == "User" || o.creator.cfg.GroupBase != "") {
		return o.creator
	}
	return nil
}

// DeliverOptions change one pass.
type DeliverOptions struct {
	// DryRun plans the operations and sends none, acking nothing.
	DryRun bool
	// OnDelivery, when set, hears every entry the pass handled (after the
	// commit that records it, or as planned in a dry run).
	OnDelivery func(Delivery)
}

// Delivery is what a pass did with one outbox entry.
type Delivery struct {
	Seq     int64    `json:"seq"`
	Action  string   `json:"action"`
	Object  string   `json:"object"` // e.g. "User alice"
	Door    string   `json:"door"`
	Source  string   `json:"source,omitempty"`
	Outcome string   `json:"outcome"` // delivered, skipped, failed, dead, planned
	Ops     []string `json:"operations,omitempty"`
	Note    string   `json:"note,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// DeliveryReport sums up a pass: changes delivered, skipped (nothing to
// write, or not for a directory), planned (a dry run), failed (of which
// dead) and waiting (behind a failed change, or for a directory).
type DeliveryReport struct {
	Delivered int `json:"delivered"`
	Skipped   int `json:"skipped"`
	Planned   int `json:"planned,omitempty"`
	Failed    int `json:"failed"`
	Dead      int `json:"dead"`
	Waiting   int `json:"waiting"`
}

// The outcomes of an entry in a pass.
const (
	outcomeDelivered = "delivered"
	outcomeSkipped   = "skipped"
	outcomeFailed    = "failed"
	outcomeDead      = "dead"
	outcomePlanned   = "planned"
)

// pageSize is how many outbox entries a pass reads and commits at a time.
const pageSize = 200

// pass is one delivery pass's state.
type pass struct {
	o    *outbound
	opts DeliverOptions
	now  time.Time
	// blocked holds objects whose earlier entry did not go through: their
	// later entries wait.
	blocked map[string]bool
	// links are links made in this pass and not yet committed (object →
	// source link, or a zero Source for an entry deleted in this pass).
	links map[string]store.Source
	conns map[*wbSource]*ldap.Conn
	down  map[*wbSource]error
	rep   DeliveryReport
	// the current page's results, committed together.
	results []*result
}

// result is the outcome of one entry (or a run of membership entries).
type result struct {
	entries []*store.OutboxEntry
	d       Delivery
	ok      bool
	err     error
	dead    bool
	// link is a directory link to store on the resource (object type and
	// id) in the commit; dropPassword a sealed password to delete.
	linkType, linkID string
	link             *store.Source
	dropPassword     string
	// pwdChanged is the password-change time read back from the entry of
	// user pwdChangedID after its password was written (see
	// readPasswordChanged).
	pwdChangedID, pwdChanged string
}

// deliver runs one pass over the outbox.
//
// On a store several nodes share, a pass (other than a dry run) runs
// under the cluster-wide lock "ldapsync:write-back": passes overlapping on
// two nodes could write an object's changes out of order. A node that
// finds it taken gets ErrRunning; the holder delivers the entries.
func (o *outbound) deliver(ctx context.Context, opts DeliverOptions) (*DeliveryReport, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if l, ok := o.s.st.(RunLocker); ok && !opts.DryRun {
		unlock, got, err := l.TryLock(ctx, "ldapsync:write-back")
		if err != nil {
			return &DeliveryReport{}, fmt.Errorf("ldapsync: take the write-back lock: %w", err)
		}
		if !got {
			return &DeliveryReport{}, ErrRunning
		}
		defer unlock()
	}
	p := &pass{o: o, opts: opts, now: o.s.now(), blocked: map[string]bool{}, links: map[string]store.Source{},
		conns: map[*wbSource]*ldap.Conn{}, down: map[*wbSource]error{}}
	defer p.close()
	for _, w := range o.sources {
		if next := w.backoffUntil(); next.After(p.now) && !opts.DryRun {
			p.down[w] = fmt.Errorf("waiting until %s after: %s", next.Format(time.RFC3339), w.lastError())
		}
	}
	var after int64
	for {
		page, err := o.s.st.ListOutbox(ctx, store.OutboxQuery{AfterSeq: after, Limit: pageSize})
		if err != nil {
			return &p.rep, err
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Seq
		for i := 0; i < len(page); {
			n, err := p.entry(ctx, page[i:])
			if err != nil {
				return &p.rep, err
			}
			i += n
		}
		if err := p.commit(ctx); err != nil {
			return &p.rep, err
		}
		if err := ctx.Err(); err != nil {
			return &p.rep, err
		}
		if len(page) < pageSize {
			break
		}
	}
	for _, w := range o.sources {
		if _, down := p.down[w]; !down && p.conns[w] != nil {
			w.connected()
		}
	}
	return &p.rep, nil
}

// entry handles the first entry of rest (with the membership entries that
// follow it for the same group, as one modify) and says how many it took.
// An error is the store's, and ends the pass: nothing is acked unread.
func (p *pass) entry(ctx context.Context, rest []store.OutboxEntry) (int, error) {
	e := &rest[0]
	obj := e.Object()
	if e.Dead || e.NextAttempt.After(p.now) || p.blocked[obj] || p.memberBlocked(e) {
		p.blocked[obj] = true
		p.rep.Waiting++
		return 1, nil
	}
	res := &result{entries: []*store.OutboxEntry{e}, d: Delivery{Seq: e.Seq, Action: e.Action, Object: objectName(e), Door: e.Actor.Door}}
	w, note, err := p.route(ctx, e)
	if err != nil {
		return 0, err
	}
	if w == nil {
		res.ok, res.d.Outcome, res.d.Note = true, outcomeSkipped, note
		if e.ResourceType == "User" && e.Action == "user.delete" {
			res.dropPassword = e.ResourceID
		}
		p.results = append(p.results, res)
		return 1, nil
	}
	res.d.Source = w.src.cfg.Name
	if err := p.down[w]; err != nil {
		p.blocked[obj] = true
		p.rep.Waiting++
		return 1, nil
	}
	if isMembership(e) {
		// Consecutive additions (or removals) of members of one group are
		// one modify: 10,000 new members are one operation, one member one
		// value.
		n := 1
		for n < len(rest) && len(res.entries) < 1000 {
			next := &rest[n]
			if next.Object() != obj || next.Action != e.Action || next.Dead || next.NextAttempt.After(p.now) || p.memberBlocked(next) {
				break
			}
			res.entries = append(res.entries, next)
			n++
		}
		p.run(ctx, w, res)
		return n, nil
	}
	p.run(ctx, w, res)
	return 1, nil
}

// run plans the result's entries for w and, unless dry, performs them.
func (p *pass) run(ctx context.Context, w *wbSource, res *result) {
	d := &delivery{p: p, w: w, res: res}
	err := d.plan(ctx)
	res.d.Ops = d.describe()
	switch {
	case err != nil:
		p.fail(w, res, err)
		return
	case len(d.ops) == 0:
		res.ok, res.d.Outcome = true, outcomeSkipped
		if res.d.Note == "" {
			res.d.Note = "nothing to write"
		}
		p.results = append(p.results, res)
		return
	case p.opts.DryRun:
		res.d.Outcome = outcomePlanned
		p.results = append(p.results, res)
		p.noteLink(res)
		return
	}
	conn, err := p.conn(ctx, w)
	if err == nil {
		err = d.perform(ctx, conn)
	}
	if err != nil {
		if isConnectionError(err, conn) {
			p.sourceDown(w, err)
			p.blocked[res.entries[0].Object()] = true
			p.rep.Waiting += len(res.entries)
			return
		}
		p.fail(w, res, err)
		return
	}
	res.ok, res.d.Outcome = true, outcomeDelivered
	p.noteLink(res)
	p.results = append(p.results, res)
}

// noteLink makes a link made in this pass visible to the pass's later
// entries before it is committed.
func (p *pass) noteLink(res *result) {
	if res.link != nil {
		p.links[res.linkType+"/"+res.linkID] = *res.link
	}
}

// fail records a failed entry: deferred with backoff, or dead.
func (p *pass) fail(w *wbSource, res *result, err error) {
	attempts := res.entries[0].Attempts + 1
	res.err = err
	res.dead = permanent(err) || attempts >= w.cfg.MaxAttempts
	res.d.Outcome, res.d.Error = outcomeFailed, err.Error()
	if res.dead {
		res.d.Outcome = outcomeDead
	}
	p.blocked[res.entries[0].Object()] = true
	p.results = append(p.results, res)
}

// memberBlocked says whether a membership change waits for its member (a
// user or group whose own change has not gone through).
func (p *pass) memberBlocked(e *store.OutboxEntry) bool {
	return e.Member != nil && p.blocked[string(e.Member.Type)+"/"+e.Member.ID]
}

// conn returns the pass's connection to w, opening it on first use.
func (p *pass) conn(ctx context.Context, w *wbSource) (*ldap.Conn, error) {
	if c := p.conns[w]; c != nil && !c.IsClosing() {
		return c, nil
	}
	c, _, err := w.src.dir.open(ctx)
	if err != nil {
		return nil, err
	}
	p.conns[w] = c
	return c, nil
}

func (p *pass) close() {
	for _, c := range p.conns {
		c.Close()
	}
}

// sourceDown stops the pass's use of w after a connection failure; the
// source backs off as a whole, its entries keep their attempts.
func (p *pass) sourceDown(w *wbSource, err error) {
	p.down[w] = err
	w.failedToConnect(p.now, err)
	p.o.noteError(p.now, w.src.cfg.Name+": "+err.Error())
	p.o.s.log.Warn("ldapsync: write-back cannot reach the directory; changes stay queued", slog.String("source", w.src.cfg.Name),
		slog.String("error", err.Error()), slog.Time("retry", w.backoffUntil()))
}

// commit records the page's results in one transaction: links, acks,
// deferred and dead entries, sealed passwords used.
func (p *pass) commit(ctx context.Context) error {
	results := p.results
	p.results = nil
	if len(results) == 0 {
		return nil
	}
	if !p.opts.DryRun {
		err := p.o.s.st.Write(ctx, writeBackActor, func(tx store.Tx) error {
			for _, r := range results {
				if err := p.record(ctx, tx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("record deliveries: %w", err)
		}
	}
	for _, r := range results {
		p.count(r)
		if p.opts.OnDelivery != nil {
			p.opts.OnDelivery(r.d)
		}
	}
	return nil
}

// record writes one result inside the commit's transaction.
func (p *pass) record(ctx context.Context, tx store.Tx, r *result) error {
	seqs := make([]int64, len(r.entries))
	for i, e := range r.entries {
		seqs[i] = e.Seq
	}
	if !r.ok {
		w := p.o.sourceFor(store.Source{Name: r.d.Source}, "")
		next := p.now
		if w != nil {
			next = p.now.Add(entryBackoff(w.cfg, r.entries[0].Attempts+1))
		}
		for _, seq := range seqs {
			if err := tx.DeferOutbox(ctx, seq, r.err.Error(), next, r.dead); err != nil && !store.IsNotFound(err) {
				return err
			}
		}
		return nil
	}
	if r.link != nil {
		if err := linkResource(ctx, tx, r.linkType, r.linkID, *r.link); err != nil {
			return err
		}
	}
	if r.dropPassword != "" {
		if err := tx.DeleteObject(ctx, PasswordKind, r.dropPassword); err != nil && !store.IsNotFound(err) {
			return err
		}
	}
	if r.pwdChangedID != "" {
		_, err := tx.UpdateUser(ctx, r.pwdChangedID, func(u *store.User) error { u.SourcePasswordChanged = r.pwdChanged; return nil })
		if err != nil && !store.IsNotFound(err) {
			return err
		}
	}
	return tx.AckOutbox(ctx, seqs...)
}

// linkResource stores the directory link of a resource write-back created
// (or found); a resource deleted meanwhile needs none.
func linkResource(ctx context.Context, tx store.Tx, typ, id string, src store.Source) error {
	var err error
	if typ == "Group" {
		_, err = tx.UpdateGroup(ctx, id, func(g *store.Group) error { g.Source = src; return nil })
	} else {
		_, err = tx.UpdateUser(ctx, id, func(u *store.User) error { u.Source = src; return nil })
	}
	if store.IsNotFound(err) {
		return nil
	}
	return err
}

// count adds a result to the pass's report and the totals, one for each
// outbox entry it stands for.
func (p *pass) count(r *result) {
	o := p.o
	o.smu.Lock()
	defer o.smu.Unlock()
	n := len(r.entries)
	switch r.d.Outcome {
	case outcomeDelivered:
		p.rep.Delivered += n
		o.counts.delivered += int64(n)
		o.counts.lastDelivery = p.now
	case outcomePlanned:
		p.rep.Planned += n
	case outcomeSkipped:
		p.rep.Skipped += n
		o.counts.skipped += int64(n)
	case outcomeFailed, outcomeDead:
		p.rep.Failed += n
		if r.dead {
			p.rep.Dead += n
		}
		o.counts.failed += int64(n)
		o.counts.lastError, o.counts.lastErrorAt = fmt.Sprintf("outbox entry %d (%s %s): %s", r.d.Seq, r.d.Action, r.d.Object, r.d.Error), p.now
		o.s.log.Warn("ldapsync: write-back failed", slog.Int64("seq", r.d.Seq), slog.String("action", r.d.Action),
			slog.String("object", r.d.Object), slog.String("source", r.d.Source), slog.Bool("dead", r.dead),
			slog.String("error", r.d.Error))
	}
}

func (o *outbound) noteError(at time.Time, msg string) {
	o.smu.Lock()
	o.counts.lastError, o.counts.lastErrorAt = msg, at
	o.smu.Unlock()
}

// entryBackoff doubles the wait after each failed attempt of an entry,
// from retry_min to retry_max, with up to 10% jitter.
func entryBackoff(w WriteBack, attempts int) time.Duration {
	d := w.RetryMin
	for i := 1; i < attempts && d < w.RetryMax; i++ {
		d *= 2
	}
	d = min(d, w.RetryMax)
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}

// permanentCodes are the directory's refusals that no retry changes: the
// entry is dead at once, for an operator to look at.
var permanentCodes = []uint16{ldap.LDAPResultUndefinedAttributeType, ldap.LDAPResultInappropriateMatching,
	ldap.LDAPResultConstraintViolation, ldap.LDAPResultInvalidAttributeSyntax, ldap.LDAPResultInvalidDNSyntax,
	ldap.LDAPResultNamingViolation, ldap.LDAPResultObjectClassViolation, ldap.LDAPResultNotAllowedOnRDN,
	ldap.LDAPResultObjectClassModsProhibited, ldap.LDAPResultInsufficientAccessRights, ldap.LDAPResultUnwillingToPerform,
	ldap.LDAPResultEntryAlreadyExists}

// permanent says whether err is a refusal no retry changes.
func permanent(err error) bool {
	var pe *permanentError
	if errors.As(err, &pe) {
		return true
	}
	for _, c := range permanentCodes {
		if ldap.IsErrorWithCode(err, c) {
			return true
		}
	}
	return false
}

// permanentError is a delivery that cannot succeed as things are (an RDN
// without a value, an entry that exists and is another's).
type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

func permanentf(format string, args ...any) error {
	return &permanentError{msg: fmt.Sprintf(format, args...)}
}

// isConnectionError tells a directory that cannot be reached (the source
// backs off) from one that refused the operation (the entry fails).
func isConnectionError(err error, conn *ldap.Conn) bool {
	if conn == nil || conn.IsClosing() {
		return true
	}
	for _, c := range []uint16{ldap.ErrorNetwork, ldap.LDAPResultBusy, ldap.LDAPResultUnavailable, ldap.LDAPResultTimeout,
		ldap.LDAPResultTimeLimitExceeded} {
		if ldap.IsErrorWithCode(err, c) {
			return true
		}
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// objectName names an entry's resource for people: its userName or
// displayName, as the entry recorded it.
func objectName(e *store.OutboxEntry) string {
	switch {
	case e.User != nil:
		return "User " + e.User.UserName
	case e.UserBefore != nil:
		return "User " + e.UserBefore.UserName
	case e.Group != nil:
		return "Group " + e.Group.DisplayName
	case e.GroupBefore != nil:
		return "Group " + e.GroupBefore.DisplayName
	}
	return e.ResourceType + " " + e.ResourceID
}

func isMembership(e *store.OutboxEntry) bool {
	return e.Action == "group.members.add" || e.Action == "group.members.remove"
}

// route finds the source an entry goes to, or says why none.
func (p *pass) route(ctx context.Context, e *store.OutboxEntry) (*wbSource, string, error) {
	link, err := p.currentLink(ctx, e.ResourceType, e.ResourceID, entrySource(e))
	if err != nil {
		return nil, "", err
	}
	w := p.o.sourceFor(link, e.ResourceType)
	switch {
	case w == nil && link.Name != "":
		return nil, "linked to source " + link.Name + ", which has no write-back", nil
	case w == nil && e.ResourceType == "Group":
		return nil, "no source writes new groups (write_back.create and group_base)", nil
	case w == nil:
		return nil, "no source creates new users (write_back.create)", nil
	case !w.writes(e.Actor):
		return nil, "door " + e.Actor.Door + " is not in write_back.doors", nil
	}
	return w, "", nil
}

// entrySource is the directory link an entry recorded.
func entrySource(e *store.OutboxEntry) store.Source {
	switch {
	case e.User != nil:
		return e.User.Source
	case e.UserBefore != nil:
		return e.UserBefore.Source
	case e.Group != nil:
		return e.Group.Source
	case e.GroupBefore != nil:
		return e.GroupBefore.Source
	}
	return store.Source{}
}

// currentLink is a resource's directory link now: made in this pass,
// else as stored, else (a resource deleted since) as the entry recorded it.
func (p *pass) currentLink(ctx context.Context, typ, id string, recorded store.Source) (store.Source, error) {
	if l, ok := p.links[typ+"/"+id]; ok {
		return l, nil
	}
	var src store.Source
	var err error
	if typ == "Group" {
		var g *store.Group
		if g, err = p.o.s.st.GetGroup(ctx, id, false); err == nil {
			src = g.Source
		}
	} else {
		var u *store.User
		if u, err = p.o.s.st.GetUser(ctx, id); err == nil {
			src = u.Source
		}
	}
	if store.IsNotFound(err) {
		return recorded, nil
	}
	return src, err
}

// WriteBackStatus is the write-back's state, for the admin API, /readyz
// and /metrics.
type WriteBackStatus struct {
	// Pending changes wait in the outbox (Oldest since when); Dead ones
	// wait for an operator.
	Pending       int       `json:"pending"`
	Dead          int       `json:"dead"`
	Oldest        time.Time `json:"oldest,omitzero"`
	OldestSeconds float64   `json:"oldestSeconds"`
	// LastError is the newest failure: of a change, or of reaching a
	// directory.
	LastError    string    `json:"lastError,omitempty"`
	LastErrorAt  time.Time `json:"lastErrorAt,omitzero"`
	LastDelivery time.Time `json:"lastDelivery,omitzero"`
	// Delivered, Skipped and FailedAttempts count since the start.
	Delivered      int64             `json:"delivered"`
	Skipped        int64             `json:"skipped"`
	FailedAttempts int64             `json:"failedAttempts"`
	Sources        []WriteBackSource `json:"sources"`
}

// WriteBackSource is one write-back source's connection state.
type WriteBackSource struct {
	Name                string    `json:"name"`
	Creates             bool      `json:"creates"`
	ConsecutiveFailures int       `json:"consecutiveFailures"`
	LastError           string    `json:"lastError,omitempty"`
	RetryAt             time.Time `json:"retryAt,omitzero"`
}

// WriteBackStatus reads the write-back's state; ErrNoWriteBack when no
// source writes back.
func (s *Syncer) WriteBackStatus(ctx context.Context) (*WriteBackStatus, error) {
	o := s.out
	if o == nil {
		return nil, ErrNoWriteBack
	}
	st, err := s.st.OutboxStats(ctx)
	if err != nil {
		return nil, err
	}
	out := &WriteBackStatus{Pending: st.Pending, Dead: st.Dead, Oldest: st.Oldest, Sources: []WriteBackSource{}}
	if !st.Oldest.IsZero() {
		out.OldestSeconds = s.now().Sub(st.Oldest).Seconds()
	}
	o.smu.Lock()
	c := o.counts
	o.smu.Unlock()
	out.Delivered, out.Skipped, out.FailedAttempts, out.LastDelivery = c.delivered, c.skipped, c.failed, c.lastDelivery
	out.LastError, out.LastErrorAt = c.lastError, c.lastErrorAt
	if out.LastError == "" && st.LastError != "" {
		out.LastError = fmt.Sprintf("outbox entry %d: %s", st.LastErrorSeq, st.LastError)
	}
	for _, w := range o.sources {
		w.mu.Lock()
		out.Sources = append(out.Sources, WriteBackSource{Name: w.src.cfg.Name, Creates: w == o.creator,
			ConsecutiveFailures: w.failures, LastError: w.err, RetryAt: w.next})
		w.mu.Unlock()
	}
	return out, nil
}

// DeadLetters lists the dead changes, oldest first, with their errors.
func (s *Syncer) DeadLetters(ctx context.Context, limit int) ([]store.OutboxEntry, error) {
	if s.out == nil {
		return nil, ErrNoWriteBack
	}
	return s.st.ListOutbox(ctx, store.OutboxQuery{Dead: true, Limit: limit})
}
