package ldapsync

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimbridge/scimbridge/store"
)

// WriteBack configures the write-back of one source: what the doors (SCIM,
// the legacy APIs, the admin API) change in the store is written to this
// directory. The store records each change in its outbox in the change's
// own transaction; a delivery loop turns the entries into LDAP operations,
// in order per user and group, with retries (outbound.go).
//
//	write_back:
//	  enabled: true
//	  user_base: ou=people,dc=example,dc=com
//	  group_base: ou=groups,dc=example,dc=com
//	  password_key_file: /etc/scimbridge/writeback.key
type WriteBack struct {
	Enabled bool `yaml:"enabled"`
	// UserBase and GroupBase are the containers of new entries; they must
	// lie inside users.base_dn and groups.base_dn, so the inbound sync sees
	// what write-back creates. No GroupBase: groups are not written.
	UserBase  string `yaml:"user_base"`
	GroupBase string `yaml:"group_base"`
	// UserRDN and GroupRDN make a new entry's RDN from the resource's SCIM
	// attributes: "uid={userName}", "CN={displayName|userName}" (the first
	// that is set). Defaults: openldap uid={userName}, activedirectory
	// CN={displayName|userName}; groups cn={displayName}.
	UserRDN  string `yaml:"user_rdn"`
	GroupRDN string `yaml:"group_rdn"`
	// UserObjectClasses and GroupObjectClasses of new entries. Defaults:
	// openldap inetOrgPerson and groupOfNames; activedirectory top, person,
	// organizationalPerson, user and top, group.
	UserObjectClasses  []string `yaml:"user_object_classes"`
	GroupObjectClasses []string `yaml:"group_object_classes"`
	// Attributes maps SCIM attributes to the directory attributes written,
	// over the inverse of the source's attributes map; "" stops writing
	// one. active is written by Deactivate, not here.
	Attributes map[string]string `yaml:"attributes"`
	// UserDefaults are attributes a new user entry gets when the map gives
	// it no value, as templates: {sn: "{name.familyName|userName}"}.
	// Default for openldap: cn and sn, which inetOrgPerson requires.
	UserDefaults map[string]string `yaml:"user_defaults"`
	// GroupMemberAttribute holds a written group's member DNs (default
	// member); EmptyGroupMember stands in for the last member of a group
	// whose object class requires one (groupOfNames; default "", the empty
	// DN, which the inbound sync ignores). AD groups may be empty.
	GroupMemberAttribute string  `yaml:"group_member_attribute"`
	EmptyGroupMember     *string `yaml:"empty_group_member"`
	// Create says whether users and groups unknown to the directory are
	// created in it (default true). At most one source creates.
	Create *bool `yaml:"create"`
	// Doors lists the doors whose changes are written (default: every door;
	// the directory sync's own changes never are).
	Doors []string `yaml:"doors"`
	// Deactivate is what a deactivation becomes: "userAccountControl" (AD's
	// ACCOUNTDISABLE bit; the AD default), "attribute" (DeactivateAttribute
	// set to DeactivateValue, and to ActivateValue or removed on
	// activation; the openldap default when active is mapped), "move" (to
	// DeactivateContainer, and back to UserBase) or "none" (the openldap
	// default otherwise).
	Deactivate          string `yaml:"deactivate"`
	DeactivateAttribute string `yaml:"deactivate_attribute"`
	DeactivateValue     string `yaml:"deactivate_value"`
	ActivateValue       string `yaml:"activate_value"`
	DeactivateContainer string `yaml:"deactivate_container"`
	// OnDelete is what a deleted user becomes: "delete" (default; the
	// entry goes, and with it its member values in groups), "deactivate",
	// "move" (to DeleteContainer) or "none". A deactivated or moved entry
	// left inside users.base_dn comes back as an inactive user at the next
	// inbound sync; a container outside the scope avoids that.
	OnDelete        string `yaml:"on_delete"`
	DeleteContainer string `yaml:"delete_container"`
	// LinkAttribute decides what an add that finds its DN taken does: when
	// the existing entry's LinkAttribute equals what the user would write
	// there (default: the attribute userName maps to), the user is linked
	// to it; otherwise the change is reported and nothing is overwritten.
	// "none": always report.
	LinkAttribute string `yaml:"link_attribute"`
	// PasswordKeyFile holds the key (32 bytes, raw, hex or base64) that
	// seals a password a door received in clear until it is written (AES-
	// 256-GCM); without one, passwords are not written back.
	PasswordKeyFile string `yaml:"password_key_file"`
	// MaxAttempts makes a change dead after this many failed attempts
	// (default 10); RetryMin and RetryMax bound the backoff between them
	// (default 1s and 5m). PollInterval is how often the outbox is read
	// when no door wakes the loop (default 500ms).
	MaxAttempts  int           `yaml:"max_attempts"`
	RetryMin     time.Duration `yaml:"retry_min"`
	RetryMax     time.Duration `yaml:"retry_max"`
	PollInterval time.Duration `yaml:"poll_interval"`
}

