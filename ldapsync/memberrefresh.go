package ldapsync

import (
	"context"
	"fmt"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimbridge/scimbridge/store"
)

// An incremental run reads only entries whose change marker moved. Two
// kinds of change move none: a deletion (or a move out of scope), and the
// rewrite of a group's member values by slapd's refint overlay (or AD's
// linked attributes) when a member is deleted or renamed. So an
// incremental run also reads the keys of every entry in scope (the
// identity attribute alone, a few dozen bytes an entry), which tells what
// vanished, and then re-reads the groups of this source that listed a
// vanished user. A renamed member needs no such read: the store keeps
// membership by identity, and the rewritten value names the same user.

// keysSearch says whether this run reads the keys of its scope: an
// incremental run, unless the content sync reports deletions itself or the
// source finds deletions in full runs only.
func (r *directoryRead) keysSearch(q *search) bool {
	return !q.all && r.rep.Mode == "incremental" && r.cfg.ChangeDetection != DetectSyncrepl &&
		r.cfg.FindDeletions != FindDeletionsFullRuns
}

// readKeys reads the identity and DN of every entry in q's scope: what it
// does not list is gone.
func (r *directoryRead) readKeys(ctx context.Context, conn *ldap.Conn, q *search) error {
	if !r.keysSearch(q) {
		return nil
	}
	req := searchRequest(q.base, q.scope, q.filter, []string{r.cfg.IDAttribute})
	seen := map[string]struct{}{}
	_, err := pagedSearch(ctx, conn, req, r.cfg.PageSize, func(e *ldap.Entry) error {
		// An entry without an identity was reported by the change search,
		// or never synced; it cannot be a stored user either way.
		if id, err := identity(e, r.cfg.IDAttribute); err == nil {
			seen[id] = struct{}{}
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
	users := &r.out.users
	if !users.findsDeletions() {
		return nil, nil
	}
	gone := users.gone()
	var out []string
	err := r.st.EachSourced(ctx, "User", r.cfg.Name, func(ref store.SourcedRef) error {
		if gone(ref.SourceID) {
			out = append(out, ref.ID)
		}
		return nil
	})
	return out, err
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
