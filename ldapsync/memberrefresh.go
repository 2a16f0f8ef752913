package ldapsync

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimbridge/scimbridge/store"
)

// An incremental run reads only entries whose change marker moved. Two
// kinds of change move none: a deletion (or a move out of scope), and the
// rewrite of a group's member values by slapd's refint overlay (or AD's
// linked attributes) when a member is deleted or renamed. So an
// incremental run also learns which entries of its scope are gone, and
// then re-reads the groups of this source that listed a vanished user. A
// renamed member needs no such read: the store keeps membership by
// identity, and the rewritten value names the same user.
//
// Where the server offers RFC 4533 content sync (OpenLDAP's syncprov) and
// entries are identified by entryUUID, a refreshOnly sync asking for no
// attributes tells it from a cookie of its own: only the deletions since
// the last run (with a session log), or, the first time and when the log
// does not reach back, every entryUUID in scope. Elsewhere (AD, a server
// without syncprov) a paged search of the whole scope for the identity
// attribute alone tells it, at the cost of reading every entry's key.

// contentSyncOID is RFC 4533's control, as servers advertise it.
const contentSyncOID = "1.3.6.1.4.1.4203.1.9.1.1"

// keysSearch says whether this run reads the keys of its scope: an
// incremental run, unless the content sync reports deletions itself or the
// source finds deletions in full runs only.
func (r *directoryRead) keysSearch(q *search) bool {
	return !q.all && r.rep.Mode == "incremental" && r.cfg.ChangeDetection != DetectSyncrepl &&
		r.cfg.FindDeletions != FindDeletionsFullRuns
}

// readKeys finds which entries of q's scope are gone: by a keys-only
// content sync where the server offers one, else by a keys-only paged
// search.
func (r *directoryRead) readKeys(ctx context.Context, conn *ldap.Conn, q *search) error {
	if !r.keysSearch(q) {
		return nil
	}
	ok, err := r.offersContentSync(conn)
	if err != nil {
		return err
	}
	if ok {
		err := r.readKeysByContentSync(ctx, conn, q)
		// A server may advertise content sync it does not offer for this
		// database (syncprov loaded, not configured on it).
		if !ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailableCriticalExtension) &&
			!ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform) {
			return err
		}
		*r.contentSync = false
	}
	return r.readKeysByPagedSearch(ctx, conn, q)
}

// primeKeys takes, in a full run, the cookie the next incremental run's
// keys content sync starts from, so that this run is its starting point:
// without it, the first incremental run after an import lists every
// entryUUID in scope (18 s at 1,000,000 users). The cookie is the
// server's state, which a search of the scope's base entry alone returns
// as well as a search of the scope: cheap. It is taken before the full
// read, so what changes or goes during the read is reported again, never
// missed.
func (r *directoryRead) primeKeys(ctx context.Context, conn *ldap.Conn, q *search) error {
	// Only where incremental runs read keys by content sync: syncrepl
	// finds deletions in its own sync, "none" runs no incremental runs.
	if !q.all || r.rep.Mode != "full" || r.cfg.ChangeDetection == DetectSyncrepl || r.cfg.ChangeDetection == DetectNone ||
		r.cfg.FindDeletions == FindDeletionsFullRuns {
		return nil
	}
	ok, err := r.offersContentSync(conn)
	if err != nil || !ok {
		return err
	}
	req := ldap.NewSearchRequest(q.base, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, q.filter, []string{"1.1"}, nil)
	res, err := contentSync(ctx, conn, req, nil, func(*ldap.Entry) error { return nil })
	if ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailableCriticalExtension) || ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform) {
		// Advertised, not configured on this database (see readKeys).
		*r.contentSync = false
		return nil
	}
	if err != nil {
		return fmt.Errorf("content sync cookie for the keys of %s under %s: %w", q.kind, q.base, err)
	}
	if len(res.cookie) > 0 {
		r.out.cookies[keysCookie(q)] = string(res.cookie)
	}
	return nil
}

// offersContentSync reads, once a run, whether the server offers content
// sync for entries identified by entryUUID.
func (r *directoryRead) offersContentSync(conn *ldap.Conn) (bool, error) {
	if r.contentSync == nil {
		ok := false
		if strings.EqualFold(r.cfg.IDAttribute, "entryUUID") {
			dse, err := rootDSE(conn, "supportedControl")
			if err != nil {
				return false, fmt.Errorf("read root DSE: %w", err)
			}
			ok = slices.Contains(dse.GetAttributeValues("supportedControl"), contentSyncOID)
		}
		r.contentSync = &ok
	}
	return *r.contentSync, nil
}

// keysCookie names the cookie of q's keys content sync: per search, so a
// changed base or filter starts afresh.
func keysCookie(q *search) string {
	h := fnv.New64a()
	h.Write([]byte(q.base + "\x00" + q.scope + "\x00" + q.filter))
	return fmt.Sprintf("keys:%s:%x", q.kind, h.Sum64())
}

