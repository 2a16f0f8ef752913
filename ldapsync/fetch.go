package ldapsync

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// fetched is what the fetch phase read: the changed (or, in a full run,
// all) entries spooled to disk, and the new watermark.
type fetched struct {
	users, groups *spool
	// seenUsers and seenGroups hold every identity read in a full run, for
	// finding entries that vanished.
	seenUsers, seenGroups map[string]struct{}
	// deletedUsers and deletedGroups are identities an incremental content
	// sync reported deleted.
	deletedUsers, deletedGroups []string
	cookies                     map[string]string
	watermark                   string
	server                      string
}

func (f *fetched) close() {
	f.users.close()
	f.groups.close()
}

// fetch reads the directory into spools. It writes nothing to the store, so
// a directory that fails mid-way leaves the store untouched.
func (s *Syncer) fetch(ctx context.Context, src *source, st *state, rep *Report) (_ *fetched, err error) {
	cfg := src.cfg
	f := &fetched{watermark: st.Watermark, server: st.Server, cookies: map[string]string{}}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	if f.users, err = newSpool(s.spoolDir); err != nil {
		return nil, err
	}
	if f.groups, err = newSpool(s.spoolDir); err != nil {
		return nil, err
	}
	prog := s.progress(cfg.Name, "read")
	usnFromDSE := false
	err = src.dir.do(ctx, func(conn *ldap.Conn) error {
		if cfg.ChangeDetection == DetectUSNChanged {
			dse, err := rootDSE(conn, "highestCommittedUSN", "dsServiceName")
			if err != nil {
				return fmt.Errorf("read root DSE: %w", err)
			}
			// USNs are per domain controller: another DC's USNs mean nothing here.
			if server := dse.GetAttributeValue("dsServiceName"); server != "" {
				if rep.Mode == "incremental" && st.Server != "" && !strings.EqualFold(server, st.Server) {
					rep.Mode, rep.Reason = "full", "domain controller changed from "+st.Server+" to "+server
				}
				f.server = server
			}
			if hc := dse.GetAttributeValue("highestCommittedUSN"); hc != "" {
				if rep.Mode == "incremental" && usnLess(hc, st.Watermark) {
					rep.Mode, rep.Reason = "full", "highestCommittedUSN "+hc+" is below the watermark "+st.Watermark+" (restored or different DC)"
				}
				// Taken before reading: changes made during the read are
				// re-read next time, never missed.
				f.watermark, usnFromDSE = hc, true
			}
		}
		full := rep.Mode == "full"
		if full {
			f.seenUsers, f.seenGroups = map[string]struct{}{}, map[string]struct{}{}
		}
		// Ranged retrieval and memberOf lookups need requests while a paged
		// search is still streaming; a second connection keeps them from
		// blocking each other.
		var side *ldap.Conn
		defer func() {
			if side != nil {
				side.Close()
			}
		}()
		sideConn := func() (*ldap.Conn, error) {
			if side != nil {
				return side, nil
			}
			c, err := src.dir.dial(ctx)
			if err != nil {
				return nil, err
			}
			if cfg.BindDN != "" {
				if err := c.Bind(cfg.BindDN, src.dir.password); err != nil {
					c.Close()
					return nil, fmt.Errorf("bind as %s: %w", cfg.BindDN, err)
				}
			}
			side = c
			return c, nil
		}
		ranges := func(e *ldap.Entry) error {
			for _, a := range e.Attributes {
				if _, _, _, ok := parseRange(a.Name); ok {
					c, err := sideConn()
					if err != nil {
						return err
					}
					return completeRanges(ctx, c, e)
				}
			}
			return nil
		}
		// In memberOf mode a group's members are the users whose memberOf
		// names it: memberOf is a back-link that changes no marker on the
		// user, but the group's own marker moves when its members change.
		reverseMembers := func(r *record) error {
			c, err := sideConn()
			if err != nil {
				return err
			}
			filter := "(&" + cfg.Users.Filter + "(" + cfg.Groups.MemberOf + "=" + ldap.EscapeFilter(r.DN) + "))"
			req := ldap.NewSearchRequest(cfg.Users.BaseDN, scope(cfg.Users.Scope), ldap.NeverDerefAliases, 0, 0, false,
				filter, []string{"1.1"}, nil)
			dns := []string{}
			_, err = pagedSearch(ctx, c, req, cfg.PageSize, func(e *ldap.Entry) error {
				dns = append(dns, e.DN)
				return nil
			})
			if err != nil {
				return fmt.Errorf("search members of %s by %s: %w", r.DN, cfg.Groups.MemberOf, err)
			}
			r.Attrs[memberOfKey] = dns
			return nil
		}
		read := func(kind, base, scopeName, filter string, attrs []string, out *spool, seen *map[string]struct{}, deleted *[]string, n *int) error {
			if !full {
				filter = s.changeFilter(cfg, filter, st.Watermark)
			}
			req := ldap.NewSearchRequest(base, scope(scopeName), ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil)
			handle := func(e *ldap.Entry) error {
				*n++
				prog(*n)
				if err := ranges(e); err != nil {
					return err
				}
				r, err := toRecord(e, cfg.IDAttribute)
				if err != nil {
					rep.fail(e.DN, err)
					return nil
				}
				// A CSN names one change: the entry holding exactly the
				// watermark was applied by the run that set it.
				if !full && cfg.ChangeDetection == DetectEntryCSN && r.first("entryCSN") == st.Watermark {
					*n--
					return nil
				}
				if *seen != nil {
					(*seen)[r.ID] = struct{}{}
				}
				if out == f.groups && cfg.Groups.MemberOf != "" {
					if err := reverseMembers(r); err != nil {
						return err
					}
				}
				f.watermark = s.advance(cfg, f.watermark, r, usnFromDSE)
				return out.add(r)
			}
			if cfg.ChangeDetection == DetectSyncrepl {
				var cookie []byte
				if c := st.Cookies[kind]; c != "" && !full {
					cookie = []byte(c)
				}
				if *seen == nil {
					*seen = map[string]struct{}{}
				}
				res, err := contentSync(ctx, conn, req, cookie, handle)
				if err != nil {
					return fmt.Errorf("content sync of %s under %s: %w", kind, base, err)
				}
				for _, id := range res.present {
					(*seen)[id] = struct{}{}
				}
				if !res.complete {
					*seen, *deleted = nil, res.deleted
				}
				f.cookies[kind] = string(res.cookie)
				if kind == "users" {
					f.watermark = string(res.cookie)
				}
				return nil
			}
			refs, err := pagedSearch(ctx, conn, req, cfg.PageSize, handle)
			rep.Referrals += refs
			if err != nil {
				return fmt.Errorf("search %s under %s: %w", kind, base, err)
			}
			return nil
		}
		if err := read("users", cfg.Users.BaseDN, cfg.Users.Scope, cfg.Users.Filter, src.m.userAttributes(),
			f.users, &f.seenUsers, &f.deletedUsers, &rep.ReadUsers); err != nil {
			return err
		}
		if cfg.Groups.BaseDN == "" {
			return nil
		}
		// Flattening needs every group's members, so it reads all groups.
		full = full || cfg.Groups.Flatten
		return read("groups", cfg.Groups.BaseDN, cfg.Groups.Scope, cfg.Groups.Filter, src.m.groupAttributes(),
			f.groups, &f.seenGroups, &f.deletedGroups, &rep.ReadGroups)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// changeFilter narrows a search to entries changed since the watermark.
func (s *Syncer) changeFilter(cfg SourceConfig, filter, watermark string) string {
	if watermark == "" {
		return filter
	}
	switch cfg.ChangeDetection {
	case DetectEntryCSN:
		// >= re-reads the entry holding the watermark; re-applying an
		// unchanged entry writes nothing, and no change can slip between.
		return "(&" + filter + "(entryCSN>=" + ldap.EscapeFilter(watermark) + "))"
	case DetectModifyTimestamp:
		// >= re-reads the watermark's own second: timestamps have one-second
		// resolution, so a later change in that second must not be missed.
		return "(&" + filter + "(modifyTimestamp>=" + ldap.EscapeFilter(watermark) + "))"
	case DetectUSNChanged:
		n, err := strconv.ParseInt(watermark, 10, 64)
		if err != nil {
			return filter
		}
		return "(&" + filter + "(uSNChanged>=" + strconv.FormatInt(n+1, 10) + "))"
	}
	return filter
}

// advance moves the watermark past r's change marker. With a root DSE
// highestCommittedUSN (taken before reading) the USN watermark is already
// right and stays.
func (s *Syncer) advance(cfg SourceConfig, watermark string, r *record, fromDSE bool) string {
	switch cfg.ChangeDetection {
	case DetectEntryCSN:
		// CSNs ("20261122120000.123456Z#000001#000#000000") sort as text.
		if v := r.first("entryCSN"); v > watermark {
			return v
		}
	case DetectModifyTimestamp:
		t, err := parseGeneralizedTime(r.first("modifyTimestamp"))
		if err != nil {
			return watermark
		}
		cur, err := parseGeneralizedTime(watermark)
		if err != nil || t.After(cur) {
			return t.UTC().Format(generalizedTime)
		}
	case DetectUSNChanged:
		if fromDSE {
			return watermark
		}
		if v := r.first("uSNChanged"); v != "" && usnLess(watermark, v) {
			return v
		}
	}
	return watermark
}

// generalizedTime is the exact form directories compare modifyTimestamp in.
const generalizedTime = "20060102150405Z"

// parseGeneralizedTime reads LDAP generalized time ("20261122120000Z",
// "20261122120000.0Z", "20261122120000+0100").
func parseGeneralizedTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, fmt.Errorf("empty time")
	}
	if i := strings.IndexAny(v, ".,"); i >= 0 {
		j := i + 1
		for j < len(v) && v[j] >= '0' && v[j] <= '9' {
			j++
		}
		v = v[:i] + v[j:]
	}
	for _, layout := range []string{"20060102150405Z0700", "20060102150405Z"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad generalized time %q", v)
}

// usnLess compares USNs numerically; an empty a is less than anything.
func usnLess(a, b string) bool {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errB != nil {
		return false
	}
	return errA != nil || x < y
}

// progress returns a function that logs a long phase's progress at most
// every five seconds.
func (s *Syncer) progress(source, phase string) func(n int) {
	last := time.Now()
	return func(n int) {
		if time.Since(last) >= s.progressEvery {
			last = time.Now()
			s.log.Info("ldapsync: progress", slog.String("source", source), slog.String("phase", phase), slog.Int("entries", n))
		}
	}
}
