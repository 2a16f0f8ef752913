package usersapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// permission is one resource and the actions allowed on it. It is stored
// as entitlements "resource:action" of type "permission".
type permission struct {
	Resource string   `json:"resource"`
	Actions  []string `json:"actions"`
}

const permissionType = "permission"

// permissionsOf reads every "resource:action" entitlement, in order.
func permissionsOf(u *store.User) []permission {
	out := []permission{}
	index := map[string]int{}
	for _, e := range u.Entitlements {
		res, act, ok := strings.Cut(e.Value, ":")
		if !ok || res == "" || act == "" {
			continue
		}
		i, seen := index[res]
		if !seen {
			i = len(out)
			index[res] = i
			out = append(out, permission{Resource: res, Actions: []string{}})
		}
		out[i].Actions = append(out[i].Actions, act)
	}
	return out
}

func (s *server) getPermissions(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.self() && !c.readsAll() {
		fail(w, http.StatusForbidden, msgForbidden)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"success": true,
		"data": map[string]any{"permissions": permissionsOf(c.target)}})
}

var permissionName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// putPermissions (administrators) replaces the user's permission
// entitlements and keeps the others.
func (s *server) putPermissions(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.admin() {
		fail(w, http.StatusForbidden, msgForbidden)
		return
	}
	b, ok := s.readBody(w, r)
	if !ok {
		return
	}
	var perms []permission
	if !b.has("permissions") || json.Unmarshal(b["permissions"], &perms) != nil {
		invalid{"permissions": "Permissions must be an array of {resource, actions}"}.write(w)
		return
	}
	var values []store.Value
	seen := map[string]bool{}
	for _, p := range perms {
		if !permissionName.MatchString(p.Resource) {
			invalid{"permissions": "Each permission needs a resource name of letters, digits, '.', '_' or '-'"}.write(w)
			return
		}
		for _, a := range p.Actions {
			if !permissionName.MatchString(a) {
				invalid{"permissions": "Actions must be names of letters, digits, '.', '_' or '-'"}.write(w)
				return
			}
			v := p.Resource + ":" + a
			if !seen[v] {
				seen[v] = true
				values = append(values, store.Value{Value: v, Type: permissionType})
			}
		}
	}
	err := s.deps.Store.Write(r.Context(), legacyapi.Actor(r, Dialect, c.principal()), func(tx store.Tx) error {
		_, err := tx.UpdateUser(r.Context(), c.target.ID, func(u *store.User) error {
			kept := []store.Value{}
			for _, e := range u.Entitlements {
				if res, act, ok := strings.Cut(e.Value, ":"); !ok || res == "" || act == "" {
					kept = append(kept, e)
				}
			}
			u.Entitlements = append(kept, values...)
			return nil
		})
		return err
	})
	if err != nil {
		s.failed(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"success": true, "message": "Permissions updated successfully"})
}
