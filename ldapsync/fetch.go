package ldapsync

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimbridge/scimbridge/store"
)

// fetched is what the fetch phase read: the changed (or, in a full run,
// all) entries spooled to disk, and the new watermark.
type fetched struct {
	users, groups entries
	cookies       map[string]string
	watermark     string
	server        string
}

// entries is what the fetch phase read of one kind, users or groups.
type entries struct {
	spool *spool
	// seen holds every identity read when the read covered the whole scope
	// (a full run, a complete content sync), for finding entries that
	// vanished; nil otherwise.
	seen *idSet
	// deleted are identities an incremental content sync reported deleted.
	deleted []string
	// spooled holds the identities an incremental run spooled; nil in a
	// full run.
	spooled map[string]struct{}
}

// findsDeletions says whether this read can tell which entries are gone.
func (e *entries) findsDeletions() bool { return e.seen != nil || len(e.deleted) > 0 }

// gone returns whether the entry with identity id is gone from the
// directory, by what the read saw or by the deletions it was told.
func (e *entries) gone() func(id string) bool {
	if e.seen != nil {
		return func(id string) bool { return !e.seen.has(id) }
	}
	deleted := make(map[string]bool, len(e.deleted))
	for _, id := range e.deleted {
		deleted[id] = true
	}
	return func(id string) bool { return deleted[id] }
}

