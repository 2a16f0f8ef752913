package ldapsync

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Config is the directory sync configuration (top-level yaml key ldap).
//
//	ldap:
//	  sources:
//	    - name: corp
//	      preset: openldap            # or activedirectory
//	      url: ldaps://ldap.example.com
//	      ca_file: /etc/scimbridge/ldap-ca.pem
//	      bind_dn: cn=sync,dc=example,dc=com
//	      bind_password_env: LDAP_SYNC_PASSWORD
//	      users:  {base_dn: "ou=people,dc=example,dc=com"}
//	      groups: {base_dn: "ou=groups,dc=example,dc=com"}
//	      attributes: {enterprise.department: ou}
//	      interval: 5m
//	      full_sync_interval: 24h
type Config struct {
	Sources []SourceConfig `yaml:"sources"`
}

// SourceConfig is one directory. Zero values take the preset's or the
// package default; see README.md for every key.
type SourceConfig struct {
	// Name identifies the source in the store (Source.Name), logs, the admin
	// endpoint and the CLI's --source.
	Name string `yaml:"name"`
	// Preset fills defaults for "openldap" (the default) or "activedirectory".
	Preset string `yaml:"preset"`

	URL                string        `yaml:"url"`
	StartTLS           bool          `yaml:"start_tls"`
	CAFile             string        `yaml:"ca_file"`
	InsecureSkipVerify bool          `yaml:"insecure_skip_verify"`
	BindDN             string        `yaml:"bind_dn"`
	BindPassword       string        `yaml:"bind_password"`
	BindPasswordEnv    string        `yaml:"bind_password_env"`
	BindPasswordFile   string        `yaml:"bind_password_file"`
	DialTimeout        time.Duration `yaml:"dial_timeout"`
	RequestTimeout     time.Duration `yaml:"request_timeout"`
	PageSize           int           `yaml:"page_size"`

	Users  UserSearch  `yaml:"users"`
	Groups GroupSearch `yaml:"groups"`

	// IDAttribute holds the stable identity: entryUUID, objectGUID, or any
	// attribute that survives renames.
	IDAttribute string `yaml:"id_attribute"`
	// Attributes maps SCIM attributes to directory attributes, over the
	// preset's map; an empty value removes a preset mapping.
	Attributes map[string]string `yaml:"attributes"`
	// StoreOwned lists SCIM attributes the directory sets only when it
	// creates a user; later syncs leave them to SCIM and the other doors.
	StoreOwned []string `yaml:"store_owned"`
	// LinkBy lists how a directory entry finds an existing unsynced user:
	// "userName" and/or "emails" (default both, in that order).
	LinkBy []string `yaml:"link_by"`
	// LinkCredentials is what linking does with a local account that holds
	// credentials (a password, API keys, tokens, sessions): "refuse"
	// (default: the entry is skipped and reported as a credential
	// conflict) or "revoke" (they are revoked and the account linked).
	LinkCredentials string `yaml:"link_credentials"`

	// OnDelete is what a sync does to users that vanished from the
	// directory: "deactivate" (default) or "delete".
	OnDelete string `yaml:"on_delete"`
	// FindDeletions says which runs find entries that vanished: "every_run"
	// (default; an incremental run reads the keys of the whole scope for
	// it) or "full_runs" (only full runs and content syncs, for directories
	// too large for a keys-only search every interval).
	FindDeletions string `yaml:"find_deletions"`
	// MaxDeletes refuses a run that would deactivate or delete more users
	// and groups than this (default 500; -1: no limit) unless forced.
	MaxDeletes int `yaml:"max_deletes"`
	// ChangeDetection is how incremental runs find changes: "entryCSN"
	// (OpenLDAP; microsecond resolution), "modifyTimestamp" (any LDAP
	// server; one-second resolution), "uSNChanged" (AD) or "none" (every
	// run is full).
	ChangeDetection string `yaml:"change_detection"`
	// Interval between incremental runs (default 5m); FullSyncInterval
	// between full reconciliations, which detect deletions (default 24h).
	Interval         time.Duration `yaml:"interval"`
	FullSyncInterval time.Duration `yaml:"full_sync_interval"`
	// RetryMin and RetryMax bound the backoff after a failed run
	// (default 10s and 10m).
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
	// BatchSize is how many entries one store transaction writes (default 500).
	BatchSize int `yaml:"batch_size"`

	// WriteBack writes the doors' changes to this directory (writeback.go).
	WriteBack WriteBack `yaml:"write_back"`
}

// UserSearch says where users are.
type UserSearch struct {
	BaseDN string `yaml:"base_dn"`
	Filter string `yaml:"filter"`
	// Scope is "sub" (default) or "one".
	Scope string `yaml:"scope"`
}