// readKeysByContentSync runs a refreshOnly content sync of q's scope that
// asks for no attributes: entries come as entryUUIDs only.
func (r *directoryRead) readKeysByContentSync(ctx context.Context, conn *ldap.Conn, q *search) error {
	key := keysCookie(q)
	var cookie []byte
	if c := r.from.Cookies[key]; c != "" {
		cookie = []byte(c)
	}
	req := searchRequest(q.base, q.scope, q.filter, []string{"1.1"})
	res, err := contentSync(ctx, conn, req, cookie, func(*ldap.Entry) error { return nil })
	if err != nil {
		return fmt.Errorf("content sync of the keys of %s under %s: %w", q.kind, q.base, err)
	}
	if res.complete {
		seen := newIDSet(len(res.present) + len(res.changed))
		for _, ids := range [][]string{res.present, res.changed} {
			for _, id := range ids {
				seen.add(id)
			}
		}
		q.into.seen = seen
	} else {
		q.into.deleted = res.deleted
	}
	r.out.cookies[key] = string(res.cookie)
	return nil
}

// readKeysByPagedSearch reads the identity of every entry in q's scope:
// what it does not list is gone.
func (r *directoryRead) readKeysByPagedSearch(ctx context.Context, conn *ldap.Conn, q *search) error {
	req := searchRequest(q.base, q.scope, q.filter, []string{r.cfg.IDAttribute})
	seen := newIDSet(0)
	_, err := pagedSearch(ctx, conn, req, r.cfg.PageSize, func(e *ldap.Entry) error {
		// An entry without an identity was reported by the change search,
		// or never synced; it cannot be a stored user either way.
		if id, err := identity(e, r.cfg.IDAttribute); err == nil {
			seen.add(id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("search the keys of %s under %s: %w", q.kind, q.base, err)
	}
	q.into.seen = seen
	return nil
}

// refreshMemberships re-reads, in an incremental run, the groups that
// listed a user who vanished: the directory may have rewritten their
// members without moving their change marker.
func (r *directoryRead) refreshMemberships(ctx context.Context, conn *ldap.Conn, groups *search) error {
	g := r.cfg.Groups
	if r.rep.Mode != "incremental" || groups.all {
		return nil // every group was read
	}
	users, err := r.vanishedUsers(ctx)
	if err != nil || len(users) == 0 {
		return err
	}
	dns, err := r.groupsOf(ctx, users)
	if err != nil {
		return err
	}
	refresh := &search{kind: "groups", all: true, into: groups.into, count: groups.count, reverseMembers: g.MemberOf != ""}
	for _, dn := range dns {
		res, err := conn.Search(entryRequest(dn, r.m.groupAttributes()...))
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			continue // gone or moved: the keys search tells
		}
		if err != nil {
			return fmt.Errorf("re-read group %s: %w", dn, err)
		}
		for _, e := range res.Entries {
			if err := r.entry(ctx, refresh, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// vanishedUsers lists the SCIM ids of this source's users whose entry is
// gone.
func (r *directoryRead) vanishedUsers(ctx context.Context) ([]string, error) {
	refs, err := vanishedRefs(ctx, r.st, "User", r.cfg.Name, &r.out.users, nil)
	out := make([]string, len(refs))
	for i, ref := range refs {
		out[i] = ref.ID
	}
	return out, err
}

// vanishedRefs lists this source's users or groups that the read says are
// gone: told by name (a content sync's deletions) they are looked up one
// by one; otherwise every stored one is compared with what the read saw,
// and counted into count (when not nil).
func vanishedRefs(ctx context.Context, st store.Reader, typ, source string, e *entries, count *int) ([]store.SourcedRef, error) {
	var out []store.SourcedRef
	switch {
	case e.seen != nil:
		gone := e.gone()
		err := st.EachSourced(ctx, typ, source, func(ref store.SourcedRef) error {
			if count != nil {
				*count++
			}
			if gone(ref.SourceID) {
				out = append(out, ref)
			}
			return nil
		})
		return out, err
	case typ == "User":
		for _, id := range e.deleted {
			u, err := st.GetUserBySource(ctx, source, id)
			if store.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, store.SourcedRef{Key: u.Key, ID: u.ID, SourceID: id, DN: u.Source.DN, Active: u.Active})
		}
	default:
		for _, id := range e.deleted {
			g, err := st.GetGroupBySource(ctx, source, id)
			if store.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, store.SourcedRef{Key: g.Key, ID: g.ID, SourceID: id, DN: g.Source.DN, Active: true})
		}
	}
	return out, nil
}

// groupsOf returns the DNs of this source's groups that directly hold one
// of the users, still in the directory and not read yet.
func (r *directoryRead) groupsOf(ctx context.Context, userIDs []string) ([]string, error) {
	groups := &r.out.groups
	gone, known := groups.gone(), groups.findsDeletions()
	alive := func(id string) bool { return !known || !gone(id) }
	seen := map[string]bool{}
	var dns []string
	for _, id := range userIDs {
		u, err := r.st.GetUser(ctx, id)
		if store.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, ref := range u.Groups {
			if !ref.Direct || seen[ref.ID] {
				continue
			}
			seen[ref.ID] = true
			grp, err := r.st.GetGroup(ctx, ref.ID, false)
			if store.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			_, spooled := groups.spooled[grp.Source.ID]
			if grp.Source.Name == r.cfg.Name && grp.Source.DN != "" && !spooled && alive(grp.Source.ID) {
				dns = append(dns, grp.Source.DN)
			}
		}
	}
	return dns, nil
}