// newFetched opens the spools a fetch writes to.
func newFetched(spoolDir string, st *state) (*fetched, error) {
	// Cookies carry over runs that do not renew them (an incremental
	// run's keys content sync, across full runs).
	f := &fetched{watermark: st.Watermark, server: st.Server, cookies: map[string]string{}}
	maps.Copy(f.cookies, st.Cookies)
	var err error
	if f.users.spool, err = newSpool(spoolDir); err != nil {
		return nil, err
	}
	if f.groups.spool, err = newSpool(spoolDir); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func (f *fetched) close() {
	f.users.spool.close()
	f.groups.spool.close()
}

// fetch reads the directory into spools. It writes nothing to the store, so
// a directory that fails mid-way leaves the store untouched.
func (s *Syncer) fetch(ctx context.Context, src *source, st *state, rep *Report) (*fetched, error) {
	f, err := newFetched(s.spoolDir, st)
	if err != nil {
		return nil, err
	}
	r := &directoryRead{cfg: src.cfg, dir: src.dir, m: src.m, st: s.st, from: st, rep: rep, out: f, prog: s.progress(src.cfg.Name, "read")}
	if err := src.dir.do(ctx, func(conn *ldap.Conn) error { return r.read(ctx, conn) }); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// directoryRead is one run's read of a source: its searches, the
// follow-up reads their entries need, and what they spool. Its methods are
// the steps of the read.
type directoryRead struct {
	cfg  SourceConfig
	dir  *directory
	m    *mapper
	st   store.Reader // read, never written: which entries vanished or moved
	from *state       // the state the run starts from
	rep  *Report
	out  *fetched
	prog func(n int)
	// usnFromDSE is true when the watermark is the root DSE's
	// highestCommittedUSN, taken before reading.
	usnFromDSE bool
	// side is a second connection for the reads an entry needs while a
	// paged search still streams on the first (ranged values, memberOf
	// lookups); on one connection they would block each other. It is
	// opened on first use.
	side        *ldap.Conn
	releaseSide func()
	// contentSync says whether the server offers content sync (read once,
	// when an incremental run looks for deletions).
	contentSync *bool
}

// search is one of a run's reads: users or groups.
type search struct {
	kind string // "users" or "groups": names the read in errors and its sync cookie
	req  *ldap.SearchRequest
	// base, scope and filter are the configured search, before the
	// watermark narrows it.
	base, scope, filter string
	// all reads every entry in scope, not only those changed since the
	// watermark.
	all   bool
	into  *entries
	count *int
	// reverseMembers fills each group's members by searching the users'
	// memberOf.
	reverseMembers bool
}

// read runs the searches on conn: the root DSE (AD), users, then groups.
func (r *directoryRead) read(ctx context.Context, conn *ldap.Conn) error {
	defer r.closeSide()
	if r.cfg.ChangeDetection == DetectUSNChanged {
		if err := r.readRootDSE(conn); err != nil {
			return err
		}
	}
	// Decided after the root DSE, which may turn the run into a full one.
	full := r.rep.Mode == "full"
	if !full {
		// What an incremental run spooled, so the groups it re-reads
		// (memberrefresh.go) are spooled once; a full run reads each once.
		r.out.users.spooled, r.out.groups.spooled = map[string]struct{}{}, map[string]struct{}{}
	}
	u := r.cfg.Users
	users := r.newSearch("users", u.BaseDN, u.Scope, u.Filter, r.m.userAttributes(), full, &r.out.users, &r.rep.ReadUsers)
	if err := r.primeKeys(ctx, conn, users); err != nil {
		return err
	}
	if err := r.search(ctx, conn, users); err != nil {
		return err
	}
	if err := r.readKeys(ctx, conn, users); err != nil {
		return err
	}
	g := r.cfg.Groups
	if g.BaseDN == "" {
		return nil
	}
	// Flattening needs every group's members, so it reads all groups.
	groups := r.newSearch("groups", g.BaseDN, g.Scope, g.Filter, r.m.groupAttributes(), full || g.Flatten, &r.out.groups, &r.rep.ReadGroups)
	groups.reverseMembers = g.MemberOf != ""
	if err := r.primeKeys(ctx, conn, groups); err != nil {
		return err
	}
	if err := r.search(ctx, conn, groups); err != nil {
		return err
	}
	if err := r.readKeys(ctx, conn, groups); err != nil {
		return err
	}
	return r.refreshMemberships(ctx, conn, groups)
}

// readRootDSE takes AD's highestCommittedUSN as the new watermark before
// anything is read, and makes the run full when the USNs cannot be
// compared with the watermark: another domain controller, or a USN below
// the watermark.
func (r *directoryRead) readRootDSE(conn *ldap.Conn) error {
	dse, err := rootDSE(conn, "highestCommittedUSN", "dsServiceName")
	if err != nil {
		return fmt.Errorf("read root DSE: %w", err)
	}
	st, rep := r.from, r.rep
	// USNs are per domain controller: another DC's USNs mean nothing here.
	if server := dse.GetAttributeValue("dsServiceName"); server != "" {
		if rep.Mode == "incremental" && st.Server != "" && !strings.EqualFold(server, st.Server) {
			rep.Mode, rep.Reason = "full", "domain controller changed from "+st.Server+" to "+server
		}
		r.out.server = server
	}
	if hc := dse.GetAttributeValue("highestCommittedUSN"); hc != "" {
		if rep.Mode == "incremental" && usnLess(hc, st.Watermark) {
			rep.Mode, rep.Reason = "full", "highestCommittedUSN "+hc+" is below the watermark "+st.Watermark+" (restored or different DC)"
		}
		// Taken before reading: changes made during the read are re-read
		// next time, never missed.
		r.out.watermark, r.usnFromDSE = hc, true
	}
	return nil
}

// newSearch describes one read; unless all is set, it asks only for
// entries changed since the watermark.
func (r *directoryRead) newSearch(kind, base, scopeName, filter string, attrs []string, all bool, into *entries, count *int) *search {
	q := &search{kind: kind, base: base, scope: scopeName, filter: filter, all: all, into: into, count: count}
	if !all {
		filter = changeFilter(r.cfg, filter, r.from.Watermark)
		if kind == "users" {
			filter = r.orExpired(filter)
		}
	}
	// A read of every entry in scope tells which are gone.
	if all && into.seen == nil {
		into.seen = newIDSet(0)
	}
	q.req = searchRequest(base, scopeName, filter, attrs)
	return q
}

// search runs one read, paged or as a content sync.
func (r *directoryRead) search(ctx context.Context, conn *ldap.Conn, q *search) error {
	if r.cfg.ChangeDetection == DetectSyncrepl {
		return r.readContentSync(ctx, conn, q)
	}
	return r.readPaged(ctx, conn, q)
}

// readPaged reads with a paged search (RFC 2696).
func (r *directoryRead) readPaged(ctx context.Context, conn *ldap.Conn, q *search) error {
	refs, err := pagedSearch(ctx, conn, q.req, r.cfg.PageSize, func(e *ldap.Entry) error { return r.entry(ctx, q, e) })
	r.rep.Referrals += refs
	if err != nil {
		return fmt.Errorf("search %s under %s: %w", q.kind, q.req.BaseDN, err)
	}
	return nil
}

// readContentSync reads with an RFC 4533 refreshOnly search from the saved
// cookie; what the server lists as present or deleted decides which
// entries are gone.
func (r *directoryRead) readContentSync(ctx context.Context, conn *ldap.Conn, q *search) error {
	var cookie []byte
	if c := r.from.Cookies[q.kind]; c != "" && !q.all {
		cookie = []byte(c)
	}
	if q.into.seen == nil {
		q.into.seen = newIDSet(0)
	}
	res, err := contentSync(ctx, conn, q.req, cookie, func(e *ldap.Entry) error { return r.entry(ctx, q, e) })
	if err != nil {
		return fmt.Errorf("content sync of %s under %s: %w", q.kind, q.req.BaseDN, err)
	}
	for _, id := range res.present {
		q.into.seen.add(id)
	}
	if !res.complete {
		q.into.seen, q.into.deleted = nil, res.deleted
	}
	r.out.cookies[q.kind] = string(res.cookie)
	if q.kind == "users" {
		r.out.watermark = string(res.cookie)
	}
	return nil
}

// entry spools one entry a search returned, after the reads it needs. An
// entry without an identity is reported and skipped.
func (r *directoryRead) entry(ctx context.Context, q *search, e *ldap.Entry) error {
	*q.count++
	r.prog(*q.count)
	if err := r.readRanges(ctx, e); err != nil {
		return err
	}
	rec, err := toRecord(e, r.cfg.IDAttribute)
	if err != nil {
		r.rep.fail(e.DN, err)
		return nil
	}
	// A CSN names one change: the entry holding exactly the watermark was
	// applied by the run that set it.
	if !q.all && r.cfg.ChangeDetection == DetectEntryCSN && rec.first("entryCSN") == r.from.Watermark {
		*q.count--
		return nil
	}
	if q.into.spooled != nil {
		if _, done := q.into.spooled[rec.ID]; done {
			return nil
		}
		q.into.spooled[rec.ID] = struct{}{}
	}
	if q.into.seen != nil {
		q.into.seen.add(rec.ID)
	}
	if q.reverseMembers {
		if err := r.readReverseMembers(ctx, rec); err != nil {
			return err
		}
	}
	r.out.watermark = advance(r.cfg, r.out.watermark, rec, r.usnFromDSE)
	return q.into.spool.add(rec)
}

// readRanges completes AD's ranged attributes ("member;range=0-1499").
func (r *directoryRead) readRanges(ctx context.Context, e *ldap.Entry) error {
	if !hasRanges(e) {
		return nil
	}
	conn, err := r.sideConn(ctx)
	if err != nil {
		return err
	}
	return completeRanges(ctx, conn, e)
}

// readReverseMembers finds a group's members in memberOf mode: the users
// whose memberOf names it. memberOf is a back-link that changes no marker
// on the user, but the group's own marker moves when its members change.
func (r *directoryRead) readReverseMembers(ctx context.Context, rec *record) error {
	conn, err := r.sideConn(ctx)
	if err != nil {
		return err
	}
	u := r.cfg.Users
	req := searchRequest(u.BaseDN, u.Scope, andFilter(u.Filter, r.cfg.Groups.MemberOf, "=", rec.DN), []string{"1.1"})
	dns := []string{}
	_, err = pagedSearch(ctx, conn, req, r.cfg.PageSize, func(e *ldap.Entry) error {
		dns = append(dns, e.DN)
		return nil
	})
	if err != nil {
		return fmt.Errorf("search members of %s by %s: %w", rec.DN, r.cfg.Groups.MemberOf, err)
	}
	rec.Attrs[memberOfKey] = dns
	return nil
}

// sideConn returns the second connection, opening it on first use.
func (r *directoryRead) sideConn(ctx context.Context) (*ldap.Conn, error) {
	if r.side == nil {
		conn, release, err := r.dir.open(ctx)
		if err != nil {
			return nil, err
		}
		r.side, r.releaseSide = conn, release
	}
	return r.side, nil
}

func (r *directoryRead) closeSide() {
	if r.releaseSide != nil {
		r.releaseSide()
		r.side, r.releaseSide = nil, nil
	}
}
