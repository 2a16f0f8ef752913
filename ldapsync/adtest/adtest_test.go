package adtest

import (
	"net"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
)

// The DC answers over LDAPS and StartTLS through the forwarders, assigns
// objectGUID, and its ports are not the machine's.
func TestStart(t *testing.T) {
	srv := Start(t, *ldaptest.NewCA(t))
	conn := srv.Conn(t)
	res, err := conn.Search(ldap.NewSearchRequest(PeopleDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"objectGUID"}, nil))
	if err != nil || len(res.Entries) != 1 || len(res.Entries[0].GetRawAttributeValue("objectGUID")) != 16 {
		t.Fatalf("search %s: %v %+v", PeopleDN, err, res)
	}
	c, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(srv.TLSConfig()); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if err := c.Bind(AdminDN, AdminPassword); err != nil {
		t.Fatalf("bind after StartTLS: %v", err)
	}
	if _, err := srv.Bind(AdminDN, "wrong"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Fatalf("bind with a wrong password: %v", err)
	}
	// The DC listens in its own namespace only.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:636", time.Second); err == nil {
		c.Close()
		t.Fatal("something answers on 127.0.0.1:636 in the test's namespace")
	}
}