// GroupSearch says where groups are and how membership is expressed. An
// empty BaseDN disables group sync.
type GroupSearch struct {
	BaseDN string `yaml:"base_dn"`
	Filter string `yaml:"filter"`
	Scope  string `yaml:"scope"`
	// NameAttribute becomes the group's displayName (default cn).
	NameAttribute string `yaml:"name_attribute"`
	// MemberAttributes are read from groups: member and uniqueMember hold
	// DNs, memberUid holds user names (posixGroup).
	MemberAttributes []string `yaml:"member_attributes"`
	// MemberOf, when set (e.g. memberOf), reads membership from this user
	// attribute instead of the groups' member attributes.
	MemberOf string `yaml:"member_of"`
	// Flatten stores each group with all users of its nested groups as
	// direct members, and no group members.
	Flatten bool `yaml:"flatten"`
}

// Presets.
const (
	PresetOpenLDAP        = "openldap"
	PresetActiveDirectory = "activedirectory"
)

// Change detection modes.
const (
	// DetectSyncrepl uses RFC 4533 content sync (refreshOnly) with a
	// cookie per search; deletions are found in incremental runs too.
	DetectSyncrepl        = "syncrepl"
	DetectEntryCSN        = "entryCSN"
	DetectModifyTimestamp = "modifyTimestamp"
	DetectUSNChanged      = "uSNChanged"
	DetectNone            = "none"
)

// The find_deletions values.
const (
	FindDeletionsEveryRun = "every_run"
	FindDeletionsFullRuns = "full_runs"
)

func presetAttributes(preset string) map[string]string {
	if preset == PresetActiveDirectory {
		return map[string]string{
			"userName": "sAMAccountName", "name.givenName": "givenName", "name.familyName": "sn",
			"displayName": "displayName", "emails": "mail", "phoneNumbers": "telephoneNumber",
			"title": "title", "enterprise.employeeNumber": "employeeNumber",
			"enterprise.department": "department", "enterprise.manager": "manager",
			"active": "userAccountControl", attrPasswordChanged: "pwdLastSet",
		}
	}
	return map[string]string{
		"userName": "uid", "name.givenName": "givenName", "name.familyName": "sn",
		"displayName": "cn", "emails": "mail", "phoneNumbers": "telephoneNumber",
		"title": "title", "enterprise.employeeNumber": "employeeNumber",
		"enterprise.department": "departmentNumber", "enterprise.manager": "manager",
		attrPasswordChanged: "pwdChangedTime",
	}
}

