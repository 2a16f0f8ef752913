package ldapsync

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

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
}

// userAttributes lists the directory attributes a user search asks for.
func (m *mapper) userAttributes() []string {
	out := []string{m.src.IDAttribute, m.changeAttribute()}
	for _, k := range slices.Sorted(maps.Keys(m.attrs)) {
		out = append(out, m.attrs[k])
	}
	return dedupeFold(out)
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
	for scim, dir := range m.attrs {
		vals := r.all(dir)
		first := ""
		if len(vals) > 0 {
			first = strings.TrimSpace(vals[0])
		}
		switch scim {
		case "userName":
			u.UserName = first
		case "externalId":
			u.ExternalID = first
		case "displayName":
			u.DisplayName = first
		case "nickName":
			u.NickName = first
		case "title":
			u.Title = first
		case "userType":
			u.UserType = first
		case "name.givenName":
			u.Name.GivenName = first
		case "name.familyName":
			u.Name.FamilyName = first
		case "name.formatted":
			u.Name.Formatted = first
		case "name.middleName":
			u.Name.MiddleName = first
		case "preferredLanguage":
			u.PreferredLanguage = first
		case "locale":
			u.Locale = first
		case "timezone":
			u.Timezone = first
		case "emails":
			u.Emails = values(vals, "work")
		case "phoneNumbers":
			u.PhoneNumbers = values(vals, "work")
		case "active":
			active, err := parseActive(dir, first)
			if err != nil {
				return nil, err
			}
			u.Active = active
		case "enterprise.employeeNumber":
			enterprise(u).EmployeeNumber = first
		case "enterprise.department":
			enterprise(u).Department = first
		case "enterprise.costCenter":
			enterprise(u).CostCenter = first
		case "enterprise.organization":
			enterprise(u).Organization = first
		case "enterprise.division":
			enterprise(u).Division = first
		case "enterprise.manager":
			// A DN, resolved to the manager's SCIM id when the user is written.
			if first != "" {
				enterprise(u).Manager = &store.Manager{Ref: first}
			}
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

// copyAttr sets one mapped SCIM attribute of dst from the directory view.
func copyAttr(dst, view *store.User, attr string) {
	ve := view.Enterprise
	if ve == nil {
		ve = &store.Enterprise{}
	}
	switch attr {
	case "userName":
		dst.UserName = view.UserName
	case "externalId":
		dst.ExternalID = view.ExternalID
	case "displayName":
		dst.DisplayName = view.DisplayName
	case "nickName":
		dst.NickName = view.NickName
	case "title":
		dst.Title = view.Title
	case "userType":
		dst.UserType = view.UserType
	case "name.givenName":
		dst.Name.GivenName = view.Name.GivenName
	case "name.familyName":
		dst.Name.FamilyName = view.Name.FamilyName
	case "name.formatted":
		dst.Name.Formatted = view.Name.Formatted
	case "name.middleName":
		dst.Name.MiddleName = view.Name.MiddleName
	case "preferredLanguage":
		dst.PreferredLanguage = view.PreferredLanguage
	case "locale":
		dst.Locale = view.Locale
	case "timezone":
		dst.Timezone = view.Timezone
	case "emails":
		dst.Emails = view.Emails
	case "phoneNumbers":
		dst.PhoneNumbers = view.PhoneNumbers
	case "active":
		dst.Active = view.Active
	case "enterprise.employeeNumber":
		enterprise(dst).EmployeeNumber = ve.EmployeeNumber
	case "enterprise.department":
		enterprise(dst).Department = ve.Department
	case "enterprise.costCenter":
		enterprise(dst).CostCenter = ve.CostCenter
	case "enterprise.organization":
		enterprise(dst).Organization = ve.Organization
	case "enterprise.division":
		enterprise(dst).Division = ve.Division
	case "enterprise.manager":
		enterprise(dst).Manager = ve.Manager
	}
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