// The write_back.deactivate and write_back.on_delete methods.
const (
	DeactivateUAC       = "userAccountControl"
	DeactivateAttribute = "attribute"
	MethodMove          = "move"
	MethodNone          = "none"
	MethodDelete        = "delete"
	MethodDeactivate    = "deactivate"
)

// creates says whether the source creates entries for unknown resources.
func (w *WriteBack) creates() bool { return w.Create == nil || *w.Create }

// writeBackDefaults fills a source's write-back defaults; the source's own
// defaults are filled already.
func (c *SourceConfig) writeBackDefaults() {
	w := &c.WriteBack
	ad := c.Preset == PresetActiveDirectory
	pick := func(s *string, openldap, activedirectory string) {
		if *s == "" {
			*s = openldap
			if ad {
				*s = activedirectory
			}
		}
	}
	pick(&w.UserRDN, "uid={userName}", "CN={displayName|userName}")
	pick(&w.GroupRDN, "cn={displayName}", "CN={displayName}")
	if w.UserObjectClasses == nil {
		w.UserObjectClasses = []string{"inetOrgPerson"}
		if ad {
			w.UserObjectClasses = []string{"top", "person", "organizationalPerson", "user"}
		}
	}
	if w.GroupObjectClasses == nil {
		w.GroupObjectClasses = []string{"groupOfNames"}
		if ad {
			w.GroupObjectClasses = []string{"top", "group"}
		}
	}
	if w.UserDefaults == nil && !ad {
		w.UserDefaults = map[string]string{"cn": "{displayName|userName}", "sn": "{name.familyName|userName}"}
	}
	pick(&w.GroupMemberAttribute, "member", "member")
	if w.EmptyGroupMember == nil && !ad {
		empty := ""
		w.EmptyGroupMember = &empty
	}
	activeAttr := c.Attributes["active"]
	switch {
	case w.Deactivate != "":
	case ad:
		w.Deactivate = DeactivateUAC
	case activeAttr != "":
		w.Deactivate = DeactivateAttribute
	default:
		w.Deactivate = MethodNone
	}
	if w.Deactivate == DeactivateAttribute {
		pick(&w.DeactivateAttribute, activeAttr, activeAttr)
		pick(&w.DeactivateValue, "FALSE", "FALSE")
		if w.ActivateValue == "" && strings.EqualFold(w.DeactivateAttribute, activeAttr) {
			w.ActivateValue = "TRUE"
		}
	}
	pick(&w.OnDelete, MethodDelete, MethodDelete)
	pick(&w.LinkAttribute, c.Attributes["userName"], c.Attributes["userName"])
	if w.MaxAttempts <= 0 {
		w.MaxAttempts = 10
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&w.RetryMin, time.Second}, {&w.RetryMax, 5 * time.Minute}, {&w.PollInterval, 500 * time.Millisecond}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
}

