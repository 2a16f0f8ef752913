package store

import (
	"testing"
)

func TestPrivilegeOf(t *testing.T) {
	for _, tt := range []struct {
		name  string
		roles []Value
		want  Privilege
	}{
		{"none", nil, PrivilegeUser},
		{"typed admin", []Value{{Type: RoleType, Value: "admin"}}, PrivilegeAdmin},
		{"typed owner beats admin", []Value{{Type: RoleType, Value: "admin"}, {Type: RoleType, Value: "Owner"}}, PrivilegeOwner},
		{"untyped, as written before the model", []Value{{Value: " Admin "}}, PrivilegeAdmin},
		{"untyped moderator", []Value{{Value: "moderator"}}, PrivilegeModerator},
		{"xyOps admin privilege of before", []Value{{Type: "xyops.privilege", Value: "admin"}}, PrivilegeAdmin},
		{"another xyOps privilege", []Value{{Type: "xyops.privilege", Value: "owner"}}, PrivilegeUser},
		{"xyOps free-form role", []Value{{Type: "xyops.role", Value: "owner"}}, PrivilegeUser},
		{"an identity provider's own role type", []Value{{Type: "WindowsAzureActiveDirectoryRole", Value: "Admin"}}, PrivilegeUser},
		{"XStudio profile", []Value{{Type: "xstudio.profile", Value: "admin"}}, PrivilegeUser},
		{"typed user is nothing", []Value{{Type: RoleType, Value: "user"}}, PrivilegeUser},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := PrivilegeOf(&User{Roles: tt.roles}); got != tt.want {
				t.Fatalf("PrivilegeOf(%v) = %v, want %v", tt.roles, got, tt.want)
			}
		})
	}
}

func TestSetPrivilegeKeepsOtherRoles(t *testing.T) {
	other := []Value{{Type: "xyops.privilege", Value: "run_jobs"}, {Type: "xyops.role", Value: "owner"}, {Type: "app", Value: "admin"}}
	u := &User{Roles: append([]Value{{Value: "admin"}, {Type: "xyops.privilege", Value: "admin"}}, other...)}
	SetPrivilege(u, PrivilegeOwner)
	want := append(append([]Value{}, other...), Value{Type: RoleType, Value: "owner"})
	if len(u.Roles) != len(want) {
		t.Fatalf("roles %v, want %v", u.Roles, want)
	}
	for i := range want {
		if u.Roles[i] != want[i] {
			t.Fatalf("roles %v, want %v", u.Roles, want)
		}
	}
	SetPrivilege(u, PrivilegeUser)
	if PrivilegeOf(u) != PrivilegeUser || len(u.Roles) != len(other) {
		t.Fatalf("after SetPrivilege(user): %v", u.Roles)
	}
}

func TestSetPrivilegeFlag(t *testing.T) {
	for _, tt := range []struct {
		from Privilege
		yes  bool
		want Privilege
	}{
		{PrivilegeUser, true, PrivilegeAdmin},
		{PrivilegeModerator, true, PrivilegeAdmin},
		{PrivilegeAdmin, true, PrivilegeAdmin},
		{PrivilegeOwner, true, PrivilegeOwner}, // a field written back unchanged changes nothing
		{PrivilegeOwner, false, PrivilegeUser},
		{PrivilegeAdmin, false, PrivilegeUser},
		{PrivilegeModerator, false, PrivilegeModerator},
	} {
		u := &User{}
		SetPrivilege(u, tt.from)
		SetPrivilegeFlag(u, PrivilegeAdmin, tt.yes)
		if got := PrivilegeOf(u); got != tt.want {
			t.Errorf("%v, admin flag %v: %v, want %v", tt.from, tt.yes, got, tt.want)
		}
	}
}

