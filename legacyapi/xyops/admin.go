package xyops

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// The admin user-management calls of pixl-server-user (/api/user/admin_*),
// which xyOps' own UI uses. The caller must hold the "admin" privilege:
// be an admin or the owner (store.IsAdmin), as in every door.

// blockedNames may not be created (compared case-insensitively), besides
// the JavaScript prototype names.
var blockedNames = map[string]bool{
	"self": true, "system": true, "abuse": true, "admin": true, "administrator": true, "localhost": true,
	"127.0.0.1": true, "nobody": true, "noreply": true, "root": true, "support": true, "sysadmin": true,
	"webmaster": true, "www": true, "god": true, "staff": true, "null": true, "0": true,
}

var emailPattern = regexp.MustCompile(`^\S+@\S+$`)

func isXyOpsAdmin(u *store.User) bool { return u != nil && store.IsAdmin(u) }

// requireAdmin authenticates an admin; writes need a session or a key
// with the write scope.
func (s *server) requireAdmin(c *call, write bool) (*principal, bool) {
	p, ok := s.require(c)
	if !ok {
		return nil, false
	}
	if p.sess == nil && write && !auth.HasScope(p.key, "write") {
		c.send(fail("access", "API Key does not have the required privilege: write"))
		return nil, false
	}
	if !isXyOpsAdmin(p.user) {
		c.send(fail("user", "User is not an administrator: "+p.name()))
		return nil, false
	}
	c.adminCall = true
	return p, true
}

// adminFields are the request keys admin_create and admin_update map to
// SCIM attributes or handle themselves; the rest become preferences.
var adminFields = map[string]bool{
	"username": true, "email": true, "full_name": true, "password": true, "new_password": true,
	"privileges": true, "roles": true, "active": true, "categories": true, "groups": true,
	"send_email": true, "session_id": true, "csrf_token": true, "api_key": true, "salt": true,
	"created": true, "modified": true, "force_password_reset": true, "fl_date_code": true, "fl_count": true,
}

// applyAdmin copies the request's fields onto u and returns the new
// preference keys; password hashing happens before.
func applyAdmin(c *call, u *store.User, hash string) (map[string]any, *apiError) {
	if v, ok := c.params["email"]; ok {
		email, isStr := v.(string)
		email = strings.TrimSpace(htmlTag.ReplaceAllString(email, ""))
		if !isStr || !emailPattern.MatchString(email) {
			return nil, fail("api", "Malformed parameter: email")
		}
		legacyapi.SetPrimaryEmail(u, email)
	}
	if v, ok := c.params["full_name"]; ok {
		name, isStr := v.(string)
		if !isStr {
			return nil, fail("api", "Malformed parameter: full_name")
		}
		u.DisplayName = strings.TrimSpace(htmlTag.ReplaceAllString(name, ""))
	}
	if v, ok := c.params["active"]; ok {
		u.Active = truthy(v)
	}
	if v, ok := c.params["privileges"]; ok {
		privs, isObj := v.(map[string]any)
		if !isObj {
			return nil, fail("api", "Malformed parameter: privileges")
		}
		// "admin" is the privilege model's admin flag (the map replaces
		// the privileges: without it, no admin); the other privileges are
		// xyOps' own and mean nothing to other doors.
		admin := truthy(privs[adminPrivilege])
		u.Roles = slices.DeleteFunc(u.Roles, func(r store.Value) bool { return r.Type == privilegeRole })
		for name, on := range privs {
			if name != adminPrivilege && truthy(on) {
				u.Roles = append(u.Roles, store.Value{Value: name, Type: privilegeRole})
			}
		}
		store.SetPrivilegeFlag(u, store.PrivilegeAdmin, admin)
		slices.SortFunc(u.Roles, func(a, b store.Value) int { return strings.Compare(a.Type+a.Value, b.Type+b.Value) })
	}
	if v, ok := c.params["roles"]; ok {
		list, isList := v.([]any)
		if !isList {
			return nil, fail("api", "Malformed parameter: roles")
		}
		u.Roles = slices.DeleteFunc(u.Roles, func(r store.Value) bool { return r.Type == xyopsRole })
		for _, r := range list {
			if id, isStr := r.(string); isStr && id != "" {
				u.Roles = append(u.Roles, store.Value{Value: id, Type: xyopsRole})
			}
		}
	}
	if hash != "" {
		u.PasswordHash = hash
	}
	prefs := map[string]any{}
	for k, v := range c.params {
		if !adminFields[k] && !illegalKeys[k] {
			prefs[k] = v
		}
	}
	return prefs, nil
}

