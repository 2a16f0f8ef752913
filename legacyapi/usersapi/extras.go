package usersapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// directoryManaged: a synced user without a local hash logs in by a
// directory bind; its password cannot be set here.
func directoryManaged(u *store.User) bool { return u.Source.Name != "" && u.PasswordHash == "" }

// changePassword: the user (or an administrator) sends the current
// password, which is verified (by a directory bind for synced users).
func (s *server) changePassword(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.self() && !c.admin() {
		fail(w, http.StatusForbidden, msgForbidden)
		return
	}
	b, ok := s.readBody(w, r)
	if !ok {
		return
	}
	bad := invalid{}
	current, _, okCur := b.str("currentPassword")
	next, _, okNew := b.str("newPassword")
	confirm, hasConfirm, okConfirm := b.str("confirmPassword")
	if !okCur || current == "" {
		bad.add("currentPassword", "Current password is required")
	}
	if !okNew || len([]rune(next)) < 8 {
		bad.add("newPassword", "Password must be at least 8 characters")
	}
	if hasConfirm && (!okConfirm || confirm != next) {
		bad.add("confirmPassword", "Passwords do not match")
	}
	if len(bad) > 0 {
		bad.write(w)
		return
	}
	if directoryManaged(c.target) {
		invalid{"newPassword": msgDirPassword}.write(w)
		return
	}
	good, err := s.deps.Passwords.Check(r.Context(), c.target, current)
	if err != nil {
		fail(w, http.StatusServiceUnavailable, msgDirectory)
		return
	}
	if !good {
		invalid{"currentPassword": "Current password is incorrect"}.write(w)
		return
	}
	hash, err := auth.HashPassword(next)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.setPasswordHash(r, c, hash); err != nil {
		s.failed(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"success": true, "message": msgPasswordDone})
}

func (s *server) setPasswordHash(r *http.Request, c *caller, hash string) error {
	return s.deps.Store.Write(r.Context(), legacyapi.Actor(r, Dialect, c.principal()), func(tx store.Tx) error {
		// The store records the password change, which also lifts a lockout.
		_, err := tx.UpdateUser(r.Context(), c.target.ID, func(u *store.User) error {
			u.PasswordHash = hash
			return nil
		})
		return err
	})
}

// resetPassword (administrators): sets a one-time temporary password and
// returns it, as the real product does; there is no e-mail to send. The
// documented body's optional "email" must match the user's address.
func (s *server) resetPassword(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.admin() {
		fail(w, http.StatusForbidden, msgForbidden)
		return
	}
	b, ok := s.readBody(w, r)
	if !ok {
		return
	}
	if email, present, isStr := b.str("email"); present && (!isStr || !strings.EqualFold(strings.TrimSpace(email), c.target.PrimaryEmail())) {
		invalid{"email": "Email does not match the user"}.write(w)
		return
	}
	if directoryManaged(c.target) {
		invalid{"password": msgDirPassword}.write(w)
		return
	}
	temp := auth.RandomString(16)
	hash, err := auth.HashPassword(temp)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.setPasswordHash(r, c, hash); err != nil {
		s.failed(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"success": true, "message": "Password reset successfully",
		"data": map[string]any{"temporaryPassword": temp,
			"note": "Give this temporary password to the user over a safe channel; it is shown only once."}})
}

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

type activityOut struct {
	ID        int64   `json:"id"`
	Action    string  `json:"action"`
	Resource  string  `json:"resource"`
	Details   string  `json:"details"`
	IPAddress *string `json:"ipAddress"`
	UserAgent *string `json:"userAgent"`
	Timestamp string  `json:"timestamp"`
	// Which door and principal made the change.
	Door  string `json:"door"`
	Actor string `json:"actor"`
}

// parseDate reads an ISO-8601 date or date-time; a bare date as an end
// bound means the whole day.
func parseDate(s string, end bool) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		if end {
			t = t.Add(time.Microsecond) // the store's upper bound is exclusive
		}
		return t, true
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, false
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, true
}

// activity lists the store's activity entries about the user, newest first.
func (s *server) activity(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.self() && !c.readsAll() {
		fail(w, http.StatusForbidden, msgForbidden)
		return
	}
	q := store.ActivityQuery{UserKey: c.target.Key}
	bad := invalid{}
	if v := r.URL.Query().Get("startDate"); v != "" {
		t, ok := parseDate(v, false)
		if !ok {
			bad.add("startDate", "startDate must be an ISO 8601 date")
		}
		q.Since = t
	}
	if v := r.URL.Query().Get("endDate"); v != "" {
		t, ok := parseDate(v, true)
		if !ok {
			bad.add("endDate", "endDate must be an ISO 8601 date")
		}
		q.Until = t
	}
	if len(bad) > 0 {
		bad.write(w)
		return
	}
	page, limit := s.pageParams(r)
	offset, ok := legacyapi.PageOffset(page, limit)
	if !ok {
		offset = 1 << 40
	}
	q.Offset, q.Limit = offset, limit
	entries, total, err := s.deps.Store.ListActivity(r.Context(), q)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]activityOut, 0, len(entries))
	for _, e := range entries {
		resource, action, _ := strings.Cut(e.Action, ".")
		switch e.Action {
		case auth.ActionLogin:
			resource, action = "auth", "login"
		case auth.ActionLogout:
			resource, action = "auth", "logout"
		case auth.ActionLoginFailure:
			resource, action = "auth", "login.failure"
		case auth.ActionPasswordChange:
			resource, action = "user", "password.change"
		}
		out = append(out, activityOut{ID: e.Seq, Action: action, Resource: resource, Details: e.Detail,
			IPAddress: optional(e.Actor.Address), Timestamp: *ts(e.At), Door: e.Actor.Door, Actor: e.Actor.Principal})
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"success": true, "data": map[string]any{
		"activities": out, "pagination": pageInfo{Page: page, Limit: limit, Total: total, Pages: pages(total, limit)},
	}})
}
