package store

import (
	"context"
	"strings"
)

// The privilege model: the one answer to "what may this user administer",
// which every door maps its own privilege field onto (README, "Security
// model", the privilege table). A privilege is a SCIM role of scimbridge's
// own type, {"type":"scimbridge","value":"admin"}; roles of any other type
// belong to whoever set them (an identity provider, xyOps' free-form roles,
// XStudio's profiles) and grant nothing here. No right follows from a user
// name: the one name with a meaning, ReservedUserName, is held only by an
// owner.

// RoleType is the SCIM role type of scimbridge's privileges.
const RoleType = "scimbridge"

// ReservedUserName is the name XStudio gives every right to ("admin"). No
// account but an owner may hold it, through any door: the rule is part of
// the user validation every backend runs.
const ReservedUserName = "admin"

// Privilege is how much of the user store a user administers. The levels
// are ordered: each holds every right of the ones below it.
type Privilege int

// The privileges, lowest first.
const (
	// PrivilegeUser administers nothing; it may read and change its own
	// profile where a door allows that.
	PrivilegeUser Privilege = iota
	// PrivilegeModerator reads every user and changes none (the Users
	// API's moderator, a read-only administrator).
	PrivilegeModerator
	// PrivilegeAdmin administers users: creates, changes and deletes them
	// and grants privileges up to its own.
	PrivilegeAdmin
	// PrivilegeOwner is the top role: an admin whom no lesser account may
	// demote, delete, deactivate, rename or change the password of. The
	// account XStudio knows as "admin" is an owner (see Top).
	PrivilegeOwner
)

// String is the privilege's role value: "user", "moderator", "admin" or
// "owner".
func (p Privilege) String() string {
	switch p {
	case PrivilegeModerator:
		return "moderator"
	case PrivilegeAdmin:
		return "admin"
	case PrivilegeOwner:
		return "owner"
	}
	return "user"
}

// ParsePrivilege returns the privilege a role value names (trimmed,
// case-insensitive).
func ParsePrivilege(s string) (Privilege, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "user":
		return PrivilegeUser, true
	case "moderator":
		return PrivilegeModerator, true
	case "admin":
		return PrivilegeAdmin, true
	case "owner":
		return PrivilegeOwner, true
	}
	return PrivilegeUser, false
}

// legacyXyOpsPrivilege is the role type xyOps' privileges were stored
// under before the privilege model; its "admin" value is read as
// PrivilegeAdmin, so that databases written before keep their
// administrators (and xyOps' "admin" privilege keeps meaning what it
// always meant in xyOps). SetPrivilege replaces it with the typed form.
const legacyXyOpsPrivilege = "xyops.privilege"

// privilegeRole reports the privilege a role carries: one of RoleType, or
// the forms written before the privilege model (an untyped role valued
// moderator, admin or owner, which identity providers also send, and
// xyOps' admin privilege).
func privilegeRole(r Value) (Privilege, bool) {
	switch strings.ToLower(strings.TrimSpace(r.Type)) {
	case RoleType, "":
		p, ok := ParsePrivilege(r.Value)
		return p, ok && p > PrivilegeUser
	case legacyXyOpsPrivilege:
		return PrivilegeAdmin, strings.EqualFold(strings.TrimSpace(r.Value), "admin")
	}
	return PrivilegeUser, false
}

// PrivilegeOf returns the highest privilege u holds.
func PrivilegeOf(u *User) Privilege {
	best := PrivilegeUser
	if u == nil {
		return best
	}
	for _, r := range u.Roles {
		if p, ok := privilegeRole(r); ok && p > best {
			best = p
		}
	}
	return best
}

// IsAdmin reports whether u administers users: an admin or an owner.
func IsAdmin(u *User) bool { return PrivilegeOf(u) >= PrivilegeAdmin }

// SetPrivilege makes p u's only privilege: every role that carries a
// privilege is replaced by {"type": RoleType, "value": p} (none for
// PrivilegeUser); u's other roles are kept as they are.
func SetPrivilege(u *User, p Privilege) {
	kept := u.Roles[:0:0]
	for _, r := range u.Roles {
		if _, ok := privilegeRole(r); !ok {
			kept = append(kept, r)
		}
	}
	if p > PrivilegeUser {
		kept = append(kept, Value{Value: p.String(), Type: RoleType})
	}
	u.Roles = kept
}

// SetPrivilegeFlag is how a door's yes/no privilege field is written
// (Pterodactyl root_admin, xyOps' admin privilege): yes gives u at least p,
// no takes a user holding p or more down to PrivilegeUser. A user whose
// privilege already answers the field as asked is left as it is, so that
// writing a field back unchanged changes nothing (an owner stays an owner
// when a panel client sends root_admin: true).
func SetPrivilegeFlag(u *User, p Privilege, yes bool) {
	has := PrivilegeOf(u) >= p
	switch {
	case yes && !has:
		SetPrivilege(u, p)
	case !yes && has:
		SetPrivilege(u, PrivilegeUser)
	}
}

