package store

import (
	"encoding/json"
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// Normalisation and validation of users and groups: the rules that hold for
// every door. Every backend calls these on every create and update and
// decides no rule itself; a door maps the field-tagged Invalid errors they
// return to its own format (Field is the attribute's path in the store's
// vocabulary: "userName", "name.givenName", "emails.value").

// NormaliseUserName returns userName as the store keeps it: surrounding
// white space removed, then checked against the userName rules (required,
// at most MaxUserNameLen characters, no control or invisible formatting
// characters). The name is otherwise kept as sent, so every door shows the
// user the name its identity provider gave; names are compared by
// UserNameKey.
func NormaliseUserName(userName string) (string, error) {
	userName = strings.TrimSpace(userName)
	if userName == "" {
		return "", FieldErrorf(KindInvalid, "userName", "userName is required")
	}
	if err := checkText("userName", "userName", userName, userNameRule); err != nil {
		return "", err
	}
	return userName, nil
}

// UserNameKey is the form in which userNames are compared, for uniqueness
// and for every lookup by userName: RFC 8265's UsernameCaseMapped profile
// (full-width characters mapped to their narrow forms, lower case, NFC), so
// that "ÄRNE" and "ärne", "kim" and "\u212Aim" (KELVIN SIGN), "ｂｏｂ" and
// "bob", or a precomposed and a decomposed "é" are one name. Backends store
// it beside the userName as sent, index it, and refuse a second user with
// the same key.
//
// The profile's identifier class refuses characters that SCIM userNames
// have always been allowed to hold (spaces, symbols, ligatures such as
// "ﬁ"): such a name is not refused but compared under the same three
// mappings, so that two names with equal keys are equal under the profile
// wherever it applies.
func UserNameKey(userName string) string {
	if key, err := precis.UsernameCaseMapped.CompareKey(userName); err == nil {
		return key
	}
	// The profile's mappings, in its order (RFC 8264 §7), without its
	// class and bidi checks. A chain holds state: one per call.
	mapping := transform.Chain(width.Fold, cases.Lower(language.Und, cases.HandleFinalSigma(false)), norm.NFC)
	key, _, err := transform.String(mapping, userName)
	if err != nil {
		return userName // not valid UTF-8: no stored name can equal it
	}
	return key
}

// NormaliseUser applies the shared rules to a user about to be created,
// normalising it in place (trimmed userName and e-mail values, an empty
// enterprise extension dropped), or returns the first rule it breaks.
func NormaliseUser(u *User) error { return normaliseUser(nil, u) }

// NormaliseUserUpdate is NormaliseUser for an update of old to u. Values
// the update leaves as they were are not checked against the limits again,
// so that a user stored before a limit existed can still be changed (an
// identity provider must be able to deactivate it) without first being
// repaired; every value the update sets or changes is checked.
func NormaliseUserUpdate(old, u *User) error { return normaliseUser(old, u) }

func normaliseUser(old, u *User) error {
	var oldName string
	if old != nil {
		oldName = old.UserName
	}
	if old == nil || strings.TrimSpace(u.UserName) != oldName {
		name, err := NormaliseUserName(u.UserName)
		if err != nil {
			return err
		}
		u.UserName = name
	} else {
		u.UserName = oldName
	}
	if err := checkReservedName(old, u); err != nil {
		return err
	}
	for i := range u.Emails {
		u.Emails[i].Value = strings.TrimSpace(u.Emails[i].Value)
	}
	if err := checkPrimaries(u); err != nil {
		return err
	}
	if u.Enterprise.IsZero() {
		u.Enterprise = nil
	}
	var c userCheck
	if old != nil {
		c.old = *old
	}
	if err := c.attributes(u); err != nil {
		return err
	}
	return checkUserSize(old, u)
}

// checkPrimaries allows at most one primary entry per multi-valued
// attribute, in attribute order so the same body always fails the same way.
func checkPrimaries(u *User) error {
	for _, a := range []struct {
		name string
		vs   []Value
	}{
		{"emails", u.Emails}, {"phoneNumbers", u.PhoneNumbers}, {"ims", u.IMs}, {"photos", u.Photos},
		{"entitlements", u.Entitlements}, {"roles", u.Roles}, {"x509Certificates", u.X509Certificates},
	} {
		if countPrimary(a.vs, func(v Value) bool { return v.Primary }) > 1 {
			return FieldErrorf(KindInvalid, a.name, "at most one of %s may be primary", a.name)
		}
	}
	if countPrimary(u.Addresses, func(a Address) bool { return a.Primary }) > 1 {
		return FieldErrorf(KindInvalid, "addresses", "at most one of addresses may be primary")
	}
	return nil
}

func countPrimary[T any](vs []T, primary func(T) bool) int {
	n := 0
	for _, v := range vs {
		if primary(v) {
			n++
		}
	}
	return n
}

// userCheck checks a user's attributes against the text rules and limits,
// skipping the values old already held (old is empty for a create).
type userCheck struct {
	old User
	err error
}

// text checks one single-valued string unless the update left it as it was.
func (c *userCheck) text(field, s, was string, rule textRule) {
	if c.err == nil && s != was {
		c.err = checkText(field, field, s, rule)
	}
}

func (c *userCheck) attributes(u *User) error {
	o := &c.old
	c.text("externalId", u.ExternalID, o.ExternalID, nameRule)
	c.name(u.Name, o.Name)
	c.text("displayName", u.DisplayName, o.DisplayName, nameRule)
	c.text("nickName", u.NickName, o.NickName, nameRule)
	c.text("profileUrl", u.ProfileURL, o.ProfileURL, longRule)
	c.text("title", u.Title, o.Title, nameRule)
	c.text("userType", u.UserType, o.UserType, nameRule)
	c.text("preferredLanguage", u.PreferredLanguage, o.PreferredLanguage, nameRule)
	c.text("locale", u.Locale, o.Locale, nameRule)
	c.text("timezone", u.Timezone, o.Timezone, nameRule)
	c.values("emails", u.Emails, o.Emails, nameRule)
	c.values("phoneNumbers", u.PhoneNumbers, o.PhoneNumbers, nameRule)
	c.values("ims", u.IMs, o.IMs, nameRule)
	c.values("photos", u.Photos, o.Photos, longRule)
	c.addresses(u.Addresses, o.Addresses)
	c.values("entitlements", u.Entitlements, o.Entitlements, longRule)
	c.values("roles", u.Roles, o.Roles, longRule)
	c.values("x509Certificates", u.X509Certificates, o.X509Certificates, longRule)
	c.enterprise(u.Enterprise, o.Enterprise)
	return c.err
}

func (c *userCheck) name(n, was Name) {
	if n == was {
		return
	}
	c.text("name.formatted", n.Formatted, was.Formatted, nameRule)
	c.text("name.familyName", n.FamilyName, was.FamilyName, nameRule)
	c.text("name.givenName", n.GivenName, was.GivenName, nameRule)
	c.text("name.middleName", n.MiddleName, was.MiddleName, nameRule)
	c.text("name.honorificPrefix", n.HonorificPrefix, was.HonorificPrefix, nameRule)
	c.text("name.honorificSuffix", n.HonorificSuffix, was.HonorificSuffix, nameRule)
}

// values checks the entries of a multi-valued attribute that old did not
// hold; valueRule applies to each value, nameRule to display and type.
func (c *userCheck) values(field string, vs, was []Value, valueRule textRule) {
	if c.err != nil {
		return
	}
	if len(vs) > len(was) {
		if c.err = checkCount(field, len(vs)); c.err != nil {
			return
		}
	}
	held := make(map[Value]bool, len(was))
	for _, v := range was {
		held[v] = true
	}
	for i, v := range vs {
		if held[v] {
			continue
		}
		if c.err = checkEntry(field, i, "value", v.Value, valueRule); c.err != nil {
			return
		}
		if c.err = checkEntry(field, i, "display", v.Display, nameRule); c.err != nil {
			return
		}
		if c.err = checkEntry(field, i, "type", v.Type, nameRule); c.err != nil {
			return
		}
	}
}

func (c *userCheck) addresses(as, was []Address) {
	const field = "addresses"
	if c.err != nil {
		return
	}
	if len(as) > len(was) {
		if c.err = checkCount(field, len(as)); c.err != nil {
			return
		}
	}
	held := make(map[Address]bool, len(was))
	for _, a := range was {
		held[a] = true
	}
	for i, a := range as {
		if held[a] {
			continue
		}
		for _, s := range [...]struct {
			sub, s string
			rule   textRule
		}{
			{"formatted", a.Formatted, linesRule}, {"streetAddress", a.StreetAddress, nameRule},
			{"locality", a.Locality, nameRule}, {"region", a.Region, nameRule},
			{"postalCode", a.PostalCode, nameRule}, {"country", a.Country, nameRule}, {"type", a.Type, nameRule},
		} {
			if c.err = checkEntry(field, i, s.sub, s.s, s.rule); c.err != nil {
				return
			}
		}
	}
}

func (c *userCheck) enterprise(e, was *Enterprise) {
	if e == nil {
		return
	}
	if was == nil {
		was = &Enterprise{}
	}
	c.text("enterprise.employeeNumber", e.EmployeeNumber, was.EmployeeNumber, nameRule)
	c.text("enterprise.costCenter", e.CostCenter, was.CostCenter, nameRule)
	c.text("enterprise.organization", e.Organization, was.Organization, nameRule)
	c.text("enterprise.division", e.Division, was.Division, nameRule)
	c.text("enterprise.department", e.Department, was.Department, nameRule)
	if e.Manager == nil {
		return
	}
	wasManager := was.Manager
	if wasManager == nil {
		wasManager = &Manager{}
	}
	c.text("enterprise.manager.value", e.Manager.Value, wasManager.Value, nameRule)
	c.text("enterprise.manager.$ref", e.Manager.Ref, wasManager.Ref, longRule)
	c.text("enterprise.manager.displayName", e.Manager.DisplayName, wasManager.DisplayName, nameRule)
}

// sizeSlack is how much an update may grow a user that was already larger
// than MaxUserBytes: room to deactivate it or change a role, not to grow.
const sizeSlack = 1 << 10

// checkUserSize refuses a user larger than MaxUserBytes, unless an update
// leaves an already larger one (stored before the limit) about as large.
func checkUserSize(old, u *User) error {
	if sizeBound(u) <= MaxUserBytes {
		return nil // the common case, without encoding the user
	}
	n, err := docSize(u)
	if err != nil || n <= MaxUserBytes {
		return err
	}
	if old != nil {
		if was, err := docSize(old); err == nil && n <= was+sizeSlack {
			return nil
		}
	}
	return Errorf(KindInvalid, "the user's attributes take %d bytes, more than %d", n, MaxUserBytes)
}

// sizeBound is more than docSize can be: JSON escapes a byte into at most
// six, and keys and punctuation take less than 2 KiB for the single-valued
// attributes and 128 bytes for each entry of a multi-valued one.
func sizeBound(u *User) int {
	text := len(u.UserName) + len(u.ExternalID) + len(u.DisplayName) + len(u.NickName) + len(u.ProfileURL) +
		len(u.Title) + len(u.UserType) + len(u.PreferredLanguage) + len(u.Locale) + len(u.Timezone)
	n := u.Name
	text += len(n.Formatted) + len(n.FamilyName) + len(n.GivenName) + len(n.MiddleName) + len(n.HonorificPrefix) + len(n.HonorificSuffix)
	entries := len(u.Addresses)
	for _, a := range u.Addresses {
		text += len(a.Formatted) + len(a.StreetAddress) + len(a.Locality) + len(a.Region) + len(a.PostalCode) + len(a.Country) + len(a.Type)
	}
	for _, vs := range [...][]Value{u.Emails, u.PhoneNumbers, u.IMs, u.Photos, u.Entitlements, u.Roles, u.X509Certificates} {
		entries += len(vs)
		for _, v := range vs {
			text += len(v.Value) + len(v.Display) + len(v.Type)
		}
	}
	if e := u.Enterprise; e != nil {
		text += len(e.EmployeeNumber) + len(e.CostCenter) + len(e.Organization) + len(e.Division) + len(e.Department)
		if m := e.Manager; m != nil {
			text += len(m.Value) + len(m.Ref) + len(m.DisplayName)
		}
	}
	return 2<<10 + 6*text + 128*entries
}

func docSize(u *User) (int, error) {
	b, err := json.Marshal(u)
	return len(b), err
}

// NormaliseGroup applies the shared rules to a group about to be created:
// displayName trimmed and required, displayName and externalId within the
// limits of names.
func NormaliseGroup(g *Group) error { return normaliseGroup(nil, g) }

// NormaliseGroupUpdate is NormaliseGroup for an update of old to g; values
// left as they were are not checked again (see NormaliseUserUpdate).
func NormaliseGroupUpdate(old, g *Group) error { return normaliseGroup(old, g) }

func normaliseGroup(old, g *Group) error {
	g.DisplayName = strings.TrimSpace(g.DisplayName)
	if g.DisplayName == "" {
		return FieldErrorf(KindInvalid, "displayName", "displayName is required")
	}
	was := &Group{}
	if old != nil {
		was = old
	}
	for _, f := range []struct{ field, s, was string }{
		{"displayName", g.DisplayName, was.DisplayName},
		{"externalId", g.ExternalID, was.ExternalID},
	} {
		if f.s != f.was {
			if err := checkText(f.field, f.field, f.s, nameRule); err != nil {
				return err
			}
		}
	}
	return nil
}
