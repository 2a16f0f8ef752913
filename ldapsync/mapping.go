package ldapsync

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimbridge/scimbridge/store"
)

// record is one directory entry as the fetch phase spools it: its DN, its
// decoded stable identity and the attributes the mapping needs, keyed by
// lower-case attribute name.
type record struct {
	DN    string
	ID    string
	Attrs map[string][]string
}

func (r *record) first(attr string) string {
	if vs := r.Attrs[strings.ToLower(attr)]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func (r *record) all(attr string) []string { return r.Attrs[strings.ToLower(attr)] }

// uacAccountDisable is userAccountControl's ACCOUNTDISABLE bit.
const uacAccountDisable = 0x2

// guidString decodes an Active Directory objectGUID: the first three fields
// are little-endian, the rest is in byte order.
func guidString(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("objectGUID has %d bytes, want 16", len(b))
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]), b[8:10], b[10:16]), nil
}

// identity returns the entry's stable identity in text form.
func identity(e *ldap.Entry, idAttr string) (string, error) {
	raw := e.GetEqualFoldRawAttributeValue(idAttr)
	if len(raw) == 0 {
		return "", fmt.Errorf("entry has no %s", idAttr)
	}
	if strings.EqualFold(idAttr, "objectGUID") {
		return guidString(raw)
	}
	return strings.ToLower(string(raw)), nil
}

// toRecord keeps the attributes the mapping needs, as text.
func toRecord(e *ldap.Entry, idAttr string) (*record, error) {
	id, err := identity(e, idAttr)
	if err != nil {
		return nil, err
	}
	r := &record{DN: e.DN, ID: id, Attrs: make(map[string][]string, len(e.Attributes))}
	for _, a := range e.Attributes {
		name := strings.ToLower(a.Name)
		if name == strings.ToLower(idAttr) {
			continue
		}
		r.Attrs[name] = append(r.Attrs[name], a.Values...)
	}
	return r, nil
}

// mapper turns records into store users and groups for one source.
type mapper struct {
	src   SourceConfig
	attrs map[string]string // SCIM → directory attribute
	// mapped pairs each mapped SCIM attribute with its directory attribute;
	// owned lists those the directory keeps owning after it creates a user
	// (mapped, not store_owned).
	mapped []mappedAttribute
	owned  []*scimAttribute
	// now tells whether an account has expired (accountExpires).
	now func() time.Time
}

// mappedAttribute is a SCIM attribute read from directory attribute dir.
type mappedAttribute struct {
	*scimAttribute
	dir string
}

// newMapper prepares the mapping of a source (with defaults filled in).
func newMapper(src SourceConfig, now func() time.Time) *mapper {
	m := &mapper{src: src, attrs: src.Attributes, now: now}
	for i := range scimAttributes {
		a := &scimAttributes[i]
		dir, ok := src.Attributes[a.name]
		if !ok {
			continue
		}
		m.mapped = append(m.mapped, mappedAttribute{a, dir})
		if !slices.Contains(src.StoreOwned, a.name) {
			m.owned = append(m.owned, a)
		}
	}
	return m
}

// userAttributes lists the directory attributes a user search asks for.
func (m *mapper) userAttributes() []string {
	out := []string{m.src.IDAttribute, m.changeAttribute()}
	for _, k := range slices.Sorted(maps.Keys(m.attrs)) {
		out = append(out, m.attrs[k])
	}
	if m.readsExpiry() {
		out = append(out, accountExpires)
	}
	return dedupeFold(out)
}

// accountExpires is AD's account expiry: 100-nanosecond intervals since
// 1601-01-01 UTC; 0 and 0x7FFFFFFFFFFFFFFF mean never. An expired account
// keeps its userAccountControl, so it is read besides it.
const accountExpires = "accountExpires"

// readsExpiry says whether activity is AD's: active maps to
// userAccountControl, whose companion accountExpires is read too.
func (m *mapper) readsExpiry() bool {
	return strings.EqualFold(m.attrs["active"], "userAccountControl") && !slices.Contains(m.src.StoreOwned, "active")
}

