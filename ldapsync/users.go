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
		// cost their batch a retry; those the store already holds as they
		// are cost no transaction.
		var good []int
		for i := range batch {
			if bad[i] != nil {
				a.rep.fail(batch[i].DN, bad[i])
				continue
			}
			same, err := a.userUnchanged(ctx, batch[i], views[i], managers[i])
			if err != nil {
				return err
			}
			if same {
				a.commit([]Change{{Action: "unchanged", Type: "User"}})
				continue
			}
			good = append(good, i)
		}
		creates := a.bulkCreates()
		var end *batchEnd
		if creates != nil {
			end = creates.end(a)
		}
		return a.batchWith(ctx, len(good), func(j int) string { return batch[good[j]].DN },
			func(ctx context.Context, tx store.Tx, j int) ([]Change, error) {
				i := good[j]
				if err := a.resolveManager(ctx, tx, batch[i].ID, views[i], managers[i]); err != nil {
					return nil, err
				}
				if creates != nil {
					later, err := a.createsOnly(ctx, tx, batch[i])
					if err != nil {
						return nil, err
					}
					if later {
						creates.add(j, batch[i], views[i])
						return nil, nil
					}
				}
				return a.putUser(ctx, tx, batch[i], views[i])
			}, end)
	})
}

// userCreates are the users a batch creates, written together at its end
// with one CreateUsers call: an import's users cost the store a few
// statements a batch instead of five each.
type userCreates struct {
	items []int // the batch item of each user
	recs  []*record
	views []*store.User
	users []*store.User // what is created: copies of the views
}

// bulkCreates returns a collector of the users to create, when the run
// creates many and links none: a full or large run (the index loaded)
// outside a dry run (whose single transaction writes item by item).
func (a *applier) bulkCreates() *userCreates {
	if !a.idx.loaded || a.dryTx != nil || a.mayLink {
		return nil
	}
	return &userCreates{}
}

// createsOnly says whether putUser would create the user of r without
// looking for one to link: an identity the index does not know.
func (a *applier) createsOnly(ctx context.Context, tx store.Tx, r *record) (bool, error) {
	_, known, err := a.idx.get(ctx, tx, r.ID)
	return !known && !a.mayLink, err
}

func (c *userCreates) add(item int, r *record, view *store.User) {
	u := *view
	c.items, c.recs, c.views, c.users = append(c.items, item), append(c.recs, r), append(c.views, view), append(c.users, &u)
}

func (c *userCreates) end(a *applier) *batchEnd {
	return &batchEnd{
		reset: func() { c.items, c.recs, c.views, c.users = c.items[:0], c.recs[:0], c.views[:0], c.users[:0] },
		flush: func(ctx context.Context, tx store.Tx) ([]Change, int, error) {
			if len(c.users) == 0 {
				return nil, -1, nil
			}
			if err := tx.CreateUsers(ctx, c.users); err != nil {
				var ie *store.ItemError
				if errors.As(err, &ie) && ie.Index >= 0 && ie.Index < len(c.items) {
					return nil, c.items[ie.Index], ie.Err
				}
				return nil, -1, err
			}
			changes := make([]Change, len(c.users))
			for k, u := range c.users {
				r := c.recs[k]
				a.idx.put(r.ID, u.ID, r.DN, "")
				changes[k] = Change{Type: "User", Name: c.views[k].UserName, DN: r.DN, Action: "create"}
			}
			// The copies go with the batch; a fresh slice for the next.
			c.users = nil
			return changes, -1, nil
		},
	}
}