// withDefaults returns the source with the preset and package defaults
// filled in. It does not validate.
func (c SourceConfig) withDefaults() SourceConfig {
	if c.Preset == "" {
		c.Preset = PresetOpenLDAP
	}
	c.presetDefaults()
	c.Attributes = mergeAttributes(presetAttributes(c.Preset), c.Attributes)
	if c.LinkBy == nil {
		c.LinkBy = []string{"userName", "emails"}
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&c.DialTimeout, 10 * time.Second}, {&c.RequestTimeout, 2 * time.Minute},
		{&c.Interval, 5 * time.Minute}, {&c.FullSyncInterval, 24 * time.Hour},
		{&c.RetryMin, 10 * time.Second}, {&c.RetryMax, 10 * time.Minute},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if c.PageSize <= 0 {
		c.PageSize = 500
	}
	if c.MaxDeletes == 0 {
		c.MaxDeletes = 500
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	c.writeBackDefaults()
	return c
}

// presetDefaults fills the keys whose default depends on the preset.
func (c *SourceConfig) presetDefaults() {
	ad := c.Preset == PresetActiveDirectory
	def := func(s *string, openldap, activedirectory string) {
		if *s == "" {
			*s = openldap
			if ad {
				*s = activedirectory
			}
		}
	}
	def(&c.IDAttribute, "entryUUID", "objectGUID")
	def(&c.ChangeDetection, DetectEntryCSN, DetectUSNChanged)
	def(&c.Users.Filter, "(objectClass=inetOrgPerson)", "(&(objectClass=user)(!(objectClass=computer)))")
	def(&c.Groups.Filter, "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))", "(objectClass=group)")
	def(&c.Groups.NameAttribute, "cn", "cn")
	def(&c.Users.Scope, "sub", "sub")
	def(&c.Groups.Scope, "sub", "sub")
	def(&c.OnDelete, "deactivate", "deactivate")
	def(&c.LinkCredentials, LinkCredentialsRefuse, LinkCredentialsRefuse)
	def(&c.FindDeletions, FindDeletionsEveryRun, FindDeletionsEveryRun)
	if c.Groups.MemberAttributes == nil && c.Groups.MemberOf == "" {
		c.Groups.MemberAttributes = []string{"member", "uniqueMember", "memberUid"}
		if ad {
			c.Groups.MemberAttributes = []string{"member"}
		}
	}
}

// mergeAttributes lays the configured attribute map over the preset's; an
// empty value removes a preset mapping.
func mergeAttributes(preset, configured map[string]string) map[string]string {
	for k, v := range configured {
		if v == "" {
			delete(preset, k)
		} else {
			preset[k] = v
		}
	}
	return preset
}

// Validate checks every source and names every bad key by its path, e.g.
// `ldap.sources[0]: missing required field "url"` or
// `ldap.sources[1].users.scope: must be "sub" or "one", got "deep"`.
func (c *Config) Validate() error {
	var errs []error
	names := map[string]bool{}
	creator := ""
	for i, raw := range c.Sources {
		v := &sourceCheck{at: fmt.Sprintf("ldap.sources[%d]", i), raw: raw, s: raw.withDefaults(), names: names, creator: &creator}
		for _, rule := range sourceRules {
			rule(v)
		}
		names[raw.Name] = true
		errs = append(errs, v.errs...)
	}
	return errors.Join(errs...)
}

// sourceRules are the checks every source passes, in the order their
// problems are reported.
var sourceRules = []func(*sourceCheck){
	(*sourceCheck).name,
	(*sourceCheck).preset,
	(*sourceCheck).serverURL,
	(*sourceCheck).caFile,
	(*sourceCheck).bindPassword,
	(*sourceCheck).usersBaseDN,
	(*sourceCheck).searches,
	(*sourceCheck).attributes,
	(*sourceCheck).storeOwned,
	(*sourceCheck).linkBy,
	(*sourceCheck).linkCredentials,
	(*sourceCheck).onDelete,
	(*sourceCheck).findDeletions,
	(*sourceCheck).changeDetection,
	(*sourceCheck).maxDeletes,
	(*sourceCheck).pageSize,
	(*sourceCheck).retry,
	(*sourceCheck).writeBack,
}

// sourceCheck is one source under validation and the problems found.
type sourceCheck struct {
	at    string       // the source's key path, ldap.sources[i]
	raw   SourceConfig // as configured
	s     SourceConfig // with the defaults filled in
	names map[string]bool
	// creator names the source that creates new entries by write-back.
	creator *string
	errs    []error
}

// bad reports a problem with key (a path below the source; "" for the
// source as a whole).
func (v *sourceCheck) bad(key, format string, args ...any) {
	path := v.at
	if key != "" {
		path += "." + key
	}
	v.errs = append(v.errs, errors.New(path+": "+fmt.Sprintf(format, args...)))
}

func (v *sourceCheck) missing(field string) { v.bad("", "missing required field %q", field) }

// oneOf reports got unless it is one of allowed.
func (v *sourceCheck) oneOf(key, got string, allowed ...string) {
	if slices.Contains(allowed, got) {
		return
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	last := len(quoted) - 1
	v.bad(key, "must be %s or %s, got %q", strings.Join(quoted[:last], ", "), quoted[last], got)
}

// fileExists reports a set path that cannot be read.
func (v *sourceCheck) fileExists(key, path string) {
	if path == "" {
		return
	}
	if _, err := os.Stat(path); err != nil {
		v.bad(key, "%v", err)
	}
}

func (v *sourceCheck) name() {
	switch {
	case v.raw.Name == "":
		v.missing("name")
	case v.names[v.raw.Name]:
		v.bad("name", "duplicate source name %q", v.raw.Name)
	}
}

func (v *sourceCheck) preset() {
	if v.raw.Preset != "" {
		v.oneOf("preset", v.raw.Preset, PresetOpenLDAP, PresetActiveDirectory)
	}
}

func (v *sourceCheck) serverURL() {
	if v.s.URL == "" {
		v.missing("url")
		return
	}
	u, err := url.Parse(v.s.URL)
	switch {
	case err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "":
		v.bad("url", "must be ldap://host[:port] or ldaps://host[:port], got %q", v.s.URL)
	case u.Scheme == "ldaps" && v.s.StartTLS:
		v.bad("start_tls", "cannot be combined with an ldaps:// url")
	}
}

func (v *sourceCheck) caFile() { v.fileExists("ca_file", v.s.CAFile) }

// bindPassword checks that a bind DN has exactly one password source, and
// that it can be read.
func (v *sourceCheck) bindPassword() {
	s := v.s
	n := 0
	for _, p := range []string{s.BindPassword, s.BindPasswordEnv, s.BindPasswordFile} {
		if p != "" {
			n++
		}
	}
	if n > 1 {
		v.bad("", "set only one of bind_password, bind_password_env, bind_password_file")
	}
	if s.BindPasswordEnv != "" {
		if _, ok := os.LookupEnv(s.BindPasswordEnv); !ok {
			v.bad("bind_password_env", "environment variable %q is not set", s.BindPasswordEnv)
		}
	}
	v.fileExists("bind_password_file", s.BindPasswordFile)
	if s.BindDN != "" && n == 0 {
		v.bad("", "bind_dn is set but no bind_password, bind_password_env or bind_password_file")
	}
}

func (v *sourceCheck) usersBaseDN() {
	if v.s.Users.BaseDN == "" {
		v.missing("users.base_dn")
	}
}

// searches checks the user and group searches' base DNs, filters and scopes.
func (v *sourceCheck) searches() {
	for _, q := range []struct{ key, base, filter, scope string }{
		{"users", v.s.Users.BaseDN, v.s.Users.Filter, v.s.Users.Scope},
		{"groups", v.s.Groups.BaseDN, v.s.Groups.Filter, v.s.Groups.Scope},
	} {
		if q.base != "" {
			if _, err := ldap.ParseDN(q.base); err != nil {
				v.bad(q.key+".base_dn", "%v", err)
			}
		}
		if _, err := ldap.CompileFilter(q.filter); err != nil {
			v.bad(q.key+".filter", "%v", err)
		}
		v.oneOf(q.key+".scope", q.scope, "sub", "one")
	}
}

// attributes checks the attribute map names only mappable SCIM
// attributes, and that userName stays mapped.
func (v *sourceCheck) attributes() {
	for _, k := range slices.Sorted(maps.Keys(v.raw.Attributes)) {
		if names := append(mappable(), attrPasswordChanged); !slices.Contains(names, k) {
			v.bad("attributes."+k, "not a mappable SCIM attribute (one of %s)", strings.Join(names, ", "))
		}
	}
	if v.s.Attributes["userName"] == "" {
		v.missing("attributes.userName")
	}
}

func (v *sourceCheck) storeOwned() {
	for _, k := range v.s.StoreOwned {
		if !slices.Contains(mappable(), k) {
			v.bad("store_owned", "%q is not a mappable SCIM attribute", k)
		}
	}
}

func (v *sourceCheck) linkBy() {
	for _, k := range v.s.LinkBy {
		if k != "userName" && k != "emails" {
			v.bad("link_by", "%q must be \"userName\" or \"emails\"", k)
		}
	}
}

func (v *sourceCheck) onDelete() { v.oneOf("on_delete", v.s.OnDelete, "deactivate", "delete") }

func (v *sourceCheck) linkCredentials() {
	v.oneOf("link_credentials", v.s.LinkCredentials, LinkCredentialsRefuse, LinkCredentialsRevoke)
}

func (v *sourceCheck) findDeletions() {
	v.oneOf("find_deletions", v.s.FindDeletions, FindDeletionsEveryRun, FindDeletionsFullRuns)
}

func (v *sourceCheck) changeDetection() {
	if v.s.ChangeDetection == DetectSyncrepl {
		if !strings.EqualFold(v.s.IDAttribute, "entryUUID") {
			v.bad("change_detection", "syncrepl identifies entries by entryUUID; id_attribute is %q", v.s.IDAttribute)
		}
		return
	}
	v.oneOf("change_detection", v.s.ChangeDetection,
		DetectSyncrepl, DetectEntryCSN, DetectModifyTimestamp, DetectUSNChanged, DetectNone)
}

func (v *sourceCheck) maxDeletes() {
	if v.s.MaxDeletes < -1 {
		v.bad("max_deletes", "must be -1 (no limit) or positive, got %d", v.s.MaxDeletes)
	}
}

func (v *sourceCheck) pageSize() {
	if v.s.PageSize > 1000 && v.s.Preset == PresetActiveDirectory {
		v.bad("page_size", "Active Directory serves at most 1000 entries a page, got %d", v.s.PageSize)
	}
}

func (v *sourceCheck) retry() {
	if v.s.RetryMin > v.s.RetryMax {
		v.bad("retry_min", "%s is more than retry_max %s", v.s.RetryMin, v.s.RetryMax)
	}
}

// password returns the bind password from wherever the source keeps it.
func (c SourceConfig) password() (string, error) {
	switch {
	case c.BindPasswordEnv != "":
		v, ok := os.LookupEnv(c.BindPasswordEnv)
		if !ok {
			return "", fmt.Errorf("environment variable %q is not set", c.BindPasswordEnv)
		}
		return v, nil
	case c.BindPasswordFile != "":
		b, err := os.ReadFile(c.BindPasswordFile)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return c.BindPassword, nil
}
