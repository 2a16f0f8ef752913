package ldapsync

import (
	"context"

	"github.com/scimbridge/scimbridge/store"
)

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
	users, err := vanishedRefs(ctx, a.s.st, "User", cfg.Name, &f.users, &a.sourcedUsers)
	if err != nil {
		return nil, err
	}
	for _, ref := range users {
		if cfg.OnDelete == "delete" || ref.Active {
			v.users = append(v.users, ref)
		}
	}
	if cfg.Groups.BaseDN == "" || !f.groups.findsDeletions() {
		return v, nil
	}
	v.groups, err = vanishedRefs(ctx, a.s.st, "Group", cfg.Name, &f.groups, nil)
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