// userUnchanged says, without a transaction, whether the store already
// holds the user of r as view (with its manager resolved) would write it.
func (a *applier) userUnchanged(ctx context.Context, r *record, view *store.User, manager string) (bool, error) {
	if err := a.resolveManager(ctx, a.reader(), r.ID, view, manager); err != nil {
		return false, err
	}
	ref, known, err := a.idx.get(ctx, a.reader(), r.ID)
	if err != nil {
		return false, err
	}
	return known && ref.hash != 0 && ref.hash == a.fingerprint(view), nil
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
		existing, revoked, err := a.findUserToLink(ctx, tx, view)
		if err != nil {
			return nil, err
		}
		if existing != nil {
			c.Detail = "existing user " + existing.UserName + revoked
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
	ended, err := endSessionsOnPasswordChange(ctx, tx, &old, updated)
	if err != nil {
		return nil, err
	}
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
	if ended != "" {
		c.Detail = strings.TrimPrefix(c.Detail+"; "+ended, "; ")
	}
	return []Change{c}, nil
}

// endSessionsOnPasswordChange ends the user's sessions and refresh tokens,
// in the transaction that stores the update, when its entry's
// password-change time moved: the password changed in the directory, and
// a session must not outlive the password it proved (README, "Credential
// lifecycle"), as when it changes through a door. A user the sync never
// read the time for (first import, a store synced before it was mapped,
// the mapping removed) ends nothing. It says what it did, for the report.
func endSessionsOnPasswordChange(ctx context.Context, tx store.Tx, old, updated *store.User) (string, error) {
	before, after := old.SourcePasswordChanged, updated.SourcePasswordChanged
	if before == "" || after == "" || before == after {
		return "", nil
	}
	n, err := tx.EndSessions(ctx, updated.Key, 0)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("password changed in the directory: %d sessions ended", n), nil
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
	u.Source, u.SourcePasswordChanged = view.Source, view.SourcePasswordChanged
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
func (a *applier) resolveManager(ctx context.Context, r store.Reader, sourceID string, view *store.User, dn string) error {
	if dn == "" {
		return nil
	}
	id, ok, err := a.idx.dn(ctx, r, dn)
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
		if !okU || !okM {
			continue
		}
		// A manager already set (an unchanged run) costs no transaction.
		cur, err := a.reader().GetUser(ctx, u)
		if err != nil && !store.IsNotFound(err) {
			return err
		}
		if err == nil && cur.Enterprise != nil && cur.Enterprise.Manager != nil && cur.Enterprise.Manager.Value == m {
			continue
		}
		todo = append(todo, pending{u, m})
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
// with the same userName or e-mail that no directory owns, or, in a run
// that knows every identity in scope, one of this source whose entry
// vanished (deleted and recreated in the directory with a new identity).
// An unsynced user that holds credentials is linked only as adopt allows;
// revoked says what adopt revoked.
func (a *applier) findUserToLink(ctx context.Context, tx store.Tx, view *store.User) (u *store.User, revoked string, err error) {
	cfg := a.src.cfg
	var candidates []*store.User
	// why names what the candidate shares with the entry, for the report;
	// matched says it for a credential conflict.
	why, matched := "", ""
	for _, by := range cfg.LinkBy {
		switch by {
		case "userName":
			u, err := tx.GetUserByUserName(ctx, view.UserName)
			if err == nil {
				candidates, why = append(candidates, u), "user "+u.UserName+" already exists"
				matched = fmt.Sprintf("userName %q", view.UserName)
			} else if !store.IsNotFound(err) {
				return nil, "", err
			}
		case "emails":
			for _, e := range view.Emails {
				page, err := tx.ListUsers(ctx, store.Query{
					Filter: store.Compare{Attr: "emails.value", Op: store.OpEq, Value: e.Value}, Limit: 2,
				})
				if err != nil {
					return nil, "", err
				}
				if len(page.Users) > 1 {
					return nil, "", &entryError{fmt.Errorf("duplicate e-mail: %s belongs to several users; not linking", e.Value)}
				}
				if len(page.Users) == 1 && len(candidates) == 0 {
					why = "duplicate e-mail: " + e.Value + " belongs to user " + page.Users[0].UserName
					matched = fmt.Sprintf("e-mail %q", e.Value)
				}
				candidates = append(candidates, page.Users...)
			}
		}
		if len(candidates) > 0 {
			break
		}
	}
	if len(candidates) == 0 {
		return nil, "", nil
	}
	u = candidates[0]
	switch {
	case u.Source.Name == "":
		if revoked, err = a.adopt(ctx, tx, u, matched); err != nil {
			return nil, "", err
		}
		return u, revoked, nil
	case u.Source.Name != cfg.Name:
		return nil, "", &entryError{fmt.Errorf("%s, synced from source %s", why, u.Source.Name)}
	}
	if a.userGone != nil && a.userGone(u.Source.ID) {
		return u, "", nil
	}
	return nil, "", &entryError{fmt.Errorf("%s, synced from entry %s", why, u.Source.DN)}
}
