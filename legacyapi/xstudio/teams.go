package xstudio

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

// roleType is the SCIM role type of a (profile, team) role pair; its value
// is "<profileId>:<teamId>".
const roleType = "xstudio.role"

func teamByKey(ctx context.Context, r store.Reader, key int64) (*store.Group, error) {
	g, err := r.GetGroupByKey(ctx, key, false)
	if store.IsNotFound(err) {
		return nil, failf("team %d does not exist", key)
	}
	return g, err
}

func teamJSON(g *store.Group) map[string]any {
	return map[string]any{"id": g.Key, "name": g.DisplayName}
}

// getUserTeams lists the teams (groups) the user is a direct member of.
func (s *server) getUserTeams(c *call) (map[string]any, error) {
	u, err := s.readableUser(c)
	if err != nil {
		return nil, err
	}
	teams := []map[string]any{}
	for _, g := range u.Groups {
		if g.Direct {
			teams = append(teams, map[string]any{"id": g.Key, "name": g.Display})
		}
	}
	return map[string]any{"teams": teams}, nil
}

// updateUserTeams makes the user a member of exactly the listed teams
// ("teamIds=" with no id removes it from all).
func (s *server) updateUserTeams(c *call) (map[string]any, error) {
	key, err := c.id("userId")
	if err != nil {
		return nil, err
	}
	teamIDs, err := c.ids("teamIds", true)
	if err != nil {
		return nil, err
	}
	if err := c.require(moduleUsers, rightEdit); err != nil {
		return nil, err
	}
	return nil, s.deps.Store.Write(c.ctx, c.actor(), func(tx store.Tx) error {
		u, err := userByKey(c.ctx, tx, key)
		if err != nil {
			return err
		}
		want := make(map[int64]*store.Group, len(teamIDs))
		for _, id := range teamIDs {
			g, err := teamByKey(c.ctx, tx, id)
			if err != nil {
				return err
			}
			want[id] = g
		}
		for _, g := range u.Groups {
			if !g.Direct {
				continue
			}
			if _, keep := want[g.Key]; keep {
				delete(want, g.Key)
				continue
			}
			if _, err := tx.RemoveMembers(c.ctx, g.ID, []string{u.ID}); err != nil {
				return err
			}
		}
		for _, id := range teamIDs {
			if g, ok := want[id]; ok {
				ref := []store.MemberRef{{ID: u.ID, Type: store.MemberUser}}
				if _, err := tx.AddMembers(c.ctx, g.ID, ref); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// getTeams (an adapter extension) lists every team.
func (s *server) getTeams(c *call) (map[string]any, error) {
	if err := c.require(moduleTeams, rightRead); err != nil {
		return nil, err
	}
	teams := []map[string]any{}
	const pageSize = 500
	for offset := 0; ; offset += pageSize {
		page, err := s.deps.Store.ListGroups(c.ctx, store.Query{Offset: offset, Limit: pageSize})
		if err != nil {
			return nil, err
		}
		for _, g := range page.Groups {
			teams = append(teams, teamJSON(g))
		}
		if offset+pageSize >= page.Total || len(page.Groups) == 0 {
			break
		}
	}
	return map[string]any{"teams": teams}, nil
}

// createTeam (an adapter extension) creates a team: a SCIM group.
func (s *server) createTeam(c *call) (map[string]any, error) {
	name := strings.TrimSpace(c.params.Get("teamName"))
	if name == "" {
		return nil, failf("missing parameter: teamName")
	}
	if err := c.require(moduleTeams, rightCreate); err != nil {
		return nil, err
	}
	g := &store.Group{DisplayName: name}
	err := s.deps.Store.Write(c.ctx, c.actor(), func(tx store.Tx) error { return tx.CreateGroup(c.ctx, g) })
	if err != nil {
		return nil, err
	}
	return map[string]any{"teamId": g.Key}, nil
}

func roleValue(profileID, teamID int64) string { return fmt.Sprintf("%d:%d", profileID, teamID) }

// getUserRoles lists the user's (profile, team) role pairs.
func (s *server) getUserRoles(c *call) (map[string]any, error) {
	u, err := s.readableUser(c)
	if err != nil {
		return nil, err
	}
	roles := []map[string]any{}
	for _, r := range u.Roles {
		if r.Type != roleType {
			continue
		}
		p, t, ok := strings.Cut(r.Value, ":")
		pid, err1 := strconv.ParseInt(p, 10, 64)
		tid, err2 := strconv.ParseInt(t, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		role := map[string]any{"profileId": pid, "profileName": "", "teamId": tid, "teamName": ""}
		if prof, err := loadProfile(c.ctx, s.deps.Store, pid); err == nil {
			role["profileName"] = prof.Name
		}
		if g, err := s.deps.Store.GetGroupByKey(c.ctx, tid, false); err == nil {
			role["teamName"] = g.DisplayName
		}
		roles = append(roles, role)
	}
	return map[string]any{"roles": roles}, nil
}

// roleParams reads and checks profileId and teamId inside a write.
func (c *call) roleParams(r store.Reader) (*profile, *store.Group, error) {
	pid, err := c.id("profileId")
	if err != nil {
		return nil, nil, err
	}
	tid, err := c.id("teamId")
	if err != nil {
		return nil, nil, err
	}
	p, err := loadProfile(c.ctx, r, pid)
	if err != nil {
		return nil, nil, err
	}
	g, err := teamByKey(c.ctx, r, tid)
	if err != nil {
		return nil, nil, err
	}
	return p, g, nil
}

// insertUserRoles gives every listed user the (profile, team) role.
func (s *server) insertUserRoles(c *call) (map[string]any, error) {
	ids, err := c.ids("userIds", false)
	if err != nil {
		return nil, err
	}
	if err := c.require(moduleUsers, rightEdit); err != nil {
		return nil, err
	}
	return nil, s.deps.Store.Write(c.ctx, c.actor(), func(tx store.Tx) error {
		p, g, err := c.roleParams(tx)
		if err != nil {
			return err
		}
		role := store.Value{Value: roleValue(p.ID, g.Key), Display: p.Name + " @ " + g.DisplayName, Type: roleType}
		for _, id := range ids {
			u, err := userByKey(c.ctx, tx, id)
			if err != nil {
				return err
			}
			_, err = tx.UpdateUser(c.ctx, u.ID, func(u *store.User) error {
				if !slices.ContainsFunc(u.Roles, func(r store.Value) bool { return r.Type == roleType && r.Value == role.Value }) {
					u.Roles = append(u.Roles, role)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// deleteUserRole removes one (profile, team) role from a user; a role the
// user does not have is no error.
func (s *server) deleteUserRole(c *call) (map[string]any, error) {
	key, err := c.id("userId")
	if err != nil {
		return nil, err
	}
	if err := c.require(moduleUsers, rightEdit); err != nil {
		return nil, err
	}
	return nil, s.deps.Store.Write(c.ctx, c.actor(), func(tx store.Tx) error {
		u, err := userByKey(c.ctx, tx, key)
		if err != nil {
			return err
		}
		p, g, err := c.roleParams(tx)
		if err != nil {
			return err
		}
		value := roleValue(p.ID, g.Key)
		_, err = tx.UpdateUser(c.ctx, u.ID, func(u *store.User) error {
			u.Roles = slices.DeleteFunc(u.Roles, func(r store.Value) bool { return r.Type == roleType && r.Value == value })
			return nil
		})
		return err
	})
}