// HoldsPrivilege is a filter matching the users whose privilege is at
// least p, as PrivilegeOf reads it (value comparisons are
// case-insensitive; a value with surrounding blanks is not matched).
func HoldsPrivilege(p Privilege) Expr {
	var anyOf Expr
	or := func(e Expr) {
		if anyOf == nil {
			anyOf = e
		} else {
			anyOf = Or{Left: anyOf, Right: e}
		}
	}
	ours := Or{Left: Compare{Attr: "type", Op: OpEq, Value: RoleType}, Right: Not{X: Compare{Attr: "type", Op: OpPr}}}
	for q := max(p, PrivilegeModerator); q <= PrivilegeOwner; q++ {
		or(ValueFilter{Attr: "roles", Filter: And{Left: Compare{Attr: "value", Op: OpEq, Value: q.String()}, Right: ours}})
	}
	if p <= PrivilegeAdmin {
		or(ValueFilter{Attr: "roles", Filter: And{
			Left:  Compare{Attr: "type", Op: OpEq, Value: legacyXyOpsPrivilege},
			Right: Compare{Attr: "value", Op: OpEq, Value: "admin"}}})
	}
	return anyOf
}

// Top returns the account that holds the top role, the one XStudio shows
// as "admin": the owner named ReservedUserName, else the first owner
// created. It is a NotFound error when there is no owner.
func Top(ctx context.Context, r Reader) (*User, error) {
	u, err := r.GetUserByUserName(ctx, ReservedUserName)
	if err == nil && PrivilegeOf(u) == PrivilegeOwner {
		return u, nil
	}
	if err != nil && !IsNotFound(err) {
		return nil, err
	}
	page, err := r.ListUsers(ctx, Query{Filter: HoldsPrivilege(PrivilegeOwner), Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(page.Users) == 0 {
		return nil, Errorf(KindNotFound, "no owner")
	}
	return page.Users[0], nil
}

// IsReservedUserName reports whether name is ReservedUserName, compared
// as user names are (case-insensitively; the comparison key of RFC 8265
// belongs here once user names are compared by it).
func IsReservedUserName(name string) bool {
	// Compared as userNames are (RFC 8265): "ＡＤＭＩＮ" is "admin" too.
	return UserNameKey(strings.TrimSpace(name)) == UserNameKey(ReservedUserName)
}

// checkReservedName keeps ReservedUserName for owners: no user but an owner
// may take it, and an owner holding it may not be demoted while it does.
// A non-owner that held it before the rule may be changed as long as it
// keeps the name and its privilege (an identity provider must still be
// able to deactivate it). The answer is the name's conflict, as if it
// were taken, which every door already maps to its own "name taken".
func checkReservedName(old, u *User) error {
	if !IsReservedUserName(u.UserName) || PrivilegeOf(u) == PrivilegeOwner {
		return nil
	}
	if old != nil && IsReservedUserName(old.UserName) && PrivilegeOf(old) == PrivilegeOf(u) {
		return nil
	}
	return FieldErrorf(KindConflict, "userName", "userName %q is reserved for an owner", u.UserName)
}

// CheckChange is the rule every door applies to a change of a user made
// on behalf of a user holding privilege by (after the door's own rules of
// who may call what): a privilege is granted or taken away only by an
// admin holding at least that privilege; and the password, userName and
// active state of a user holding a privilege are changed only by someone
// holding at least as much (no one takes over, renames or locks out an
// account above their own). old is nil for a create. A breach is a
// field-tagged KindForbidden error. Provisioning clients (SCIM tokens,
// the directory sync, the command line) are not users and are not checked.
func CheckChange(by Privilege, old, u *User) error {
	was := PrivilegeUser
	if old != nil {
		was = PrivilegeOf(old)
	}
	now := PrivilegeOf(u)
	if now != was && (by < PrivilegeAdmin || by < max(was, now)) {
		return FieldErrorf(KindForbidden, "roles", "only %s may make %s %s", article(max(was, now, PrivilegeAdmin)),
			article(was), article(now))
	}
	if old == nil || by >= was {
		return nil
	}
	field := ""
	switch {
	case u.PasswordHash != old.PasswordHash:
		field = "password"
	case u.UserName != old.UserName:
		field = "userName"
	case old.Active && !u.Active:
		field = "active"
	default:
		return nil
	}
	return FieldErrorf(KindForbidden, field, "only %s may change the %s of %s", article(was), field, article(was))
}

// CheckDelete is CheckChange for deleting u: a user holding a privilege is
// deleted only by someone holding at least as much.
func CheckDelete(by Privilege, u *User) error {
	if p := PrivilegeOf(u); by < p {
		return FieldErrorf(KindForbidden, "roles", "only %s may delete %s", article(p), article(p))
	}
	return nil
}

func article(p Privilege) string {
	if p == PrivilegeAdmin || p == PrivilegeOwner {
		return "an " + p.String()
	}
	return "a " + p.String()
}
