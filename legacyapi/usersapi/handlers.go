package usersapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

type pageInfo struct {
	Page  int `json:"page"`
	Limit int `json:"limit"`
	Total int `json:"total"`
	Pages int `json:"pages"`
}

// pageParams reads page (default 1) and limit (default 20, capped); a
// value that is not a positive number falls back to the default.
func (s *server) pageParams(r *http.Request) (page, limit int) {
	page, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	limit, err = strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || limit < 1 {
		limit = 20
	}
	return page, min(limit, s.cfg.MaxLimit)
}

func pages(total, limit int) int { return (total + limit - 1) / limit }

// roleFilter selects the users roleOf shows with role.
func roleFilter(role string) store.Expr {
	switch role {
	case "admin":
		return store.HoldsPrivilege(store.PrivilegeAdmin)
	case "moderator":
		return store.And{Left: store.HoldsPrivilege(store.PrivilegeModerator), Right: store.Not{X: store.HoldsPrivilege(store.PrivilegeAdmin)}}
	case "user", "viewer":
		return store.Not{X: store.HoldsPrivilege(store.PrivilegeModerator)}
	}
	return nil
}

func and(a, b store.Expr) store.Expr {
	if a == nil {
		return b
	}
	return store.And{Left: a, Right: b}
}

func (s *server) list(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.readsAll() {
		fail(w, http.StatusForbidden, msgForbidden)
		return
	}
	qs := r.URL.Query()
	var filter store.Expr
	if search := qs.Get("search"); search != "" {
		var anyOf store.Expr
		for _, attr := range []string{"userName", "emails.value", "displayName", "name.givenName", "name.familyName"} {
			c := store.Compare{Attr: attr, Op: store.OpCo, Value: search}
			if anyOf == nil {
				anyOf = c
			} else {
				anyOf = store.Or{Left: anyOf, Right: c}
			}
		}
		filter = anyOf
	}
	bad := invalid{}
	switch role := qs.Get("role"); {
	case role == "" || role == "all":
	case validRole(role):
		filter = and(filter, roleFilter(role))
	default:
		bad.add("role", "Role must be one of: admin, user")
	}
	switch status := qs.Get("status"); status {
	case "", "all":
	case "active", "inactive", "suspended":
		filter = and(filter, store.Compare{Attr: "active", Op: store.OpEq, Value: status == "active"})
	default:
		bad.add("status", "Status must be one of: active, inactive, suspended")
	}
	if len(bad) > 0 {
		bad.write(w)
		return
	}
	page, limit := s.pageParams(r)
	q := store.Query{Filter: filter, Limit: limit}
	var ok bool
	if q.Offset, ok = legacyapi.PageOffset(page, limit); !ok {
		q.Offset, q.Limit = 0, 0
	}
	res, err := s.deps.Store.ListUsers(r.Context(), q)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	users := make([]userOut, 0, len(res.Users))
	for _, u := range res.Users {
		out, err := s.render(r.Context(), u)
		if err != nil {
			s.failed(w, r, err)
			return
		}
		users = append(users, out)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"success": true, "data": map[string]any{
		"users": users, "pagination": pageInfo{Page: page, Limit: limit, Total: res.Total, Pages: pages(res.Total, limit)},
	}})
}

// stats is the real product's GET /api/users/stats.
func (s *server) stats(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.readsAll() {
		fail(w, http.StatusForbidden, msgForbidden)
		return
	}
	ctx := r.Context()
	count := func(f store.Expr) (int, error) {
		p, err := s.deps.Store.ListUsers(ctx, store.Query{Filter: f})
		if err != nil {
			return 0, err
		}
		return p.Total, nil
	}
	out := map[string]any{"suspended": 0}
	byRole := map[string]int{}
	for _, step := range []struct {
		name string
		f    store.Expr
		to   func(int)
	}{
		{"total", nil, func(n int) { out["total"] = n }},
		{"active", store.Compare{Attr: "active", Op: store.OpEq, Value: true}, func(n int) { out["active"] = n }},
		{"inactive", store.Compare{Attr: "active", Op: store.OpEq, Value: false}, func(n int) { out["inactive"] = n }},
		{"admin", roleFilter("admin"), func(n int) { byRole["admin"] = n }},
		{"moderator", roleFilter("moderator"), func(n int) { byRole["moderator"] = n }},
		{"viewer", roleFilter("user"), func(n int) { byRole["viewer"] = n }},
	} {
		n, err := count(step.f)
		if err != nil {
			s.failed(w, r, err)
			return
		}
		step.to(n)
	}
	out["byRole"] = byRole
	// recentLogins: users with a login in the last 24 hours (the newest
	// 10,000 logins are looked at).
	entries, _, err := s.deps.Store.ListActivity(ctx, store.ActivityQuery{Action: auth.ActionLogin,
		Since: s.deps.Clock().Add(-24 * time.Hour), Limit: 10000})
	if err != nil {
		s.failed(w, r, err)
		return
	}
	seen := map[int64]bool{}
	for _, e := range entries {
		seen[e.UserKey] = true
	}
	out["recentLogins"] = len(seen)
	httpjson.Write(w, http.StatusOK, map[string]any{"success": true, "data": out})
}

// userDetail is GET /{id}'s object: the real product adds its profile and
// 2FA records, which scimbridge does not keep (both null).
type userDetail struct {
	userOut
	Profile   *struct{} `json:"profile"`
	TwoFactor *struct{} `json:"twoFactor"`
}

func (s *server) get(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.self() && !c.readsAll() {
		fail(w, http.StatusForbidden, msgForbidden)
		return
	}
	out, err := s.render(r.Context(), c.target)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"success": true, "data": userDetail{userOut: out}})
}

