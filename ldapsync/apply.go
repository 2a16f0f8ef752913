package ldapsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

// entryError marks an error that concerns one directory entry: the entry is
// skipped and reported, and the run goes on.
type entryError struct{ err error }

func (e *entryError) Error() string { return e.err.Error() }
func (e *entryError) Unwrap() error { return e.err }

func isEntryError(err error) bool {
	var ee *entryError
	if errors.As(err, &ee) {
		return true
	}
	return store.KindOf(err) != store.KindInternal
}

// errRetryBatch rolls a batch back so it can run again without a bad entry.
var errRetryBatch = errors.New("ldapsync: retry batch without a failed entry")

// applier writes a run's changes to the store, a batch per transaction.
type applier struct {
	s    *Syncer
	src  *source
	rep  *Report
	opts RunOptions
	full bool
	// dryTx, in a dry run, is the one transaction everything runs in; it is
	// rolled back at the end.
	dryTx store.Tx
	// seenUsers is the set of identities a full run read (to allow taking
	// over a userName whose old entry vanished).
	seenUsers map[string]struct{}
	// groupIDs maps a group's normalised DN to its SCIM id. Groups are few,
	// so they are kept in memory for resolving members and memberOf.
	groupIDs map[string]string
	// idx knows this source's users by identity and DN.
	idx *userIndex
	// mayLink is false when no stored user can be linked: every user in the
	// store is this source's and none vanished. It spares an initial import
	// two lookups per user.
	mayLink bool
	// sourcedUsers counts the source's users before the run (full runs).
	sourcedUsers int
	// pendingManagers maps a user's identity to its manager's DN when the
	// manager was not synced yet.
	pendingManagers map[string]string
}

// newApplier prepares the writes of a run that read f.
func (s *Syncer) newApplier(src *source, opts RunOptions, rep *Report, f *fetched) *applier {
	a := &applier{s: s, src: src, rep: rep, opts: opts, full: rep.Mode == "full", seenUsers: f.users.seen,
		groupIDs: map[string]string{}, pendingManagers: map[string]string{}}
	a.idx = newUserIndex(src.cfg.Name, a.fingerprint)
	return a
}

// prepare loads what the writes look up (the identity index, the source's
// groups) and finds what vanished, before anything is written.
func (a *applier) prepare(ctx context.Context, f *fetched) (*vanished, error) {
	if err := a.loadIndex(ctx, f); err != nil {
		return nil, err
	}
	if err := a.loadGroupIDs(ctx); err != nil {
		return nil, err
	}
	gone, err := a.checkVanished(ctx, f)
	if err != nil {
		return nil, err
	}
	return gone, a.decideLinking(ctx, gone)
}

// loadIndex loads the whole identity index for large runs; small
// incremental runs look up what they touch.
func (a *applier) loadIndex(ctx context.Context, f *fetched) error {
	switch {
	case a.full:
		return a.idx.loadWithFingerprints(ctx, a.s.st)
	case f.users.spool.n > 1000 || f.groups.spool.n > 20:
		return a.idx.load(ctx, a.s.st)
	}
	return nil
}

// loadGroupIDs reads the source's synced groups by DN.
func (a *applier) loadGroupIDs(ctx context.Context) error {
	cfg := a.src.cfg
	if cfg.Groups.BaseDN == "" {
		return nil
	}
	return a.s.st.EachSourced(ctx, "Group", cfg.Name, func(ref store.SourcedRef) error {
		a.groupIDs[normDN(ref.DN)] = ref.ID
		return nil
	})
}

// checkVanished finds what vanished when the read can tell, and refuses a
// run that would remove more than max_deletes unless forced.
func (a *applier) checkVanished(ctx context.Context, f *fetched) (*vanished, error) {
	if !f.users.findsDeletions() && !f.groups.findsDeletions() {
		return nil, nil
	}
	gone, err := a.findVanished(ctx, f)
	if err != nil {
		return nil, err
	}
	// One bad run (a wrong filter, an empty OU) must not empty the store.
	cfg := a.src.cfg
	if n := len(gone.users) + len(gone.groups); cfg.MaxDeletes >= 0 && n > cfg.MaxDeletes && !a.opts.Force {
		return nil, fmt.Errorf("refusing to remove %d users and %d groups that vanished from the directory (more than max_deletes %d); check the source, then run with --full --force",
			len(gone.users), len(gone.groups), cfg.MaxDeletes)
	}
	return gone, nil
}