// truthy is JavaScript's truthiness for JSON values.
func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case float64:
		return v != 0
	case string:
		return v != ""
	case nil:
		return false
	}
	return true
}

// writePrefs merges prefs into the user's stored preferences inside tx.
func writePrefs(c *call, tx store.Tx, u *store.User, prefs map[string]any) (*store.Object, error) {
	stored, old, err := loadPrefs(c.r.Context(), tx, u)
	if err != nil || len(prefs) == 0 {
		return old, err
	}
	for k, v := range prefs {
		stored[k] = v
	}
	doc, err := json.Marshal(stored)
	if err != nil {
		return nil, err
	}
	var version int64
	if old != nil {
		version = old.Version
	}
	o := &store.Object{Kind: prefsKind, Name: u.ID, Doc: doc}
	return o, tx.PutObject(c.r.Context(), o, version)
}

func (c *call) strOr(name string) string {
	v, _ := c.str(name)
	return v
}

// adminCreate is /api/user/admin_create.
func (s *server) adminCreate(c *call) {
	p, ok := s.requireAdmin(c, true)
	if !ok {
		return
	}
	username, _ := c.str("username")
	password, _ := c.str("password")
	for _, f := range []struct{ name, value string }{{"username", username}, {"email", c.strOr("email")},
		{"full_name", c.strOr("full_name")}, {"password", password}} {
		if f.value == "" {
			c.send(fail("api", "Missing parameter: "+f.name))
			return
		}
	}
	if !userNamePattern.MatchString(username) {
		c.send(fail("api", "Malformed parameter: username"))
		return
	}
	if blockedNames[strings.ToLower(username)] || illegalKeys[username] {
		c.send(fail("user", "Username is blocked: "+username))
		return
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		s.failed(c, err)
		return
	}
	u := &store.User{UserName: username, Active: true, NewPassword: store.Secret(password)}
	prefs, apiErr := applyAdmin(c, u, hash)
	if apiErr != nil {
		c.send(apiErr)
		return
	}
	ctx := c.r.Context()
	err = s.deps.Store.Write(ctx, legacyapi.Actor(c.r, Dialect, p.name()), func(tx store.Tx) error {
		if err := store.CheckChange(store.PrivilegeOf(p.user), nil, u); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		_, err := writePrefs(c, tx, u, prefs)
		return err
	})
	if err != nil {
		s.failed(c, err)
		return
	}
	c.send(map[string]any{"code": 0})
}

// adminTarget loads the user named by the username parameter.
func (s *server) adminTarget(c *call) (*store.User, bool) {
	username, _ := c.str("username")
	if username == "" {
		c.send(fail("api", "Missing parameter: username"))
		return nil, false
	}
	u, err := s.deps.Store.GetUserByUserName(c.r.Context(), username)
	if err != nil {
		s.failed(c, err)
		return nil, false
	}
	return u, true
}

