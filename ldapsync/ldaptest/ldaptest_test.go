package ldaptest

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestStartLoadsEntriesAndRestarts(t *testing.T) {
	s := Start(t, Options{ADSchema: true, LDIF: `dn: uid=alice,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: A
`})
	count := func() int {
		c := s.Conn(t)
		res, err := c.Search(ldap.NewSearchRequest(PeopleDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
			"(uid=alice)", []string{"entryUUID"}, nil))
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Entries)
	}
	if n := count(); n != 1 {
		t.Fatalf("found %d entries, want 1", n)
	}
	s.Stop()
	if _, err := ldap.DialURL(s.URL); err == nil {
		t.Fatal("dial succeeded after Stop")
	}
	s.Start()
	if n := count(); n != 1 {
		t.Fatalf("after restart found %d entries, want 1", n)
	}
	s.Modify(t, `dn: uid=alice,ou=people,dc=example,dc=com
changetype: modify
replace: sn
sn: B
`)
	c := s.Conn(t)
	if err := c.Bind(SyncDN, SyncPassword); err != nil {
		t.Fatalf("sync account bind: %v", err)
	}
}
