package ldapsync

import (
	"context"
	"fmt"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

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