// expired reads accountExpires: whether the account has expired by now.
func (m *mapper) expired(r *record) (bool, error) {
	v := strings.TrimSpace(r.first(accountExpires))
	if v == "" {
		return false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return false, fmt.Errorf("accountExpires %q is not a number", v)
	}
	if n <= 0 || n == math.MaxInt64 {
		return false, nil
	}
	return !fromFileTime(n).After(m.now()), nil
}

// fileTimeEpoch is 1601-01-01 UTC in Unix seconds.
const fileTimeEpoch = -11644473600

// fromFileTime converts AD's 100-nanosecond intervals since 1601.
func fromFileTime(n int64) time.Time {
	return time.Unix(fileTimeEpoch+n/1e7, (n%1e7)*100).UTC()
}

// toFileTime is fromFileTime's inverse.
func toFileTime(t time.Time) int64 {
	return (t.Unix()-fileTimeEpoch)*1e7 + int64(t.Nanosecond())/100
}

// changeAttribute is the attribute that marks an entry's last change.
func (m *mapper) changeAttribute() string {
	if m.src.ChangeDetection == DetectNone || m.src.ChangeDetection == DetectSyncrepl {
		return ""
	}
	return m.src.ChangeDetection
}

// groupAttributes lists the directory attributes a group search asks for.
func (m *mapper) groupAttributes() []string {
	out := []string{m.src.IDAttribute, m.changeAttribute(), m.src.Groups.NameAttribute}
	if m.src.Groups.MemberOf == "" {
		out = append(out, m.src.Groups.MemberAttributes...)
	}
	return dedupeFold(out)
}

// user maps a record to the directory's view of the user. It fails on an
// entry the store cannot take, so bad entries are reported before any write.
func (m *mapper) user(r *record) (*store.User, error) {
	u := &store.User{Active: true, Source: store.Source{Name: m.src.Name, ID: r.ID, DN: r.DN}}
	for _, a := range m.mapped {
		vals := r.all(a.dir)
		first := ""
		if len(vals) > 0 {
			first = strings.TrimSpace(vals[0])
		}
		if err := a.set(u, a.dir, first, vals); err != nil {
			return nil, err
		}
	}
	u.SourcePasswordChanged = m.passwordChanged(r)
	if m.readsExpiry() {
		expired, err := m.expired(r)
		if err != nil {
			return nil, err
		}
		if expired {
			u.Active = false
		}
	}
	if u.UserName == "" {
		return nil, fmt.Errorf("entry has no %s (userName)", m.attrs["userName"])
	}
	if strings.ContainsAny(u.UserName, "\x00\r\n") {
		return nil, fmt.Errorf("%s %q contains control characters", m.attrs["userName"], u.UserName)
	}
	return u, nil
}

// parseActive reads an activity flag: AD's userAccountControl (bit 0x2
// means disabled), else a boolean-like value. A missing value means active.
func parseActive(attr, v string) (bool, error) {
	if v == "" {
		return true, nil
	}
	if strings.EqualFold(attr, "userAccountControl") {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false, fmt.Errorf("userAccountControl %q is not a number", v)
		}
		return n&uacAccountDisable == 0, nil
	}
	switch strings.ToLower(v) {
	case "true", "1", "yes", "active", "enabled":
		return true, nil
	case "false", "0", "no", "inactive", "disabled":
		return false, nil
	}
	return false, fmt.Errorf("%s %q is not a boolean", attr, v)
}

func values(vs []string, typ string) []store.Value {
	var out []store.Value
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, store.Value{Value: v, Type: typ, Primary: len(out) == 0})
		}
	}
	return out
}

func enterprise(u *store.User) *store.Enterprise {
	if u.Enterprise == nil {
		u.Enterprise = &store.Enterprise{}
	}
	return u.Enterprise
}

// scimAttribute is one SCIM attribute the attribute map may name: how the
// values of a directory attribute set it on the directory's view of a
// user, and how that view's value is copied onto a stored user.
type scimAttribute struct {
	name string
	// set stores the values of directory attribute dir; first is the
	// first value, trimmed.
	set func(u *store.User, dir, first string, vals []string) error
	// copy copies the attribute from the directory's view to dst.
	copy func(dst, view *store.User)
	// get is the attribute's values as write-back writes them (the primary
	// value first); nil for active, which has its own rules, and for
	// manager, whose value is a user to resolve to a DN.
	get func(u *store.User) []string
}