// writtenAttributes is the map write-back writes, SCIM → directory: the
// inverse of the attributes map the source reads (each SCIM attribute
// written where it is read from), with write_back.attributes over it.
// active and the RDN are written by their own rules.
func (c *SourceConfig) writtenAttributes() map[string]string {
	out := maps.Clone(c.Attributes)
	delete(out, "active")
	for k, v := range c.WriteBack.Attributes {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// writeBack checks the write_back keys of a source that enables it.
func (v *sourceCheck) writeBack() {
	w := v.s.WriteBack
	if !w.Enabled {
		return
	}
	v.writeBackBases()
	for _, t := range []struct{ key, tmpl string }{{"write_back.user_rdn", w.UserRDN}, {"write_back.group_rdn", w.GroupRDN}} {
		if _, err := parseRDNTemplate(t.tmpl); err != nil {
			v.bad(t.key, "%v", err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(w.Attributes)) {
		if !slices.Contains(mappable(), k) || k == "active" {
			v.bad("write_back.attributes."+k, "not a writable SCIM attribute (one of the attributes map's, but active)")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(w.UserDefaults)) {
		if _, err := parseTemplate(w.UserDefaults[k]); err != nil {
			v.bad("write_back.user_defaults."+k, "%v", err)
		}
	}
	v.oneOf("write_back.deactivate", w.Deactivate, DeactivateUAC, DeactivateAttribute, MethodMove, MethodNone)
	switch w.Deactivate {
	case DeactivateAttribute:
		if w.DeactivateAttribute == "" {
			v.bad("write_back.deactivate_attribute", "required by deactivate: attribute (or map active in attributes)")
		}
	case MethodMove:
		v.container("write_back.deactivate_container", w.DeactivateContainer)
	}
	v.oneOf("write_back.on_delete", w.OnDelete, MethodDelete, MethodDeactivate, MethodMove, MethodNone)
	if w.OnDelete == MethodMove {
		v.container("write_back.delete_container", w.DeleteContainer)
	}
	if w.PasswordKeyFile != "" {
		if _, err := readSealKey(w.PasswordKeyFile); err != nil {
			v.bad("write_back.password_key_file", "%v", err)
		}
	}
	if v.s.IDAttribute != "" && !strings.EqualFold(v.s.IDAttribute, "entryUUID") && !strings.EqualFold(v.s.IDAttribute, "objectGUID") {
		v.bad("write_back", "needs id_attribute entryUUID or objectGUID, which the directory assigns; got %q", v.s.IDAttribute)
	}
	if w.creates() {
		if *v.creator != "" {
			v.bad("write_back.create", "source %q creates new users and groups already; only one source may (set create: false)", *v.creator)
		}
		*v.creator = v.s.Name
	}
}

// writeBackBases checks that new entries land inside the inbound scope.
func (v *sourceCheck) writeBackBases() {
	w := v.s.WriteBack
	for _, b := range []struct{ key, base, scope, want string }{
		{"write_back.user_base", w.UserBase, v.s.Users.BaseDN, "users.base_dn"},
		{"write_back.group_base", w.GroupBase, v.s.Groups.BaseDN, "groups.base_dn"},
	} {
		if b.base == "" {
			if b.key == "write_back.user_base" {
				v.missing(b.key)
			}
			continue
		}
		base, err := ldap.ParseDN(b.base)
		if err != nil {
			v.bad(b.key, "%v", err)
			continue
		}
		scope, err := ldap.ParseDN(b.scope)
		if err != nil || b.scope == "" || !(scope.Equal(base) || scope.AncestorOf(base)) {
			v.bad(b.key, "%q is not inside %s %q: the inbound sync would not see what write-back creates", b.base, b.want, b.scope)
		}
	}
}

func (v *sourceCheck) container(key, dn string) {
	if dn == "" {
		v.bad(key, "required by the move method")
		return
	}
	if _, err := ldap.ParseDN(dn); err != nil {
		v.bad(key, "%v", err)
	}
}

// template is a value made of literal text and {attr|attr…} placeholders.
type template struct {
	parts []templatePart
}

type templatePart struct {
	text  string
	attrs []string // a placeholder: the first of these SCIM attributes that is set
}

// parseTemplate reads "literal {a|b} literal".
func parseTemplate(s string) (*template, error) {
	t := &template{}
	for s != "" {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			t.parts = append(t.parts, templatePart{text: s})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{text: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("%q: unclosed {", s)
		}
		var attrs []string
		for _, a := range strings.Split(s[i+1:i+j], "|") {
			a = strings.TrimSpace(a)
			if !slices.Contains(templateAttributes(), a) {
				return nil, fmt.Errorf("%q: {%s} is not a SCIM attribute (one of %s)", s, a, strings.Join(templateAttributes(), ", "))
			}
			attrs = append(attrs, a)
		}
		t.parts = append(t.parts, templatePart{attrs: attrs})
		s = s[i+j+1:]
	}
	return t, nil
}

// parseRDNTemplate reads "attr={…}": an RDN whose value is a template.
func parseRDNTemplate(s string) (*rdnTemplate, error) {
	attr, value, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(attr) == "" || strings.ContainsAny(attr, ",+{}") {
		return nil, fmt.Errorf("%q: want attribute={SCIM attribute}, e.g. uid={userName}", s)
	}
	t, err := parseTemplate(value)
	if err != nil {
		return nil, err
	}
	return &rdnTemplate{attr: strings.TrimSpace(attr), value: t}, nil
}

// rdnTemplate makes an entry's RDN.
type rdnTemplate struct {
	attr  string
	value *template
}

// templateAttributes are what a template may name: the mappable SCIM
// attributes and the resource's id.
func templateAttributes() []string { return append(mappable(), "id") }

// render fills the template from u; ok is false when a placeholder has no
// value (none of its attributes is set).
func (t *template) render(get func(attr string) string) (string, bool) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.attrs == nil {
			b.WriteString(p.text)
			continue
		}
		v := ""
		for _, a := range p.attrs {
			if v = get(a); v != "" {
				break
			}
		}
		if v == "" {
			return "", false
		}
		b.WriteString(v)
	}
	return b.String(), true
}

// readSealKey reads a password sealing key: 32 bytes, raw or as hex or
// base64 text.
func readSealKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeSealKey(b)
}

// userField is a user's value of a SCIM attribute (or "id") as one string,
// for templates: the first value of a multi-valued one.
func userField(u *store.User, attr string) string {
	if attr == "id" {
		return u.ID
	}
	for i := range scimAttributes {
		if a := &scimAttributes[i]; a.name == attr && a.get != nil {
			if vs := a.get(u); len(vs) > 0 {
				return vs[0]
			}
		}
	}
	return ""
}

// groupField is a group's value for a template.
func groupField(g *store.Group, attr string) string {
	switch attr {
	case "id":
		return g.ID
	case "displayName":
		return g.DisplayName
	case "externalId":
		return g.ExternalID
	}
	return ""
}
