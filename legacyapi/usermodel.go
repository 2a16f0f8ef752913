package legacyapi

// The user-model views the dialects share (README.md, "The user model"):
// names, e-mail, last login and the directory-managed password; the
// privilege each dialect's role field maps onto is store.PrivilegeOf, and
// CheckedUpdate applies the privilege rules to a dialect's change.
// Each vendor field is a view of a SCIM attribute, so that a user written
// through one door reads naturally through every other.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/mail"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
)

// CheckedUpdate wraps an update (the fn of store.Tx.UpdateUser) made on
// behalf of a caller holding privilege by: the change fn makes is refused
// (a store.KindForbidden error) when it breaks the privilege rules every
// door shares (store.CheckChange), e.g. a lesser admin demoting the owner
// or setting its password.
func CheckedUpdate(by store.Privilege, fn func(u *store.User) error) func(u *store.User) error {
	return func(u *store.User) error {
		old := *u
		old.Roles = slices.Clone(u.Roles) // fn may change the roles in place
		if err := fn(u); err != nil {
			return err
		}
		return store.CheckChange(by, &old, u)
	}
}

// SetPrimaryEmail makes email the user's primary address (SetPrimary on
// emails, type "work" when it is the first).
func SetPrimaryEmail(u *store.User, email string) {
	u.Emails = SetPrimary(u.Emails, email, "work")
}

// SetPrimary makes v the primary value of a multi-valued attribute: it
// replaces the primary (else the first) value, marks it primary and keeps
// the others; an empty v removes that value instead. A first value gets
// the type typ.
func SetPrimary(vs []store.Value, v, typ string) []store.Value {
	i := slices.IndexFunc(vs, func(x store.Value) bool { return x.Primary })
	if i < 0 && len(vs) > 0 {
		i = 0
	}
	switch {
	case i < 0 && v == "":
		return vs
	case i < 0:
		return []store.Value{{Value: v, Type: typ, Primary: true}}
	case v == "":
		// A fresh array: the caller's slice may share its backing array.
		return append(vs[:i:i], vs[i+1:]...)
	}
	vs[i].Value, vs[i].Primary = v, true
	return vs
}

// FullName is the user's name as one string: displayName, else
// name.formatted, else given and family name, else userName.
func FullName(u *store.User) string {
	switch {
	case u.DisplayName != "":
		return u.DisplayName
	case u.Name.Formatted != "":
		return u.Name.Formatted
	}
	if n := joinName(u.Name.GivenName, u.Name.FamilyName); n != "" {
		return n
	}
	return u.UserName
}

// SetFullName stores a one-string name: displayName and name.formatted take
// it whole, givenName and familyName its first word and the rest.
func SetFullName(u *store.User, full string) {
	full = strings.TrimSpace(full)
	u.DisplayName = full
	u.Name.Formatted = full
	if joinName(u.Name.GivenName, u.Name.FamilyName) == full {
		return // already split this way (or another that joins the same)
	}
	given, family, _ := strings.Cut(full, " ")
	u.Name.GivenName, u.Name.FamilyName = given, strings.TrimSpace(family)
}

// SetGivenFamily stores a first and last name and keeps the one-string
// views (name.formatted, displayName) in step when they were derived from
// the old parts or unset.
func SetGivenFamily(u *store.User, given, family string) {
	old := joinName(u.Name.GivenName, u.Name.FamilyName)
	u.Name.GivenName, u.Name.FamilyName = given, family
	joined := joinName(given, family)
	if u.Name.Formatted == "" || u.Name.Formatted == old {
		u.Name.Formatted = joined
	}
	if u.DisplayName == "" || u.DisplayName == old {
		u.DisplayName = joined
	}
}

// GivenFamily is the user's first and last name for a door that shows
// them apart (Pterodactyl, XStudio): name.givenName and name.familyName,
// or, for a user named as one string through a door that has only that
// (xyOps full_name, a SCIM displayName), its first word and the rest of
// displayName (else name.formatted). The stored user is not changed: the
// parts are a view, and writing them back unchanged stores nothing.
func GivenFamily(u *store.User) (given, family string) {
	if u.Name.GivenName != "" || u.Name.FamilyName != "" {
		return u.Name.GivenName, u.Name.FamilyName
	}
	full := u.DisplayName
	if full == "" {
		full = u.Name.Formatted
	}
	given, family, _ = strings.Cut(strings.TrimSpace(full), " ")
	return given, strings.TrimSpace(family)
}

// SameAsShown reports whether a value a client sent back is the one the
// door showed for that field (equal as JSON; "" and null are the same, as
// are a number and its string). A door leaves such a field alone, so that
// every view can be written back unchanged: a value stored through another
// door that breaks this door's rule (an address that is no address, a
// time zone it does not know) is not refused, and one the view shows
// derived or as the vendor's default (first and last name from
// displayName, Pterodactyl's "en" for a language it lacks) does not
// overwrite the stored value.
func SameAsShown(shown, sent any) bool {
	return reflect.DeepEqual(plainJSON(shown), plainJSON(sent))
}

// plainJSON is v as encoding/json decodes it into any, with "" as nil and
// numbers as their text, for SameAsShown.
func plainJSON(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	if dec.Decode(&out) != nil {
		return v
	}
	switch x := out.(type) {
	case string:
		if x == "" {
			return nil
		}
		if _, err := strconv.ParseFloat(x, 64); err == nil {
			return json.Number(x)
		}
	}
	return out
}

// ShownFields is a rendered view (a struct the door writes as JSON) as
// field → value, for comparing a body with SameAsShown.
func ShownFields(view any) map[string]any {
	raw, err := json.Marshal(view)
	if err != nil {
		return nil
	}
	out := map[string]any{}
	if json.Unmarshal(raw, &out) != nil {
		return nil
	}
	return out
}

func joinName(given, family string) string {
	return strings.TrimSpace(given + " " + family)
}

// ValidEmail is the address check the dialects share: one bare address
// (no display name), with a dot in the domain.
func ValidEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && strings.Contains(s[at+1:], ".") && !strings.ContainsAny(s, " \t\r\n")
}

// EmailTaken reports whether a user other than exceptKey has email among
// its addresses (case-insensitive). The store keeps userName and
// externalId unique; the legacy APIs also want unique e-mail addresses.
// Call it with the transaction as r, so the answer holds at commit.
func EmailTaken(ctx context.Context, r store.Reader, email string, exceptKey int64) (bool, error) {
	page, err := r.ListUsers(ctx, store.Query{
		Filter: store.Compare{Attr: "emails.value", Op: store.OpEq, Value: email}, Limit: 2,
	})
	if err != nil {
		return false, err
	}
	for _, u := range page.Users {
		if u.Key != exceptKey {
			return true, nil
		}
	}
	return false, nil
}

// LastLogin returns when the user last logged in through any door (their
// ActionLogin entries), or the zero time.
func LastLogin(ctx context.Context, r store.Reader, userID string) (time.Time, error) {
	entries, _, err := r.ListActivity(ctx, store.ActivityQuery{UserID: userID, Action: auth.ActionLogin, Limit: 1})
	if err != nil || len(entries) == 0 {
		return time.Time{}, err
	}
	return entries[0].At, nil
}