// scimAttributes lists every mappable SCIM attribute, in the order the
// configuration's errors name them.
var scimAttributes = []scimAttribute{
	text("userName", func(u *store.User) *string { return &u.UserName }),
	text("externalId", func(u *store.User) *string { return &u.ExternalID }),
	text("displayName", func(u *store.User) *string { return &u.DisplayName }),
	text("nickName", func(u *store.User) *string { return &u.NickName }),
	text("title", func(u *store.User) *string { return &u.Title }),
	text("userType", func(u *store.User) *string { return &u.UserType }),
	text("name.givenName", func(u *store.User) *string { return &u.Name.GivenName }),
	text("name.familyName", func(u *store.User) *string { return &u.Name.FamilyName }),
	text("name.formatted", func(u *store.User) *string { return &u.Name.Formatted }),
	text("name.middleName", func(u *store.User) *string { return &u.Name.MiddleName }),
	text("preferredLanguage", func(u *store.User) *string { return &u.PreferredLanguage }),
	text("locale", func(u *store.User) *string { return &u.Locale }),
	text("timezone", func(u *store.User) *string { return &u.Timezone }),
	workValues("emails", func(u *store.User) *[]store.Value { return &u.Emails }),
	workValues("phoneNumbers", func(u *store.User) *[]store.Value { return &u.PhoneNumbers }),
	{name: "active", set: setActive, copy: func(dst, view *store.User) { dst.Active = view.Active }},
	enterpriseText("enterprise.employeeNumber", func(e *store.Enterprise) *string { return &e.EmployeeNumber }),
	enterpriseText("enterprise.department", func(e *store.Enterprise) *string { return &e.Department }),
	enterpriseText("enterprise.costCenter", func(e *store.Enterprise) *string { return &e.CostCenter }),
	enterpriseText("enterprise.organization", func(e *store.Enterprise) *string { return &e.Organization }),
	enterpriseText("enterprise.division", func(e *store.Enterprise) *string { return &e.Division }),
	{name: "enterprise.manager", set: setManager, copy: copyManager, get: managerID},
}

// attrPasswordChanged is the attribute map's key for the entry's
// password-change time (OpenLDAP's operational pwdChangedTime, AD's
// pwdLastSet), kept in store.User.SourcePasswordChanged. It is no SCIM
// attribute, so it is neither store_owned nor written back: the sync only
// watches it, and when it moves, the password changed in the directory
// (see endSessionsOnPasswordChange).
const attrPasswordChanged = "passwordChanged"

// noPasswordChange is what SourcePasswordChanged holds for an entry that
// has no password-change time (a password set before the policy overlay
// ran, or none): the first change of such an entry is a change, while an
// empty value means the sync never read the attribute for the user.
const noPasswordChange = "none"

// passwordChanged is the entry's password-change time as the user keeps
// it: "" when the map does not name the attribute.
func (m *mapper) passwordChanged(r *record) string {
	dir := m.attrs[attrPasswordChanged]
	if dir == "" {
		return ""
	}
	if v := strings.TrimSpace(r.first(dir)); v != "" {
		return v
	}
	return noPasswordChange
}

// managerID is the SCIM id of the user's manager, which write-back turns
// into the manager's DN.
func managerID(u *store.User) []string {
	if u.Enterprise == nil || u.Enterprise.Manager == nil || u.Enterprise.Manager.Value == "" {
		return nil
	}
	return []string{u.Enterprise.Manager.Value}
}

// one is a single value, or none when it is empty.
func one(v string) []string {
	if v = strings.TrimSpace(v); v == "" {
		return nil
	}
	return []string{v}
}

// mappable names the SCIM attributes the attribute map may name.
func mappable() []string {
	out := make([]string, len(scimAttributes))
	for i, a := range scimAttributes {
		out[i] = a.name
	}
	return out
}

// text is a single-valued string attribute.
func text(name string, field func(*store.User) *string) scimAttribute {
	return scimAttribute{
		name: name,
		set: func(u *store.User, _, first string, _ []string) error {
			*field(u) = first
			return nil
		},
		copy: func(dst, view *store.User) { *field(dst) = *field(view) },
		get:  func(u *store.User) []string { return one(*field(u)) },
	}
}

