package store

import (
	"strings"
	"testing"
)

func TestNormaliseUserName(t *testing.T) {
	for in, want := range map[string]string{
		" bjensen@example.com ": "bjensen@example.com",
		"\tÄrne\r\n":            "Ärne",
		"Ann Smith":             "Ann Smith",
	} {
		if got, err := NormaliseUserName(in); err != nil || got != want {
			t.Errorf("NormaliseUserName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"   ":                                   "userName is required",
		strings.Repeat("a", MaxUserNameLen+1):   "userName is longer than 256 characters",
		strings.Repeat("a", 4*MaxUserNameLen+1): "userName is longer than 256 characters",
		"a\x00b":                                "userName must not contain control characters (U+0000)",
		"a\u202Eb":                              "userName must not contain invisible formatting characters (U+202E)",
		"a\u2029b":                              "userName must not contain line separators (U+2029)",
		"a\xffb":                                "userName is not valid UTF-8",
	} {
		_, err := NormaliseUserName(in)
		if err == nil || err.Error() != msg || KindOf(err) != KindInvalid || FieldOf(err) != "userName" {
			t.Errorf("NormaliseUserName(%.20q): %v (field %q), want %q", in, err, FieldOf(err), msg)
		}
	}
}

func TestNormaliseUserMessagesNameTheEntry(t *testing.T) {
	u := &User{UserName: "u", Emails: []Value{{Value: "a@x"}, {Value: "b@x", Type: "wo\x00rk"}}}
	err := NormaliseUser(u)
	if err == nil || err.Error() != "emails[1].type must not contain control characters (U+0000)" || FieldOf(err) != "emails.type" {
		t.Fatalf("got %v (field %q)", err, FieldOf(err))
	}
}

// TestPrimaryRulesInAttributeOrder: a user breaking the rule in several
// attributes always gets the same answer.
func TestPrimaryRulesInAttributeOrder(t *testing.T) {
	two := []Value{{Value: "a", Primary: true}, {Value: "b", Primary: true}}
	for range 20 {
		err := NormaliseUser(&User{UserName: "u", Roles: two, Emails: two, Photos: two})
		if FieldOf(err) != "emails" || err.Error() != "at most one of emails may be primary" {
			t.Fatalf("got %v (field %q)", err, FieldOf(err))
		}
	}
}

// TestUpdateKeepsValuesStoredBeforeALimit: a user written before the
// limits existed can still be updated (deactivated, say); only what the
// update sets is checked.
func TestUpdateKeepsValuesStoredBeforeALimit(t *testing.T) {
	huge := strings.Repeat("x", 1_000_004)
	old := &User{UserName: huge, Title: "a\x00b", DisplayName: huge, Active: true,
		Emails:     []Value{{Value: "old\x00@example.com"}},
		Enterprise: &Enterprise{Department: huge},
		Roles:      make([]Value, MaxValues+5),
		Name:       Name{GivenName: huge},
	}
	u := *old
	u.Active = false
	u.Emails = append([]Value{{Value: "new@example.com", Primary: true}}, old.Emails...)
	if err := NormaliseUserUpdate(old, &u); err != nil {
		t.Fatalf("deactivating a user stored before the limits: %v", err)
	}
	if u.UserName != huge {
		t.Fatal("userName changed")
	}
	u.Roles = old.Roles[:MaxValues+1] // fewer than before: allowed
	if err := NormaliseUserUpdate(old, &u); err != nil {
		t.Fatalf("shrinking an over-full attribute: %v", err)
	}
	for name, change := range map[string]func(u *User){
		"userName":                 func(u *User) { u.UserName = huge + "y" },
		"title":                    func(u *User) { u.Title = "a\x00c" },
		"emails.value":             func(u *User) { u.Emails = append(u.Emails, Value{Value: "\x01"}) },
		"roles":                    func(u *User) { u.Roles = make([]Value, MaxValues+6) },
		"enterprise.department":    func(u *User) { u.Enterprise = &Enterprise{Department: huge + "y"} },
		"name.givenName":           func(u *User) { u.Name.GivenName = huge + "y" },
		"enterprise.manager.value": func(u *User) { u.Enterprise = &Enterprise{Manager: &Manager{Value: "\x00"}} },
		"displayName (still huge)": func(u *User) { u.DisplayName = huge[1:] },
		"addresses.streetAddress":  func(u *User) { u.Addresses = []Address{{StreetAddress: huge}} },
		"x509Certificates.display": func(u *User) { u.X509Certificates = []Value{{Display: huge}} },
	} {
		u := *old
		change(&u)
		if err := NormaliseUserUpdate(old, &u); KindOf(err) != KindInvalid {
			t.Errorf("%s: a changed value escaped the limits: %v", name, err)
		}
	}
}

func TestUserSize(t *testing.T) {
	big := strings.Repeat("x", MaxTextBytes)
	u := &User{UserName: "u", Photos: []Value{{Value: big}, {Value: big}, {Value: big}}}
	if err := NormaliseUser(u); err != nil {
		t.Fatalf("192 KiB user: %v", err)
	}
	u.Entitlements = []Value{{Value: big}, {Value: big}}
	if err := NormaliseUser(u); KindOf(err) != KindInvalid {
		t.Fatalf("320 KiB user: %v", err)
	}
	// An update that does not make an oversized user larger goes through.
	old := *u
	u.Active = true
	if err := NormaliseUserUpdate(&old, u); err != nil {
		t.Fatalf("update of an oversized user: %v", err)
	}
	u.Title = strings.Repeat("t", MaxNameLen)
	u.DisplayName = strings.Repeat("d", MaxNameLen)
	if err := NormaliseUserUpdate(&old, u); KindOf(err) != KindInvalid {
		t.Fatalf("growing an oversized user: %v", err)
	}
}

func TestNormaliseGroup(t *testing.T) {
	g := &Group{DisplayName: "  Admins "}
	if err := NormaliseGroup(g); err != nil || g.DisplayName != "Admins" {
		t.Fatalf("%q %v", g.DisplayName, err)
	}
	if err := NormaliseGroup(&Group{DisplayName: " "}); FieldOf(err) != "displayName" || err.Error() != "displayName is required" {
		t.Fatalf("blank: %v", err)
	}
	old := &Group{DisplayName: strings.Repeat("g", 2*MaxNameLen), ExternalID: "e"}
	g = &Group{DisplayName: old.DisplayName, ExternalID: "f"}
	if err := NormaliseGroupUpdate(old, g); err != nil {
		t.Fatalf("changing the externalId of a group named before the limits: %v", err)
	}
	g.DisplayName += "h"
	if err := NormaliseGroupUpdate(old, g); FieldOf(err) != "displayName" {
		t.Fatalf("rename past the limit: %v", err)
	}
}

// TestSizeBound: the shortcut that skips encoding a user never lets one
// through that encodes larger than its bound.
func TestSizeBound(t *testing.T) {
	esc := strings.Repeat("<\"&", 50)
	all := Value{Value: esc, Display: esc, Type: esc, Primary: true}
	u := &User{UserName: esc, ExternalID: esc, DisplayName: esc, NickName: esc, ProfileURL: esc, Title: esc,
		UserType: esc, PreferredLanguage: esc, Locale: esc, Timezone: esc, Active: true,
		Name: Name{Formatted: esc, FamilyName: esc, GivenName: esc, MiddleName: esc, HonorificPrefix: esc, HonorificSuffix: esc},
		Addresses: []Address{{Formatted: esc, StreetAddress: esc, Locality: esc, Region: esc, PostalCode: esc,
			Country: esc, Type: esc, Primary: true}, {Primary: true}},
		Emails: []Value{all, {}}, PhoneNumbers: []Value{all}, IMs: []Value{all}, Photos: []Value{all},
		Entitlements: []Value{all}, Roles: []Value{all}, X509Certificates: []Value{all},
		Enterprise: &Enterprise{EmployeeNumber: esc, CostCenter: esc, Organization: esc, Division: esc, Department: esc,
			Manager: &Manager{Value: esc, Ref: esc, DisplayName: esc}},
	}
	for _, u := range []*User{u, {UserName: "u", Emails: make([]Value, 3000), Addresses: make([]Address, 3000)}, {}} {
		n, err := docSize(u)
		if err != nil || n > sizeBound(u) {
			t.Fatalf("encoded %d bytes, bound %d (%v)", n, sizeBound(u), err)
		}
	}
}

func BenchmarkNormaliseUser(b *testing.B) {
	u := &User{UserName: "bjensen@example.com", ExternalID: "00u1abcd", DisplayName: "Babs Jensen", Active: true,
		Name:       Name{GivenName: "Barbara", FamilyName: "Jensen", Formatted: "Ms. Barbara J Jensen III"},
		Emails:     []Value{{Value: "bjensen@example.com", Type: "work", Primary: true}, {Value: "babs@jensen.org", Type: "home"}},
		Roles:      []Value{{Value: "admin", Type: "app"}},
		Enterprise: &Enterprise{Department: "Tours", EmployeeNumber: "701984"},
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := NormaliseUser(u); err != nil {
			b.Fatal(err)
		}
	}
}