// writeUser answers {"success":true,"data":user[,"message":msg]}.
func (s *server) writeUser(w http.ResponseWriter, r *http.Request, status int, u *store.User, msg string) {
	out, err := s.render(r.Context(), u)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	body := map[string]any{"success": true, "data": out}
	if msg != "" {
		body["message"] = msg
	}
	httpjson.Write(w, status, body)
}

func (s *server) create(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.admin() {
		fail(w, http.StatusForbidden, msgForbidden)
		return
	}
	b, ok := s.readBody(w, r)
	if !ok {
		return
	}
	in, bad := parseUser(b, true)
	if len(bad) > 0 {
		bad.write(w)
		return
	}
	hash, err := auth.HashPassword(*in.password)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	u := &store.User{UserName: *in.email, Active: true, PasswordHash: hash, NewPassword: store.Secret(*in.password)}
	if in.username != nil {
		u.UserName = *in.username
	}
	legacyapi.SetPrimaryEmail(u, *in.email)
	in.applyProfile(u)
	role := "user"
	if in.role != nil {
		role = *in.role
	}
	setRole(u, role)
	if in.active != nil {
		u.Active = *in.active
	}
	ctx := r.Context()
	if err := store.CheckChange(c.privilege(), nil, u); err != nil {
		s.failed(w, r, err)
		return
	}
	err = s.deps.Store.Write(ctx, legacyapi.Actor(r, Dialect, c.principal()), func(tx store.Tx) error {
		if err := emailUnique(ctx, tx, *in.email, 0); err != nil {
			return err
		}
		return asEmailConflict(tx.CreateUser(ctx, u), u.UserName, *in.email)
	})
	if err != nil {
		s.failed(w, r, err)
		return
	}
	s.writeUser(w, r, http.StatusCreated, u, "User created successfully")
}

// update: an administrator changes any field of anyone; others only their
// own profile fields (the rest is dropped, as the real product does).
func (s *server) update(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.self() && !c.admin() {
		fail(w, http.StatusForbidden, msgForbidden)
		return
	}
	b, ok := s.readBody(w, r)
	if !ok {
		return
	}
	// A field sent back as shown is left alone (legacyapi.SameAsShown): a
	// view read here writes back unchanged, whatever another door stored.
	shown, err := s.render(r.Context(), c.target)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	fields := legacyapi.ShownFields(shown)
	for k, v := range b {
		if shownV, ok := fields[k]; ok && legacyapi.SameAsShown(shownV, v) {
			delete(b, k)
		}
	}
	in, bad := parseUser(b, false)
	if !c.admin() {
		in = userIn{name: in.name, timezone: in.timezone, language: in.language, phone: in.phone, avatar: in.avatar}
		for _, admin := range []string{"email", "username", "role", "active", "status"} {
			delete(bad, admin)
		}
	}
	if len(bad) > 0 {
		bad.write(w)
		return
	}
	if c.self() && c.admin() && in.active != nil && !*in.active {
		fail(w, http.StatusBadRequest, msgSelfStatus)
		return
	}
	ctx := r.Context()
	var updated *store.User
	err = s.deps.Store.Write(ctx, legacyapi.Actor(r, Dialect, c.principal()), func(tx store.Tx) error {
		if err := emailUnique(ctx, tx, deref(in.email), c.target.Key); err != nil {
			return err
		}
		var err error
		updated, err = tx.UpdateUser(ctx, c.target.ID, legacyapi.CheckedUpdate(c.privilege(), func(u *store.User) error {
			in.applyProfile(u)
			if c.admin() {
				in.applyAdmin(u)
			}
			return nil
		}))
		return asEmailConflict(err, deref(in.username), deref(in.email))
	})
	if err != nil {
		s.failed(w, r, err)
		return
	}
	msg := "User updated successfully"
	if c.self() {
		msg = "Profile updated successfully"
	}
	s.writeUser(w, r, http.StatusOK, updated, msg)
}

func (s *server) delete(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.admin() {
		fail(w, http.StatusForbidden, msgForbidden)
		return
	}
	if c.self() {
		fail(w, http.StatusBadRequest, msgSelfDelete)
		return
	}
	err := s.deps.Store.Write(r.Context(), legacyapi.Actor(r, Dialect, c.principal()), func(tx store.Tx) error {
		target, err := tx.GetUser(r.Context(), c.target.ID)
		if err != nil {
			return err
		}
		if err := store.CheckDelete(c.privilege(), target); err != nil {
			return err
		}
		return tx.DeleteUser(r.Context(), c.target.ID)
	})
	if err != nil {
		s.failed(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"success": true, "message": msgDeleted})
}

// setStatus is the real product's PATCH /api/users/{id}/status.
func (s *server) setStatus(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.admin() {
		fail(w, http.StatusForbidden, msgForbidden)
		return
	}
	b, ok := s.readBody(w, r)
	if !ok {
		return
	}
	status, present, isStr := b.str("status")
	switch {
	case !present:
		invalid{"status": "Status is required"}.write(w)
		return
	case !isStr || (status != "active" && status != "inactive" && status != "suspended"):
		invalid{"status": "Status must be one of: active, inactive, suspended"}.write(w)
		return
	}
	if c.self() {
		fail(w, http.StatusBadRequest, msgSelfStatus)
		return
	}
	var updated *store.User
	err := s.deps.Store.Write(r.Context(), legacyapi.Actor(r, Dialect, c.principal()), func(tx store.Tx) error {
		var err error
		updated, err = tx.UpdateUser(r.Context(), c.target.ID, legacyapi.CheckedUpdate(c.privilege(), func(u *store.User) error {
			u.Active = status == "active"
			return nil
		}))
		return err
	})
	if err != nil {
		s.failed(w, r, err)
		return
	}
	s.writeUser(w, r, http.StatusOK, updated, "User status updated successfully")
}