func TestCheckChange(t *testing.T) {
	user := func(p Privilege, edit func(u *User)) *User {
		u := &User{UserName: "u", Active: true, PasswordHash: "h1"}
		SetPrivilege(u, p)
		if edit != nil {
			edit(u)
		}
		return u
	}
	demote := func(u *User) { SetPrivilege(u, PrivilegeUser) }
	promote := func(p Privilege) func(u *User) { return func(u *User) { SetPrivilege(u, p) } }
	for _, tt := range []struct {
		name      string
		by        Privilege
		old       *User
		edit      func(u *User)
		forbidden string // the field, "" when allowed
	}{
		{"an admin demotes an admin", PrivilegeAdmin, user(PrivilegeAdmin, nil), demote, ""},
		{"an admin demotes the owner", PrivilegeAdmin, user(PrivilegeOwner, nil), demote, "roles"},
		{"an owner demotes an owner", PrivilegeOwner, user(PrivilegeOwner, nil), demote, ""},
		{"an admin makes an owner", PrivilegeAdmin, user(PrivilegeUser, nil), promote(PrivilegeOwner), "roles"},
		{"an admin makes an admin", PrivilegeAdmin, user(PrivilegeUser, nil), promote(PrivilegeAdmin), ""},
		{"a moderator makes an admin", PrivilegeModerator, user(PrivilegeUser, nil), promote(PrivilegeAdmin), "roles"},
		{"a user makes a moderator", PrivilegeUser, user(PrivilegeUser, nil), promote(PrivilegeModerator), "roles"},
		{"an admin sets the owner's password", PrivilegeAdmin, user(PrivilegeOwner, nil), func(u *User) { u.PasswordHash = "h2" }, "password"},
		{"a user sets an admin's password", PrivilegeUser, user(PrivilegeAdmin, nil), func(u *User) { u.PasswordHash = "h2" }, "password"},
		{"a user sets a user's password", PrivilegeUser, user(PrivilegeUser, nil), func(u *User) { u.PasswordHash = "h2" }, ""},
		{"the owner sets its own password", PrivilegeOwner, user(PrivilegeOwner, nil), func(u *User) { u.PasswordHash = "h2" }, ""},
		{"an admin renames the owner", PrivilegeAdmin, user(PrivilegeOwner, nil), func(u *User) { u.UserName = "v" }, "userName"},
		{"an admin deactivates the owner", PrivilegeAdmin, user(PrivilegeOwner, nil), func(u *User) { u.Active = false }, "active"},
		{"an admin edits the owner's name", PrivilegeAdmin, user(PrivilegeOwner, nil), func(u *User) { u.DisplayName = "Own Er" }, ""},
		{"an admin creates an owner", PrivilegeAdmin, nil, promote(PrivilegeOwner), "roles"},
		{"an admin creates an admin", PrivilegeAdmin, nil, promote(PrivilegeAdmin), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			next := &User{UserName: "u", Active: true, PasswordHash: "h1"}
			if tt.old != nil {
				c := *tt.old
				c.Roles = append([]Value(nil), tt.old.Roles...)
				next = &c
			}
			tt.edit(next)
			err := CheckChange(tt.by, tt.old, next)
			if tt.forbidden == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if KindOf(err) != KindForbidden || FieldOf(err) != tt.forbidden {
				t.Fatalf("got %v (field %q), want forbidden on %s", err, FieldOf(err), tt.forbidden)
			}
		})
	}
	if err := CheckDelete(PrivilegeAdmin, user(PrivilegeOwner, nil)); KindOf(err) != KindForbidden {
		t.Fatalf("an admin deleted the owner: %v", err)
	}
	if err := CheckDelete(PrivilegeAdmin, user(PrivilegeAdmin, nil)); err != nil {
		t.Fatalf("an admin could not delete an admin: %v", err)
	}
}

func TestReservedUserName(t *testing.T) {
	owner := &User{UserName: "Admin"}
	SetPrivilege(owner, PrivilegeOwner)
	if err := NormaliseUser(owner); err != nil {
		t.Fatalf("an owner named admin: %v", err)
	}
	for _, name := range []string{"admin", "ADMIN", " admin "} {
		err := NormaliseUser(&User{UserName: name, Roles: []Value{{Type: RoleType, Value: "admin"}}})
		if KindOf(err) != KindConflict || FieldOf(err) != "userName" {
			t.Fatalf("%q taken by an admin: %v", name, err)
		}
	}
	// Renaming a user to it, or demoting the owner holding it, is refused.
	plain := &User{UserName: "kim"}
	renamed := &User{UserName: "admin"}
	if err := NormaliseUserUpdate(plain, renamed); KindOf(err) != KindConflict {
		t.Fatalf("rename to admin: %v", err)
	}
	demoted := &User{UserName: "Admin"}
	if err := NormaliseUserUpdate(owner, demoted); KindOf(err) != KindConflict {
		t.Fatalf("demoting the owner named admin: %v", err)
	}
	// A non-owner that held the name before the rule can still be changed
	// (deactivated) as long as it keeps name and privilege.
	legacy := &User{UserName: "admin", Active: true}
	next := &User{UserName: "admin", Active: false}
	if err := NormaliseUserUpdate(legacy, next); err != nil {
		t.Fatalf("legacy admin deactivated: %v", err)
	}
	promoted := &User{UserName: "admin", Roles: []Value{{Type: RoleType, Value: "admin"}}}
	if err := NormaliseUserUpdate(legacy, promoted); KindOf(err) != KindConflict {
		t.Fatalf("legacy admin promoted to admin, keeping the name: %v", err)
	}
}
