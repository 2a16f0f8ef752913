package ldapsync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestValidateNamesEveryBadKey(t *testing.T) {
	t.Setenv("LDAP_PW", "x")
	cfg := Config{Sources: []SourceConfig{
		{Name: "ok", URL: "ldaps://ldap.example.com", BindDN: "cn=x", BindPasswordEnv: "LDAP_PW", Users: UserSearch{BaseDN: "dc=example"}},
		{BindDN: "cn=x", Users: UserSearch{Filter: "(broken"}},
		{Name: "ok", URL: "http://x", Preset: "novell", OnDelete: "shred", ChangeDetection: "magic", BindPassword: "a",
			BindPasswordEnv: "NOT_SET_ANYWHERE_42", Users: UserSearch{BaseDN: "dc=x", Scope: "deep"},
			Attributes: map[string]string{"shoeSize": "x"}, LinkBy: []string{"phone"}},
	}}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for _, want := range []string{
		`ldap.sources[1]: missing required field "name"`,
		`ldap.sources[1]: missing required field "url"`,
		`ldap.sources[1]: missing required field "users.base_dn"`,
		`ldap.sources[1].users.filter:`,
		`ldap.sources[1]: bind_dn is set but no bind_password`,
		`ldap.sources[2].name: duplicate source name "ok"`,
		`ldap.sources[2].url: must be ldap://`,
		`ldap.sources[2].preset:`,
		`ldap.sources[2].on_delete:`,
		`ldap.sources[2].change_detection:`,
		`ldap.sources[2]: set only one of bind_password`,
		`ldap.sources[2].bind_password_env: environment variable "NOT_SET_ANYWHERE_42" is not set`,
		`ldap.sources[2].users.scope:`,
		`ldap.sources[2].attributes.shoeSize:`,
		`ldap.sources[2].link_by:`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if strings.Contains(err.Error(), "sources[0]") {
		t.Errorf("the good source was reported: %v", err)
	}
	if t.Failed() {
		t.Log(err)
	}
	if _, err := New(cfg, newStore(t), nil); err == nil {
		t.Fatal("New accepted a bad configuration")
	}
}

func TestPasswordFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(path, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pw, err := SourceConfig{BindPasswordFile: path}.password()
	if err != nil || pw != "s3cret" {
		t.Fatalf("password = %q, %v", pw, err)
	}
}

func TestConfigDecodesFromYAML(t *testing.T) {
	t.Setenv("LDAP_PASSWORD", "x")
	doc := `
sources:
  - name: corp
    preset: activedirectory
    url: ldaps://dc1.example.com
    ca_file: ""
    bind_dn: CN=sync,DC=example,DC=com
    bind_password_env: LDAP_PASSWORD
    page_size: 1000
    users: {base_dn: "OU=Staff,DC=example,DC=com", scope: sub}
    groups: {base_dn: "OU=Groups,DC=example,DC=com", flatten: true}
    attributes: {enterprise.department: physicalDeliveryOfficeName, title: ""}
    store_owned: [displayName]
    on_delete: delete
    max_deletes: 50
    interval: 90s
    full_sync_interval: 12h
    retry_min: 5s
    retry_max: 5m
`
	var cfg Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c := cfg.Sources[0].withDefaults()
	if c.Interval != 90*time.Second || c.FullSyncInterval != 12*time.Hour || c.MaxDeletes != 50 || !c.Groups.Flatten ||
		c.IDAttribute != "objectGUID" || c.ChangeDetection != DetectUSNChanged || c.Attributes["userName"] != "sAMAccountName" ||
		c.Attributes["enterprise.department"] != "physicalDeliveryOfficeName" || c.Attributes["title"] != "" {
		t.Fatalf("decoded %+v", c)
	}
}

// The messages are the configuration's interface: every one, byte for
// byte, in the order the rules report them (unknown attribute keys sorted,
// so the text is the same from run to run).
func TestValidateMessagesInFull(t *testing.T) {
	cfg := Config{Sources: []SourceConfig{{
		Name: "x", Preset: "novell", URL: "ldaps://h", StartTLS: true, CAFile: "/nonexistent/ca.pem",
		BindDN: "cn=x", BindPassword: "a", BindPasswordFile: "/nonexistent/pw",
		Users:      UserSearch{BaseDN: "=bad", Filter: "(broken", Scope: "deep"},
		Groups:     GroupSearch{BaseDN: "dc=g", Scope: "base"},
		Attributes: map[string]string{"shoe": "x", "hat": "y", "userName": ""},
		StoreOwned: []string{"bogus"}, LinkBy: []string{"phone"}, OnDelete: "shred",
		ChangeDetection: "magic", MaxDeletes: -2, RetryMin: time.Hour, RetryMax: time.Minute,
	}, {
		Name: "x", URL: "ldap://h", Preset: PresetActiveDirectory, PageSize: 5000, ChangeDetection: DetectSyncrepl,
		Users: UserSearch{BaseDN: "dc=x"},
	}}}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	if got := err.Error(); got != wantValidateMessages {
		t.Fatalf("messages differ.\ngot:\n%s\nwant:\n%s", got, wantValidateMessages)
	}
}

const wantValidateMessages = `ldap.sources[0].preset: must be "openldap" or "activedirectory", got "novell"
ldap.sources[0].start_tls: cannot be combined with an ldaps:// url
ldap.sources[0].ca_file: stat /nonexistent/ca.pem: no such file or directory
ldap.sources[0]: set only one of bind_password, bind_password_env, bind_password_file
ldap.sources[0].bind_password_file: stat /nonexistent/pw: no such file or directory
ldap.sources[0].users.base_dn: DN ended with incomplete type, value pair
ldap.sources[0].users.filter: LDAP Result Code 201 "Filter Compile Error": ldap: unexpected end of filter
ldap.sources[0].users.scope: must be "sub" or "one", got "deep"
ldap.sources[0].groups.scope: must be "sub" or "one", got "base"
ldap.sources[0].attributes.hat: not a mappable SCIM attribute (one of userName, externalId, displayName, nickName, title, userType, name.givenName, name.familyName, name.formatted, name.middleName, preferredLanguage, locale, timezone, emails, phoneNumbers, active, enterprise.employeeNumber, enterprise.department, enterprise.costCenter, enterprise.organization, enterprise.division, enterprise.manager, passwordChanged)
ldap.sources[0].attributes.shoe: not a mappable SCIM attribute (one of userName, externalId, displayName, nickName, title, userType, name.givenName, name.familyName, name.formatted, name.middleName, preferredLanguage, locale, timezone, emails, phoneNumbers, active, enterprise.employeeNumber, enterprise.department, enterprise.costCenter, enterprise.organization, enterprise.division, enterprise.manager, passwordChanged)
ldap.sources[0]: missing required field "attributes.userName"
ldap.sources[0].store_owned: "bogus" is not a mappable SCIM attribute
ldap.sources[0].link_by: "phone" must be "userName" or "emails"
ldap.sources[0].on_delete: must be "deactivate" or "delete", got "shred"
ldap.sources[0].change_detection: must be "syncrepl", "entryCSN", "modifyTimestamp", "uSNChanged" or "none", got "magic"
ldap.sources[0].max_deletes: must be -1 (no limit) or positive, got -2
ldap.sources[0].retry_min: 1h0m0s is more than retry_max 1m0s
ldap.sources[1].name: duplicate source name "x"
ldap.sources[1].change_detection: syncrepl identifies entries by entryUUID; id_attribute is "objectGUID"
ldap.sources[1].page_size: Active Directory serves at most 1000 entries a page, got 5000`

// The write_back keys are checked only when write-back is on, and named by
// their paths.
func TestValidateWriteBack(t *testing.T) {
	no := false
	base := SourceConfig{Name: "a", URL: "ldap://h", Users: UserSearch{BaseDN: "ou=people,dc=x"}, Groups: GroupSearch{BaseDN: "ou=groups,dc=x"}}
	off := base
	off.WriteBack = WriteBack{UserRDN: "{broken", Deactivate: "melt"}
	if err := (&Config{Sources: []SourceConfig{off}}).Validate(); err != nil {
		t.Fatalf("write-back keys checked while it is off: %v", err)
	}
	bad := base
	bad.WriteBack = WriteBack{Enabled: true, UserBase: "ou=elsewhere,dc=y", GroupBase: "ou=g,ou=groups,dc=x",
		UserRDN: "uid={shoeSize}", GroupRDN: "{displayName}", Attributes: map[string]string{"active": "x", "hat": "y"},
		UserDefaults: map[string]string{"sn": "{nope"}, Deactivate: "melt", OnDelete: "move", PasswordKeyFile: "/nonexistent/key"}
	second := base
	second.Name = "b"
	second.IDAttribute = "uid"
	second.WriteBack = WriteBack{Enabled: true, UserBase: "ou=people,dc=x", Deactivate: "move"}
	third := base
	third.Name = "c"
	third.WriteBack = WriteBack{Enabled: true, UserBase: "ou=people,dc=x", Create: &no, Deactivate: DeactivateAttribute}
	err := (&Config{Sources: []SourceConfig{bad, second, third}}).Validate()
	if err == nil {
		t.Fatal("bad write-back configuration accepted")
	}
	want := `ldap.sources[0].write_back.user_base: "ou=elsewhere,dc=y" is not inside users.base_dn "ou=people,dc=x": the inbound sync would not see what write-back creates
ldap.sources[0].write_back.user_rdn: "{shoeSize}": {shoeSize} is not a SCIM attribute (one of userName, externalId, displayName, nickName, title, userType, name.givenName, name.familyName, name.formatted, name.middleName, preferredLanguage, locale, timezone, emails, phoneNumbers, active, enterprise.employeeNumber, enterprise.department, enterprise.costCenter, enterprise.organization, enterprise.division, enterprise.manager, id)
ldap.sources[0].write_back.group_rdn: "{displayName}": want attribute={SCIM attribute}, e.g. uid={userName}
ldap.sources[0].write_back.attributes.active: not a writable SCIM attribute (one of the attributes map's, but active)
ldap.sources[0].write_back.attributes.hat: not a writable SCIM attribute (one of the attributes map's, but active)
ldap.sources[0].write_back.user_defaults.sn: "{nope": unclosed {
ldap.sources[0].write_back.deactivate: must be "userAccountControl", "attribute", "move" or "none", got "melt"
ldap.sources[0].write_back.delete_container: required by the move method
ldap.sources[0].write_back.password_key_file: open /nonexistent/key: no such file or directory
ldap.sources[1].write_back.deactivate_container: required by the move method
ldap.sources[1].write_back: needs id_attribute entryUUID or objectGUID, which the directory assigns; got "uid"
ldap.sources[1].write_back.create: source "a" creates new users and groups already; only one source may (set create: false)
ldap.sources[2].write_back.deactivate_attribute: required by deactivate: attribute (or map active in attributes)`
	if got := err.Error(); got != want {
		t.Fatalf("messages differ.\ngot:\n%s\nwant:\n%s", got, want)
	}
	// The defaults a valid source gets.
	good := base
	good.WriteBack = WriteBack{Enabled: true, UserBase: "ou=people,dc=x"}
	if err := (&Config{Sources: []SourceConfig{good}}).Validate(); err != nil {
		t.Fatal(err)
	}
	w := good.withDefaults().WriteBack
	if w.UserRDN != "uid={userName}" || w.Deactivate != MethodNone || w.OnDelete != MethodDelete || w.LinkAttribute != "uid" ||
		w.MaxAttempts != 10 || w.UserDefaults["sn"] != "{name.familyName|userName}" || w.EmptyGroupMember == nil || !w.creates() {
		t.Fatalf("defaults: %+v", w)
	}
	ad := good
	ad.Preset = PresetActiveDirectory
	if w := ad.withDefaults().WriteBack; w.UserRDN != "CN={displayName|userName}" || w.Deactivate != DeactivateUAC ||
		w.LinkAttribute != "sAMAccountName" || w.EmptyGroupMember != nil || w.UserDefaults != nil {
		t.Fatalf("AD defaults: %+v", w)
	}
}
