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
	return a.eachSpooled(f.groups.spool, "write groups", func(spooled []*record) error {
		// Groups the store already holds as they are cost no transaction.
		var todo []*record
		for _, r := range spooled {
			same, err := a.groupUnchanged(ctx, r)
			if err != nil {
				return err
			}
			if same {
				a.commit([]Change{{Action: "unchanged", Type: "Group"}})
				continue
			}
			todo = append(todo, r)
		}
		batch := todo
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

// groupUnchanged says, without a transaction, whether the store already
// holds the group of r with its name and directory link, and if so
// records its id.
func (a *applier) groupUnchanged(ctx context.Context, r *record) (bool, error) {
	cfg := a.src.cfg
	name := strings.TrimSpace(r.first(cfg.Groups.NameAttribute))
	if name == "" {
		return false, nil // reported by the write
	}
	g, err := a.reader().GetGroupBySource(ctx, cfg.Name, r.ID)
	if store.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if g.DisplayName != name || g.Source != (store.Source{Name: cfg.Name, ID: r.ID, DN: r.DN}) {
		return false, nil
	}
	a.groupIDs[normDN(r.DN)] = g.ID
	return true, nil
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
		// Members are resolved once, outside the transaction; groups whose
		// members the store already holds cost none.
		type todo struct {
			r    *record
			id   string
			want []store.MemberRef
		}
		var todos []todo
		for _, r := range batch {
			id, ok := a.groupIDs[normDN(r.DN)]
			if !ok {
				continue // the group itself failed and was reported
			}
			want, err := a.wantMembers(ctx, r, graph)
			if err != nil {
				return err
			}
			same, err := a.membersUnchanged(ctx, id, want)
			if err != nil {
				return err
			}
			if !same {
				todos = append(todos, todo{r, id, want})
			}
		}
		return a.batch(ctx, len(todos), func(i int) string { return todos[i].r.DN },
			func(ctx context.Context, tx store.Tx, i int) ([]Change, error) {
				return a.setMembers(ctx, tx, todos[i].r, todos[i].id, todos[i].want)
			})
	})
}

// wantMembers resolves the members the store should hold for group r:
// its own member references, or with a graph (flattening) every user
// reachable through its nested groups.
func (a *applier) wantMembers(ctx context.Context, r *record, graph map[string][]memberRef) ([]store.MemberRef, error) {
	refs := a.src.m.groupMembers(r)
	if graph != nil {
		refs = flatten(normDN(r.DN), graph)
	}
	return a.resolveMembers(ctx, a.reader(), refs, graph != nil)
}

// membersUnchanged says whether the group with SCIM id id has exactly the
// members want.
func (a *applier) membersUnchanged(ctx context.Context, id string, want []store.MemberRef) (bool, error) {
	g, err := a.reader().GetGroup(ctx, id, false)
	if err != nil {
		return false, err
	}
	current, err := a.reader().GroupMembers(ctx, g.Key, 0, -1)
	if err != nil || len(current) != len(want) {
		return false, err
	}
	has := make(map[store.MemberRef]bool, len(current))
	for _, m := range current {
		has[store.MemberRef{ID: m.ID, Type: m.Type}] = true
	}
	for _, m := range want {
		if !has[m] {
			return false, nil
		}
	}
	return true, nil
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

// setMembers sets the members of group r (SCIM id id) to want.
func (a *applier) setMembers(ctx context.Context, tx store.Tx, r *record, id string, want []store.MemberRef) ([]Change, error) {
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
func (a *applier) resolveMembers(ctx context.Context, tx store.Reader, refs []memberRef, usersOnly bool) ([]store.MemberRef, error) {
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
func (a *applier) resolveUserName(ctx context.Context, tx store.Reader, name string) (store.MemberRef, bool, error) {
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
func (a *applier) resolveDN(ctx context.Context, tx store.Reader, dn string, usersOnly bool) (store.MemberRef, bool, error) {
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