// workValues is a multi-valued attribute: every directory value, the
// first primary, all of type work.
func workValues(name string, field func(*store.User) *[]store.Value) scimAttribute {
	return scimAttribute{
		name: name,
		set: func(u *store.User, _, _ string, vals []string) error {
			*field(u) = values(vals, "work")
			return nil
		},
		copy: func(dst, view *store.User) { *field(dst) = *field(view) },
		get:  func(u *store.User) []string { return primaryFirst(*field(u)) },
	}
}

// primaryFirst lists the values, the primary one first, each once.
func primaryFirst(vs []store.Value) []string {
	var out []string
	for _, v := range vs {
		if v.Primary && strings.TrimSpace(v.Value) != "" {
			out = append(out, strings.TrimSpace(v.Value))
		}
	}
	for _, v := range vs {
		if x := strings.TrimSpace(v.Value); x != "" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// enterpriseText is a string attribute of the enterprise extension.
func enterpriseText(name string, field func(*store.Enterprise) *string) scimAttribute {
	return scimAttribute{
		name: name,
		set: func(u *store.User, _, first string, _ []string) error {
			*field(enterprise(u)) = first
			return nil
		},
		copy: func(dst, view *store.User) {
			v := ""
			if view.Enterprise != nil {
				v = *field(view.Enterprise)
			}
			*field(enterprise(dst)) = v
		},
		get: func(u *store.User) []string {
			if u.Enterprise == nil {
				return nil
			}
			return one(*field(u.Enterprise))
		},
	}
}

func setActive(u *store.User, dir, first string, _ []string) error {
	active, err := parseActive(dir, first)
	if err != nil {
		return err
	}
	u.Active = active
	return nil
}

// setManager keeps the manager's DN, resolved to the manager's SCIM id
// when the user is written.
func setManager(u *store.User, _, first string, _ []string) error {
	if first != "" {
		enterprise(u).Manager = &store.Manager{Ref: first}
	}
	return nil
}

func copyManager(dst, view *store.User) {
	var m *store.Manager
	if view.Enterprise != nil {
		m = view.Enterprise.Manager
	}
	enterprise(dst).Manager = m
}

// memberRef is a group member as the directory names it.
type memberRef struct {
	DN       string // member, uniqueMember
	UserName string // memberUid
}

// memberOfKey holds, in memberOf mode, the DNs of the users whose memberOf
// names the group (no attribute can be named so).
const memberOfKey = "\x00memberof"

// groupMembers reads a group record's member references.
func (m *mapper) groupMembers(r *record) []memberRef {
	var out []memberRef
	for _, dn := range r.Attrs[memberOfKey] {
		out = append(out, memberRef{DN: dn})
	}
	for _, attr := range m.src.Groups.MemberAttributes {
		for _, v := range r.all(attr) {
			switch {
			case strings.TrimSpace(v) == "":
				// The empty DN stands in for the last member of a
				// groupOfNames (write-back's empty_group_member): no member.
			case strings.EqualFold(attr, "memberUid"):
				out = append(out, memberRef{UserName: v})
			case strings.EqualFold(attr, "uniqueMember"):
				// uniqueMember may carry an optional "#'0101'B" unique identifier.
				if i := strings.LastIndex(v, "#'"); i > 0 && strings.HasSuffix(v, "'B") {
					v = v[:i]
				}
				out = append(out, memberRef{DN: v})
			default:
				out = append(out, memberRef{DN: v})
			}
		}
	}
	return out
}

// normDN gives a DN a canonical text form for comparing (case, spacing,
// escaping); an unparsable DN is only lower-cased.
func normDN(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(dn))
	}
	var b strings.Builder
	for i, rdn := range parsed.RDNs {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, a := range rdn.Attributes {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(strings.ToLower(a.Type))
			b.WriteByte('=')
			b.WriteString(strings.ToLower(ldap.EscapeDN(a.Value)))
		}
	}
	return b.String()
}

func dedupeFold(in []string) []string {
	var out []string
	for _, s := range in {
		if s == "" || slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, s) }) {
			continue
		}
		out = append(out, s)
	}
	return out
}