// decideLinking turns off linking when every stored user is this source's
// (as a full run's check counted) and none vanished: nothing to link, and
// no lookups for it.
func (a *applier) decideLinking(ctx context.Context, gone *vanished) error {
	all, err := a.s.st.ListUsers(ctx, store.Query{Limit: 0})
	if err != nil {
		return err
	}
	a.mayLink = !a.full || all.Total > a.sourcedUsers || (gone != nil && len(gone.users) > 0)
	return nil
}

// apply writes the run in order: groups, users, managers, group members,
// then what vanished.
func (a *applier) apply(ctx context.Context, f *fetched, gone *vanished) error {
	if err := a.applyGroups(ctx, f); err != nil {
		return err
	}
	if err := a.applyUsers(ctx, f); err != nil {
		return err
	}
	if err := a.applyManagers(ctx); err != nil {
		return err
	}
	if err := a.applyMembers(ctx, f); err != nil {
		return err
	}
	if gone != nil {
		return a.applyVanished(ctx, gone)
	}
	return nil
}

// dryRun applies the run inside one transaction and rolls it back.
func (a *applier) dryRun(ctx context.Context, f *fetched, gone *vanished) error {
	err := a.s.st.Write(ctx, a.actor(), func(tx store.Tx) error {
		a.dryTx = tx
		if err := a.apply(ctx, f, gone); err != nil {
			return err
		}
		return errDryRun
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	return err
}

// batchOp writes item i of a batch inside transaction tx.
type batchOp func(ctx context.Context, tx store.Tx, i int) ([]Change, error)

// batch runs op for items [0,n) in one transaction. When an item fails with
// an entry error, the batch is rolled back, the item reported, and the
// batch retried without it; any other error aborts the run.
func (a *applier) batch(ctx context.Context, n int, dn func(i int) string, op batchOp) error {
	if a.dryTx != nil {
		return a.batchInDryRun(ctx, n, dn, op)
	}
	skip := map[int]bool{}
	for {
		changes, failed, failErr, err := a.tryBatch(ctx, n, skip, op)
		if err != nil {
			// The transaction rolled back: so do the ids it handed out.
			a.idx.rollback()
		} else {
			a.idx.commit()
		}
		if errors.Is(err, errRetryBatch) {
			skip[failed] = true
			a.rep.fail(dn(failed), failErr)
			continue
		}
		if err != nil {
			return err
		}
		a.commit(changes)
		return nil
	}
}

// tryBatch runs the items not skipped in one transaction. An entry error
// rolls it back with errRetryBatch, naming the item that failed and why.
func (a *applier) tryBatch(ctx context.Context, n int, skip map[int]bool, op batchOp) (changes []Change, failed int, failErr, err error) {
	failed = -1
	err = a.s.st.Write(ctx, a.actor(), func(tx store.Tx) error {
		changes = changes[:0]
		for i := range n {
			if skip[i] {
				continue
			}
			cs, err := op(ctx, tx, i)
			if err != nil {
				if isEntryError(err) {
					failed, failErr = i, err
					return errRetryBatch
				}
				return err
			}
			changes = append(changes, cs...)
		}
		return nil
	})
	return changes, failed, failErr, err
}

// batchInDryRun runs a batch inside the dry run's single transaction,
// where a batch cannot be rolled back alone: a failed entry is reported
// and the rest goes on.
func (a *applier) batchInDryRun(ctx context.Context, n int, dn func(i int) string, op batchOp) error {
	for i := range n {
		cs, err := op(ctx, a.dryTx, i)
		if err != nil {
			if !isEntryError(err) {
				return err
			}
			a.rep.fail(dn(i), err)
			continue
		}
		a.idx.commit()
		a.commit(cs)
	}
	return nil
}

// batches runs op for items [0,n) in batches of batch_size, one
// transaction each (see batch).
func (a *applier) batches(ctx context.Context, n int, dn func(i int) string, op batchOp) error {
	size := a.src.cfg.BatchSize
	for start := 0; start < n; start += size {
		err := a.batch(ctx, min(size, n-start), func(i int) string { return dn(start + i) },
			func(ctx context.Context, tx store.Tx, i int) ([]Change, error) { return op(ctx, tx, start+i) })
		if err != nil {
			return err
		}
	}
	return nil
}

// eachSpooled calls fn with the spooled records, batch_size at a time,
// logging the phase's progress.
func (a *applier) eachSpooled(sp *spool, phase string, fn func(batch []*record) error) error {
	prog := a.s.progress(a.src.cfg.Name, phase)
	done := 0
	return sp.each(a.src.cfg.BatchSize, func(batch []*record) error {
		done += len(batch)
		prog(done)
		return fn(batch)
	})
}

func (a *applier) commit(changes []Change) {
	for _, c := range changes {
		a.rep.count(c)
		if a.opts.OnChange != nil && c.Action != "unchanged" {
			a.opts.OnChange(c)
		}
	}
}

// reader reads the store as this run sees it: inside a dry run's
// transaction, its own writes included.
func (a *applier) reader() store.Reader {
	if a.dryTx != nil {
		return a.dryTx
	}
	return a.s.st
}

func (a *applier) actor() store.Actor {
	return store.Actor{Door: "ldapsync", Principal: a.src.cfg.Name}
}

// applyGroups creates, links or updates each spooled group's own
// attributes (members come later, once every group exists).
func (a *applier) applyGroups(ctx context.Context, f *fetched) error {
	cfg := a.src.cfg
	return a.eachSpooled(f.groups.spool, "write groups", func(batch []*record) error {
		return a.batch(ctx, len(batch), func(i int) string { return batch[i].DN },
			func(ctx context.Context, tx store.Tx, i int) ([]Change, error) {
				r := batch[i]
				name := strings.TrimSpace(r.first(cfg.Groups.NameAttribute))
				if name == "" {
					return nil, &entryError{fmt.Errorf("group has no %s", cfg.Groups.NameAttribute)}
				}
				src := store.Source{Name: cfg.Name, ID: r.ID, DN: r.DN}
				c, id, err := a.putGroup(ctx, tx, name, src)
				if err != nil {
					return nil, err
				}
				a.groupIDs[normDN(r.DN)] = id
				if c.Action == "" {
					return []Change{{Action: "unchanged", Type: "Group"}}, nil
				}
				return []Change{c}, nil
			})
	})
}

func (a *applier) putGroup(ctx context.Context, tx store.Tx, name string, src store.Source) (Change, string, error) {
	c := Change{Type: "Group", Name: name, DN: src.DN}
	g, err := tx.GetGroupBySource(ctx, src.Name, src.ID)
	action := "update"
	if store.IsNotFound(err) {
		g, err = a.findGroupToLink(ctx, tx, name)
		action = "link"
	}
	if err != nil {
		return c, "", err
	}
	if g == nil {
		ng := &store.Group{DisplayName: name, Source: src}
		if err := tx.CreateGroup(ctx, ng); err != nil {
			return c, "", err
		}
		c.Action = "create"
		return c, ng.ID, nil
	}
	updated, err := tx.UpdateGroup(ctx, g.ID, func(g *store.Group) error {
		g.DisplayName, g.Source = name, src
		return nil
	})
	if err != nil {
		return c, "", err
	}
	if updated.Meta.Version != g.Meta.Version {
		c.Action = action
		if action == "update" && g.DisplayName != name {
			c.Detail = "renamed from " + g.DisplayName
		}
	}
	return c, g.ID, nil
}

// findGroupToLink finds an unsynced group with the same displayName.
func (a *applier) findGroupToLink(ctx context.Context, tx store.Tx, name string) (*store.Group, error) {
	page, err := tx.ListGroups(ctx, store.Query{Filter: store.Compare{Attr: "displayName", Op: store.OpEq, Value: name}, Limit: 1})
	if err != nil || len(page.Groups) == 0 {
		return nil, err
	}
	g := page.Groups[0]
	if g.Source.Name != "" && g.Source.Name != a.src.cfg.Name {
		return nil, &entryError{fmt.Errorf("group %q already exists, synced from source %s", name, g.Source.Name)}
	}
	if g.Source.Name == a.src.cfg.Name && g.Source.ID != "" {
		return nil, &entryError{fmt.Errorf("group %q already exists, synced from entry %s", name, g.Source.DN)}
	}
	return g, nil
}

// applyUsers creates, links or updates each spooled user. A batch's
// existing users are read with one query, and a user the directory did not
// change is not written at all.
func (a *applier) applyUsers(ctx context.Context, f *fetched) error {
	return a.eachSpooled(f.users.spool, "write users", func(batch []*record) error {
		views := make([]*store.User, len(batch))
		bad := make([]error, len(batch))
		managers := make([]string, len(batch))
		for i, r := range batch {
			if views[i], bad[i] = a.src.m.user(r); bad[i] == nil {
				if e := views[i].Enterprise; e != nil && e.Manager != nil {
					managers[i], e.Manager = e.Manager.Ref, nil
				}
			}
		}
		// Entries the mapping rejects are reported at once, so they never
		// cost their batch a retry.
		var good []int
		for i := range batch {
			if bad[i] != nil {
				a.rep.fail(batch[i].DN, bad[i])
				continue
			}
			good = append(good, i)
		}
		return a.batch(ctx, len(good), func(j int) string { return batch[good[j]].DN },
			func(ctx context.Context, tx store.Tx, j int) ([]Change, error) {
				i := good[j]
				if err := a.resolveManager(ctx, tx, batch[i].ID, views[i], managers[i]); err != nil {
					return nil, err
				}
				return a.putUser(ctx, tx, batch[i], views[i])
			})
	})
}

func (a *applier) putUser(ctx context.Context, tx store.Tx, r *record, view *store.User) ([]Change, error) {
	c := Change{Type: "User", Name: view.UserName, DN: r.DN}
	ref, known, err := a.idx.get(ctx, tx, r.ID)
	if err != nil {
		return nil, err
	}
	if known {
		// The stored user's directory-owned part already matches: nothing
		// to write, not even a read.
		if ref.hash != 0 && ref.hash == a.fingerprint(view) {
			return []Change{{Action: "unchanged", Type: "User"}}, nil
		}
		return a.updateUser(ctx, tx, r, view, ref.id, "update", c)
	}
	if a.mayLink {
		existing, err := a.findUserToLink(ctx, tx, view)
		if err != nil {
			return nil, err
		}
		if existing != nil {
			c.Detail = "existing user " + existing.UserName
			return a.updateUser(ctx, tx, r, view, existing.ID, "link", c)
		}
	}
	u := *view
	if err := tx.CreateUser(ctx, &u); err != nil {
		return nil, err
	}
	a.idx.put(r.ID, u.ID, r.DN, "")
	c.Action = "create"
	return []Change{c}, nil
}

// updateUser writes the directory-owned attributes of view onto the user
// with SCIM id id, and says what kind of change it was.
func (a *applier) updateUser(ctx context.Context, tx store.Tx, r *record, view *store.User, id, action string, c Change) ([]Change, error) {
	var old store.User
	updated, err := tx.UpdateUser(ctx, id, func(u *store.User) error {
		old = *u
		a.takeOwned(u, view)
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.idx.put(r.ID, id, r.DN, old.Source.DN)
	switch {
	case updated.Meta.Version == old.Meta.Version:
		return []Change{{Action: "unchanged", Type: "User"}}, nil
	case action == "link":
		c.Action = "link"
	case old.Active != updated.Active:
		c.Action = map[bool]string{true: "activate", false: "deactivate"}[updated.Active]
	default:
		c.Action = "update"
		if old.Source.DN != "" && !strings.EqualFold(old.Source.DN, r.DN) {
			c.Detail = "moved from " + old.Source.DN
		}
	}
	return []Change{c}, nil
}

// takeOwned copies the attributes the directory owns from view to u.
func (a *applier) takeOwned(u, view *store.User) {
	cfg := a.src.cfg
	for _, attr := range a.src.m.owned {
		attr.copy(u, view)
	}
	// A synced user is active unless the directory says otherwise; this
	// also reactivates a user that comes back.
	if _, mapped := a.src.m.attrs["active"]; !mapped && !slices.Contains(cfg.StoreOwned, "active") {
		u.Active = view.Active
	}
	u.Source = view.Source
	if u.Enterprise.IsZero() {
		u.Enterprise = nil
	}
}

// fingerprint hashes the directory-owned part of a user and its directory
// link, so a full run tells an unchanged user without reading it.
func (a *applier) fingerprint(u *store.User) uint64 {
	p := &store.User{}
	a.takeOwned(p, u)
	doc, err := json.Marshal(p)
	if err != nil {
		return 0
	}
	h := fnv.New64a()
	h.Write(doc)
	h.Write([]byte("\x00" + p.Source.Name + "\x00" + p.Source.ID + "\x00" + p.Source.DN))
	return h.Sum64() | 1 // never 0, which means "unknown"
}

// resolveManager points the user at its manager when the manager's DN is
// known; a manager synced later in the run is set by applyManagers.
func (a *applier) resolveManager(ctx context.Context, tx store.Tx, sourceID string, view *store.User, dn string) error {
	if dn == "" {
		return nil
	}
	id, ok, err := a.idx.dn(ctx, tx, dn)
	if err != nil {
		return err
	}
	if ok {
		enterprise(view).Manager = &store.Manager{Value: id}
		delete(a.pendingManagers, sourceID)
		return nil
	}
	if view.Enterprise != nil {
		view.Enterprise.Manager = nil
	}
	a.pendingManagers[sourceID] = dn
	return nil
}

// applyManagers sets the managers that were synced after their reports.
// A manager outside the sync's scope stays unset.
func (a *applier) applyManagers(ctx context.Context) error {
	if slices.Contains(a.src.cfg.StoreOwned, "enterprise.manager") {
		return nil
	}
	type pending struct{ userID, managerID string }
	var todo []pending
	for srcID, dn := range a.pendingManagers {
		u, okU, err := a.idx.id(ctx, a.reader(), srcID)
		if err != nil {
			return err
		}
		m, okM, err := a.idx.dn(ctx, a.reader(), dn)
		if err != nil {
			return err
		}
		if okU && okM {
			todo = append(todo, pending{u, m})
		}
	}
	return a.batches(ctx, len(todo), func(i int) string { return "" },
		func(ctx context.Context, tx store.Tx, i int) ([]Change, error) {
			_, err := tx.UpdateUser(ctx, todo[i].userID, func(u *store.User) error {
				enterprise(u).Manager = &store.Manager{Value: todo[i].managerID}
				return nil
			})
			return nil, err
		})
}

// findUserToLink finds an existing user the entry should take over: one
// with the same userName or e-mail that no directory owns, or, in a full
// run, one of this source whose entry vanished (deleted and recreated in
// the directory with a new identity).
func (a *applier) findUserToLink(ctx context.Context, tx store.Tx, view *store.User) (*store.User, error) {
	cfg := a.src.cfg
	var candidates []*store.User
	for _, by := range cfg.LinkBy {
		switch by {
		case "userName":
			u, err := tx.GetUserByUserName(ctx, view.UserName)
			if err == nil {
				candidates = append(candidates, u)
			} else if !store.IsNotFound(err) {
				return nil, err
			}
		case "emails":
			for _, e := range view.Emails {
				page, err := tx.ListUsers(ctx, store.Query{
					Filter: store.Compare{Attr: "emails.value", Op: store.OpEq, Value: e.Value}, Limit: 2,
				})
				if err != nil {
					return nil, err
				}
				if len(page.Users) > 1 {
					return nil, &entryError{fmt.Errorf("e-mail %s belongs to several users; not linking", e.Value)}
				}
				candidates = append(candidates, page.Users...)
			}
		}
		if len(candidates) > 0 {
			break
		}
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	u := candidates[0]
	switch {
	case u.Source.Name == "":
		return u, nil
	case u.Source.Name != cfg.Name:
		return nil, &entryError{fmt.Errorf("user %s already exists, synced from source %s", u.UserName, u.Source.Name)}
	}
	if _, alive := a.seenUsers[u.Source.ID]; a.full && !alive {
		return u, nil
	}
	return nil, &entryError{fmt.Errorf("user %s already exists, synced from entry %s", u.UserName, u.Source.DN)}
}

// applyMembers sets each spooled group's members from its member attributes.
func (a *applier) applyMembers(ctx context.Context, f *fetched) error {
	var graph map[string][]memberRef
	if a.src.cfg.Groups.Flatten {
		var err error
		if graph, err = a.memberGraph(f); err != nil {
			return err
		}
	}
	return f.groups.spool.each(a.src.cfg.BatchSize, func(batch []*record) error {
		return a.batch(ctx, len(batch), func(i int) string { return batch[i].DN },
			func(ctx context.Context, tx store.Tx, i int) ([]Change, error) {
				return a.setMembers(ctx, tx, batch[i], graph)
			})
	})
}

// memberGraph reads every spooled group's member references, by group DN.
// Flattening follows nested groups, so it needs every group's member list
// at hand (groups, not users, are held in memory).
func (a *applier) memberGraph(f *fetched) (map[string][]memberRef, error) {
	graph := map[string][]memberRef{}
	err := f.groups.spool.each(a.src.cfg.BatchSize, func(batch []*record) error {
		for _, r := range batch {
			graph[normDN(r.DN)] = a.src.m.groupMembers(r)
		}
		return nil
	})
	return graph, err
}

// setMembers sets one group's members: its own member references, or with
// a graph (flattening) every user reachable through its nested groups.
func (a *applier) setMembers(ctx context.Context, tx store.Tx, r *record, graph map[string][]memberRef) ([]Change, error) {
	id, ok := a.groupIDs[normDN(r.DN)]
	if !ok {
		return nil, nil // the group itself failed and was reported
	}
	refs := a.src.m.groupMembers(r)
	if graph != nil {
		refs = flatten(normDN(r.DN), graph)
	}
	want, err := a.resolveMembers(ctx, tx, refs, graph != nil)
	if err != nil {
		return nil, err
	}
	before, err := tx.GetGroup(ctx, id, false)
	if err != nil {
		return nil, err
	}
	if err := tx.SetMembers(ctx, id, want); err != nil {
		return nil, err
	}
	after, err := tx.GetGroup(ctx, id, false)
	if err != nil {
		return nil, err
	}
	if after.Meta.Version == before.Meta.Version {
		return nil, nil
	}
	return []Change{{Action: "members", Type: "Group", Name: after.DisplayName, DN: r.DN,
		Detail: fmt.Sprintf("%d members", len(want))}}, nil
}

// flatten returns the non-group members reachable from a group through its
// nested groups, each once; cycles are cut.
func flatten(start string, graph map[string][]memberRef) []memberRef {
	var out []memberRef
	seenGroups := map[string]bool{start: true}
	seenMembers := map[memberRef]bool{}
	queue := []string{start}
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		for _, m := range graph[g] {
			if m.DN != "" {
				key := normDN(m.DN)
				if _, isGroup := graph[key]; isGroup {
					if !seenGroups[key] {
						seenGroups[key] = true
						queue = append(queue, key)
					}
					continue
				}
				m = memberRef{DN: key}
			}
			if !seenMembers[m] {
				seenMembers[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// resolveMembers turns directory member references into store members of
// this source; references to unknown entries are counted, not fatal.
func (a *applier) resolveMembers(ctx context.Context, tx store.Tx, refs []memberRef, usersOnly bool) ([]store.MemberRef, error) {
	out := make([]store.MemberRef, 0, len(refs))
	seen := map[string]bool{}
	for _, ref := range refs {
		var m store.MemberRef
		var known bool
		var err error
		if ref.UserName != "" {
			m, known, err = a.resolveUserName(ctx, tx, ref.UserName)
		} else {
			m, known, err = a.resolveDN(ctx, tx, ref.DN, usersOnly)
		}
		switch {
		case err != nil:
			return nil, err
		case !known:
			a.rep.Unresolved++
		case m.ID != "" && !seen[m.ID]:
			seen[m.ID] = true
			out = append(out, m)
		}
	}
	return out, nil
}

// resolveUserName finds a memberUid's user among this source's users.
func (a *applier) resolveUserName(ctx context.Context, tx store.Tx, name string) (store.MemberRef, bool, error) {
	u, err := tx.GetUserByUserName(ctx, name)
	switch {
	case err == nil && u.Source.Name == a.src.cfg.Name:
		return store.MemberRef{ID: u.ID, Type: store.MemberUser}, true, nil
	case err != nil && !store.IsNotFound(err):
		return store.MemberRef{}, false, err
	}
	return store.MemberRef{}, false, nil
}

// resolveDN finds a member DN among this source's groups and users. With
// usersOnly a group is known but left out (a zero reference).
func (a *applier) resolveDN(ctx context.Context, tx store.Tx, dn string, usersOnly bool) (store.MemberRef, bool, error) {
	key := normDN(dn)
	if id, ok := a.groupIDs[key]; ok {
		if usersOnly {
			return store.MemberRef{}, true, nil
		}
		return store.MemberRef{ID: id, Type: store.MemberGroup}, true, nil
	}
	id, ok, err := a.idx.dn(ctx, tx, dn)
	if err != nil {
		return store.MemberRef{}, false, err
	}
	if ok {
		return store.MemberRef{ID: id, Type: store.MemberUser}, true, nil
	}
	if usersOnly {
		return store.MemberRef{}, false, nil
	}
	g, err := tx.GetGroupBySourceDN(ctx, a.src.cfg.Name, dn)
	if store.IsNotFound(err) {
		return store.MemberRef{}, false, nil
	}
	if err != nil {
		return store.MemberRef{}, false, err
	}
	a.groupIDs[key] = g.ID
	return store.MemberRef{ID: g.ID, Type: store.MemberGroup}, true, nil
}

// vanished is what a full run found gone from the directory.
type vanished struct {
	users  []store.SourcedRef
	groups []store.SourcedRef
}

// findVanished lists this source's users and groups that are gone from
// the directory: not read by a run that read everything, or reported
// deleted by a content sync. Users already deactivated are left out when
// deactivating.
func (a *applier) findVanished(ctx context.Context, f *fetched) (*vanished, error) {
	cfg := a.src.cfg
	v := &vanished{}
	userGone, groupGone := f.users.gone(), f.groups.gone()
	err := a.s.st.EachSourced(ctx, "User", cfg.Name, func(ref store.SourcedRef) error {
		a.sourcedUsers++
		if userGone(ref.SourceID) && (cfg.OnDelete == "delete" || ref.Active) {
			v.users = append(v.users, ref)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if cfg.Groups.BaseDN == "" || !f.groups.findsDeletions() {
		return v, nil
	}
	err = a.s.st.EachSourced(ctx, "Group", cfg.Name, func(ref store.SourcedRef) error {
		if groupGone(ref.SourceID) {
			v.groups = append(v.groups, ref)
		}
		return nil
	})
	return v, err
}

// applyVanished deactivates or deletes vanished users and deletes vanished
// groups.
func (a *applier) applyVanished(ctx context.Context, v *vanished) error {
	err := a.batches(ctx, len(v.users), func(i int) string { return v.users[i].DN },
		func(ctx context.Context, tx store.Tx, i int) ([]Change, error) {
			return a.removeUser(ctx, tx, v.users[i])
		})
	if err != nil || len(v.groups) == 0 {
		return err
	}
	return a.batch(ctx, len(v.groups), func(i int) string { return v.groups[i].DN },
		func(ctx context.Context, tx store.Tx, i int) ([]Change, error) {
			return a.removeGroup(ctx, tx, v.groups[i])
		})
}

// removeUser deactivates or deletes a vanished user, unless a recreated
// entry took it over in this run.
func (a *applier) removeUser(ctx context.Context, tx store.Tx, ref store.SourcedRef) ([]Change, error) {
	cfg := a.src.cfg
	u, err := tx.GetUser(ctx, ref.ID)
	if store.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if u.Source.Name != cfg.Name || u.Source.ID != ref.SourceID {
		return nil, nil // taken over by a recreated entry in this run
	}
	c := Change{Type: "User", Name: u.UserName, DN: ref.DN, Detail: "gone from the directory"}
	if cfg.OnDelete == "delete" {
		c.Action = "delete"
		return []Change{c}, tx.DeleteUser(ctx, ref.ID)
	}
	if _, err := tx.UpdateUser(ctx, ref.ID, func(u *store.User) error { u.Active = false; return nil }); err != nil {
		return nil, err
	}
	c.Action = "deactivate"
	return []Change{c}, nil
}

// removeGroup deletes a vanished group.
func (a *applier) removeGroup(ctx context.Context, tx store.Tx, ref store.SourcedRef) ([]Change, error) {
	g, err := tx.GetGroup(ctx, ref.ID, false)
	if store.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []Change{{Action: "delete", Type: "Group", Name: g.DisplayName, DN: ref.DN,
		Detail: "gone from the directory"}}, tx.DeleteGroup(ctx, g.ID)
}
