package usersapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// userOut is the documented user object plus the real product's keys
// (README mapping table). Documented keys come first.
type userOut struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Email       string  `json:"email"`
	Role        string  `json:"role"`
	Active      bool    `json:"active"`
	LastLoginAt *string `json:"lastLoginAt"`
	CreatedAt   string  `json:"createdAt"`
	UpdatedAt   string  `json:"updatedAt"`

	Username  string  `json:"username"`
	FullName  string  `json:"fullName"`
	Status    string  `json:"status"`
	LastLogin *string `json:"lastLogin"`
	Timezone  *string `json:"timezone"`
	Language  *string `json:"language"`
	Phone     *string `json:"phone"`
	Avatar    *string `json:"avatar"`
}

// ts is an ISO-8601 UTC timestamp as JavaScript writes it (milliseconds, Z).
func ts(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02T15:04:05.000Z")
	return &s
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func firstValue(vs []store.Value) string {
	for _, v := range vs {
		if v.Primary {
			return v.Value
		}
	}
	if len(vs) > 0 {
		return vs[0].Value
	}
	return ""
}

// roleOf maps roles to the documented vocabulary (admin|user), plus the
// real product's moderator.
func roleOf(u *store.User) string {
	switch store.PrivilegeOf(u) {
	case store.PrivilegeOwner, store.PrivilegeAdmin:
		return "admin"
	case store.PrivilegeModerator:
		return "moderator"
	}
	return "user"
}

// setRole stores a role; viewer is the real product's name for user.
// "admin" means an admin or the owner, so it keeps an owner an owner.
func setRole(u *store.User, role string) {
	switch role {
	case "admin":
		store.SetPrivilegeFlag(u, store.PrivilegeAdmin, true)
	case "moderator":
		store.SetPrivilege(u, store.PrivilegeModerator)
	default:
		store.SetPrivilege(u, store.PrivilegeUser)
	}
}

func validRole(role string) bool {
	switch role {
	case "admin", "user", "moderator", "viewer":
		return true
	}
	return false
}

func (s *server) render(ctx context.Context, u *store.User) (userOut, error) {
	last, err := legacyapi.LastLogin(ctx, s.deps.Store, u.ID)
	if err != nil {
		return userOut{}, err
	}
	name := legacyapi.FullName(u)
	status := "inactive"
	if u.Active {
		status = "active"
	}
	return userOut{
		ID: u.Key, Name: name, Email: u.PrimaryEmail(), Role: roleOf(u), Active: u.Active,
		LastLoginAt: ts(last), CreatedAt: *ts(u.Meta.Created), UpdatedAt: *ts(u.Meta.LastModified),
		Username: u.UserName, FullName: name, Status: status, LastLogin: ts(last),
		Timezone: optional(u.Timezone), Language: optional(u.PreferredLanguage),
		Phone: optional(firstValue(u.PhoneNumbers)), Avatar: optional(firstValue(u.Photos)),
	}, nil
}

// userIn is a parsed create/update body; nil fields were not sent.
type userIn struct {
	name, email, username, password, role *string
	active                                *bool
	timezone, language, phone, avatar     *string
}

// parseUser validates a body; creating makes name, email and password
// required. Each field gets its first failure only.
func parseUser(b body, creating bool) (userIn, invalid) {
	var in userIn
	bad := invalid{}
	text := func(field, label string, required bool, keys ...string) *string {
		for _, k := range keys {
			v, present, ok := b.str(k)
			if !present {
				continue
			}
			if !ok || strings.TrimSpace(v) == "" {
				bad.add(field, label+" must be a non-empty string")
				return nil
			}
			v = strings.TrimSpace(v)
			return &v
		}
		if required {
			bad.add(field, label+" is required")
		}
		return nil
	}
	in.name = text("name", "Name", creating, "name", "fullName")
	in.email = text("email", "Email", creating, "email")
	if in.email != nil && !legacyapi.ValidEmail(*in.email) {
		bad.add("email", "Invalid email format")
	}
	in.username = text("username", "Username", false, "username")
	if in.username != nil && strings.ContainsAny(*in.username, " \t\r\n") {
		bad.add("username", "Username must not contain spaces")
	}
	if creating {
		pw, present, ok := b.str("password")
		switch {
		case !present:
			bad.add("password", "Password is required")
		case !ok:
			bad.add("password", "Password must be a string")
		case len([]rune(pw)) < 8:
			bad.add("password", "Password must be at least 8 characters")
		default:
			in.password = &pw
		}
	}
	if role, present, ok := b.str("role"); present {
		if !ok || !validRole(role) {
			bad.add("role", "Role must be one of: admin, user")
		} else {
			in.role = &role
		}
	}
	if active, present, ok := b.boolean("active"); present {
		if !ok {
			bad.add("active", "Active must be a boolean")
		} else {
			in.active = &active
		}
	} else if status, present, ok := b.str("status"); present {
		if !ok || (status != "active" && status != "inactive" && status != "suspended") {
			bad.add("status", "Status must be one of: active, inactive, suspended")
		} else {
			a := status == "active"
			in.active = &a
		}
	}
	optionalText := func(field, label string) *string {
		v, present, ok := b.str(field)
		if !present {
			return nil
		}
		if !ok {
			bad.add(field, label+" must be a string")
			return nil
		}
		v = strings.TrimSpace(v)
		return &v
	}
	in.timezone = optionalText("timezone", "Timezone")
	if in.timezone != nil && *in.timezone != "" {
		if _, err := time.LoadLocation(*in.timezone); err != nil {
			bad.add("timezone", "Timezone must be an IANA time zone name")
		}
	}
	in.language = optionalText("language", "Language")
	in.phone = optionalText("phone", "Phone")
	in.avatar = optionalText("avatar", "Avatar")
	return in, bad
}

// setOne sets the one value the Users API shows of a multi-valued
// attribute (phone, avatar): the primary, else the first; "" clears the
// attribute.
func setOne(vs []store.Value, v, typ string) []store.Value {
	if v == "" {
		return nil
	}
	return legacyapi.SetPrimary(vs, v, typ)
}

// apply writes the profile fields every caller may change.
func (in userIn) applyProfile(u *store.User) {
	if in.name != nil {
		legacyapi.SetFullName(u, *in.name)
	}
	if in.timezone != nil {
		u.Timezone = *in.timezone
	}
	if in.language != nil {
		u.PreferredLanguage = *in.language
	}
	if in.phone != nil {
		u.PhoneNumbers = setOne(u.PhoneNumbers, *in.phone, "work")
	}
	if in.avatar != nil {
		u.Photos = setOne(u.Photos, *in.avatar, "photo")
	}
}

// applyAdmin writes the fields only an administrator may change.
func (in userIn) applyAdmin(u *store.User) {
	if in.email != nil && u.PrimaryEmail() != *in.email {
		legacyapi.SetPrimaryEmail(u, *in.email)
	}
	if in.username != nil && !strings.EqualFold(u.UserName, *in.username) {
		u.UserName = *in.username
	}
	if in.role != nil && *in.role != roleOf(u) && !(*in.role == "viewer" && roleOf(u) == "user") {
		setRole(u, *in.role)
	}
	if in.active != nil {
		u.Active = *in.active
	}
}

// emailUnique refuses an e-mail address another user has (409). The store
// keeps userName unique (its conflict is mapped in errors.go) but not
// e-mail addresses; the Users API wants those unique too.
func emailUnique(ctx context.Context, tx store.Reader, email string, self int64) error {
	if email == "" {
		return nil
	}
	taken, err := legacyapi.EmailTaken(ctx, tx, email, self)
	if err != nil {
		return err
	}
	if taken {
		return &refusal{http.StatusConflict, msgEmailExists}
	}
	return nil
}

// deref is *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