// adminUpdate is /api/user/admin_update: a merge; new_password resets the
// password.
func (s *server) adminUpdate(c *call) {
	p, ok := s.requireAdmin(c, true)
	if !ok {
		return
	}
	target, ok := s.adminTarget(c)
	if !ok {
		return
	}
	// A field sent back as admin_get_user shows it is left alone
	// (legacyapi.SameAsShown): the record read here writes back unchanged.
	shown, err := s.userRecord(c.r.Context(), target, nil)
	if err != nil {
		s.failed(c, err)
		return
	}
	for k, v := range c.params {
		if sv, ok := shown[k]; ok && k != "username" && legacyapi.SameAsShown(sv, v) {
			delete(c.params, k)
		}
	}
	hash := ""
	if pw, _ := c.str("new_password"); pw != "" {
		var err error
		if hash, err = auth.HashPassword(pw); err != nil {
			s.failed(c, err)
			return
		}
	}
	ctx := c.r.Context()
	var (
		updated  *store.User
		prefsObj *store.Object
		apiErr   *apiError
	)
	err = s.deps.Store.Write(ctx, legacyapi.Actor(c.r, Dialect, p.name()), func(tx store.Tx) error {
		var prefs map[string]any
		var err error
		updated, err = tx.UpdateUser(ctx, target.ID, legacyapi.CheckedUpdate(store.PrivilegeOf(p.user), func(u *store.User) error {
			if prefs, apiErr = applyAdmin(c, u, hash); apiErr != nil {
				return apiErr
			}
			if hash != "" {
				pw, _ := c.str("new_password")
				u.NewPassword = store.Secret(pw)
			}
			return nil
		}))
		if err != nil {
			return err
		}
		prefsObj, err = writePrefs(c, tx, updated, prefs)
		return err
	})
	if apiErr != nil {
		c.send(apiErr)
		return
	}
	if err != nil {
		s.failed(c, err)
		return
	}
	s.sendUser(c, updated, prefsObj)
}

// adminDelete is /api/user/admin_delete.
func (s *server) adminDelete(c *call) {
	p, ok := s.requireAdmin(c, true)
	if !ok {
		return
	}
	target, ok := s.adminTarget(c)
	if !ok {
		return
	}
	ctx := c.r.Context()
	err := s.deps.Store.Write(ctx, legacyapi.Actor(c.r, Dialect, p.name()), func(tx store.Tx) error {
		current, err := tx.GetUser(ctx, target.ID)
		if err != nil {
			return err
		}
		if err := store.CheckDelete(store.PrivilegeOf(p.user), current); err != nil {
			return err
		}
		if err := tx.DeleteUser(ctx, target.ID); err != nil {
			return err
		}
		if err := tx.DeleteObject(ctx, prefsKind, target.ID); err != nil && !store.IsNotFound(err) {
			return err
		}
		return nil
	})
	if err != nil {
		s.failed(c, err)
		return
	}
	c.send(map[string]any{"code": 0})
}

// adminGetUser is /api/user/admin_get_user.
func (s *server) adminGetUser(c *call) {
	if _, ok := s.requireAdmin(c, false); !ok {
		return
	}
	target, ok := s.adminTarget(c)
	if !ok {
		return
	}
	rec, err := s.userRecord(c.r.Context(), target, nil)
	if err != nil {
		s.failed(c, err)
		return
	}
	c.send(map[string]any{"code": 0, "user": rec})
}

// adminGetUsers is /api/user/admin_get_users: a page of users in creation
// order with the storage list header.
func (s *server) adminGetUsers(c *call) {
	if _, ok := s.requireAdmin(c, false); !ok {
		return
	}
	offset := max(c.intParam("offset", 0), 0)
	limit := c.intParam("limit", defaultPageSize)
	if limit <= 0 {
		limit = defaultPageSize
	}
	ctx := c.r.Context()
	page, err := s.deps.Store.ListUsers(ctx, store.Query{Offset: offset, Limit: min(limit, 1000)})
	if err != nil {
		s.failed(c, err)
		return
	}
	rows := make([]map[string]any, 0, len(page.Users))
	for _, u := range page.Users {
		rec, err := s.userRecord(ctx, u, nil)
		if err != nil {
			s.failed(c, err)
			return
		}
		rows = append(rows, rec)
	}
	c.send(map[string]any{"code": 0, "rows": rows, "list": listHeader(page.Total)})
}

// listHeader is pixl-server-storage's list header for a list of n items.
func listHeader(n int) map[string]any {
	if n == 0 {
		return map[string]any{"length": 0}
	}
	return map[string]any{"type": "list", "length": n, "page_size": defaultPageSize,
		"first_page": 0, "last_page": (n - 1) / defaultPageSize}
}
