// Package ldaptest runs a real OpenLDAP slapd for tests: it writes a
// slapd.conf into a temporary directory, loads LDIF offline with slapadd
// (fast even for 100,000 entries), starts slapd on free loopback ports, waits
// until it answers and stops it when the test ends.
//
// When slapd is not installed the test is skipped, except with CI=true,
// where a missing slapd fails it: CI must never skip silently.
package ldaptest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Where Debian's slapd package puts things.
const (
	slapdBin  = "/usr/sbin/slapd"
	slapadd   = "/usr/sbin/slapadd"
	schemaDir = "/etc/ldap/schema"
	moduleDir = "/usr/lib/ldap"
)

// Fixed credentials of every test directory.
const (
	Suffix        = "dc=example,dc=com"
	AdminDN       = "cn=admin," + Suffix
	AdminPassword = "admin-secret"
	// SyncDN is a non-root service account; its size limit is lifted unless
	// Options.LimitSyncAccount is set.
	SyncDN       = "cn=sync," + Suffix
	SyncPassword = "sync-secret"
	PeopleDN     = "ou=people," + Suffix
	GroupsDN     = "ou=groups," + Suffix
)

// Options shape the directory.
type Options struct {
	// LDIF is loaded with slapadd after the base entries (suffix, ou=people,
	// ou=groups, the sync account).
	LDIF string
	// LDIFFile is a file loaded the same way, for large fixtures.
	LDIFFile string
	// SizeLimit is slapd's global size limit (default 500, as on many real
	// servers); it applies to every identity except the root DN and,
	// unless LimitSyncAccount, the sync account.
	SizeLimit        int
	LimitSyncAccount bool
	// ADSchema loads a small schema with Active Directory's attributes
	// (objectGUID, sAMAccountName, userPrincipalName, userAccountControl,
	// uSNChanged, department, accountExpires, unicodePwd, pwdLastSet) and object
	// classes (user, computer, group). It stores unicodePwd as given: what
	// a real AD does with it (a password, only over TLS) slapd does not.
	ADSchema bool
	// TLS, when set, also serves ldaps:// and StartTLS with these PEM files.
	TLS *TLSFiles
	// NoContentSync leaves the syncprov overlay off the database: the
	// server offers no RFC 4533 content sync there, as many do not
	// (although, the module being loaded, its root DSE still advertises
	// the control).
	NoContentSync bool
	// SyncWrites lets the sync account write every entry and password
	// (directory write-back), as a deployment's ACL would.
	SyncWrites bool
	// MaxSize is the database's maximum size in bytes (0: 4 GiB), for
	// fixtures of millions of entries.
	MaxSize int64
	// Refint loads the referential integrity overlay, as many real servers
	// run it: deleting or renaming an entry rewrites the member and
	// uniqueMember values naming it, without moving the groups' entryCSN.
	Refint bool
	// PasswordPolicy loads the password policy overlay (ppolicy) with a
	// default policy, as servers that enforce password rules run it: a
	// password change sets the entry's operational pwdChangedTime.
	PasswordPolicy bool
}

// PolicyDN is the default password policy's entry (Options.PasswordPolicy).
const PolicyDN = "cn=default," + Suffix

// TLSFiles names PEM files for slapd's TLS.
type TLSFiles struct {
	CertFile, KeyFile, CAFile string
}

// Server is a running slapd.
type Server struct {
	// URL is ldap://127.0.0.1:PORT; LDAPSURL is ldaps://127.0.0.1:PORT2
	// when TLS is configured, else "".
	URL, LDAPSURL string
	Dir           string

	t        testing.TB
	conf     string
	cmd      *exec.Cmd
	exited   chan struct{}
	port     int
	tlsPort  int
	hasTLS   bool
	stopping bool
}

// Require skips (or, with CI=true, fails) the test when slapd is missing.
func Require(t testing.TB) {
	t.Helper()
	for _, bin := range []string{slapdBin, slapadd} {
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("ldaptest: %s is missing (CI must install slapd: .ci/install.d/20-slapd.sh)", bin)
			}
			t.Skipf("ldaptest: %s is not installed", bin)
		}
	}
}

// Start writes the configuration, loads the entries and starts slapd. The
// server stops when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	if opts.SizeLimit == 0 {
		opts.SizeLimit = 500
	}
	s := &Server{t: t, Dir: dir, conf: filepath.Join(dir, "slapd.conf"), hasTLS: opts.TLS != nil}
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.conf, []byte(s.config(opts)), 0o600); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "base.ldif")
	ldif := baseLDIF()
	if opts.PasswordPolicy {
		ldif += "\n" + policyLDIF
	}
	if err := os.WriteFile(base, []byte(ldif+"\n"+opts.LDIF), 0o600); err != nil {
		t.Fatal(err)
	}
	s.slapadd(base)
	if opts.LDIFFile != "" {
		s.slapadd(opts.LDIFFile)
	}
	s.port = freePort(t)
	if s.hasTLS {
		s.tlsPort = freePort(t)
		s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", s.tlsPort)
	}
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", s.port)
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) config(opts Options) string {
	var b strings.Builder
	for _, sch := range []string{"core", "cosine", "inetorgperson", "nis"} {
		fmt.Fprintf(&b, "include %s/%s.schema\n", schemaDir, sch)
	}
	if opts.ADSchema {
		adFile := filepath.Join(s.Dir, "ad.schema")
		if err := os.WriteFile(adFile, []byte(adSchema), 0o600); err != nil {
			s.t.Fatal(err)
		}
		fmt.Fprintf(&b, "include %s\n", adFile)
	}
	fmt.Fprintf(&b, "pidfile %s/slapd.pid\nargsfile %s/slapd.args\n", s.Dir, s.Dir)
	fmt.Fprintf(&b, "modulepath %s\nmoduleload back_mdb\nmoduleload syncprov\nmoduleload memberof\n", moduleDir)
	if opts.Refint {
		b.WriteString("moduleload refint\n")
	}
	if opts.PasswordPolicy {
		b.WriteString("moduleload ppolicy\n")
	}
	fmt.Fprintf(&b, "sizelimit %d\n", opts.SizeLimit)
	if t := opts.TLS; t != nil {
		fmt.Fprintf(&b, "TLSCACertificateFile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\n", t.CAFile, t.CertFile, t.KeyFile)
	}
	maxSize := opts.MaxSize
	if maxSize == 0 {
		maxSize = 4 << 30
	}
	fmt.Fprintf(&b, "database mdb\nsuffix %q\nrootdn %q\nrootpw %s\ndirectory %s/db\nmaxsize %d\ndbnosync\n",
		Suffix, AdminDN, AdminPassword, s.Dir, maxSize)
	b.WriteString("index objectClass eq\nindex entryUUID,entryCSN eq\nindex uid,cn,mail eq\n")
	b.WriteString("index member,uniqueMember,memberUid eq\nindex modifyTimestamp eq\n")
	if opts.ADSchema {
		b.WriteString("index sAMAccountName,objectGUID eq\n")
	}
	if !opts.LimitSyncAccount {
		fmt.Fprintf(&b, "limits dn.exact=%q size=unlimited\n", SyncDN)
	}
	if opts.SyncWrites {
		fmt.Fprintf(&b, "access to attrs=userPassword by self write by dn.exact=%q write by anonymous auth by * none\n", SyncDN)
		fmt.Fprintf(&b, "access to * by dn.exact=%q write by * read\n", SyncDN)
	} else {
		b.WriteString("access to attrs=userPassword by self read by anonymous auth by * none\n")
		b.WriteString("access to * by * read\n")
	}
	if !opts.NoContentSync {
		b.WriteString("overlay syncprov\nsyncprov-checkpoint 100 10\nsyncprov-sessionlog 10000\n")
	}
	b.WriteString("overlay memberof\n")
	if opts.ADSchema {
		b.WriteString("memberof-group-oc group\n")
	}
	if opts.Refint {
		// refint_nothing stands in for the last member of a group, which
		// groupOfNames requires.
		fmt.Fprintf(&b, "overlay refint\nrefint_attributes member uniqueMember\nrefint_nothing %q\n", AdminDN)
	}
	if opts.PasswordPolicy {
		fmt.Fprintf(&b, "overlay ppolicy\nppolicy_default %q\n", PolicyDN)
	}
	return b.String()
}

func (s *Server) slapadd(ldif string) {
	s.t.Helper()
	out, err := exec.Command(slapadd, "-q", "-f", s.conf, "-l", ldif).CombinedOutput()
	if err != nil {
		s.t.Fatalf("ldaptest: slapadd %s: %v\n%s", ldif, err, out)
	}
}

// Start starts (or restarts, on the same ports) slapd and waits until it
// answers.
func (s *Server) Start() {
	s.t.Helper()
	urls := s.URL + "/"
	if s.hasTLS {
		urls += " " + s.LDAPSURL + "/"
	}
	var logBuf bytes.Buffer
	// -d 0 keeps slapd in the foreground, so the test owns the process.
	cmd := exec.Command(slapdBin, "-d", "0", "-f", s.conf, "-h", urls)
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("ldaptest: start slapd: %v", err)
	}
	s.cmd, s.exited, s.stopping = cmd, make(chan struct{}), false
	go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(s.exited)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-s.exited:
			s.t.Fatalf("ldaptest: slapd exited: %s", logBuf.String())
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			s.t.Fatalf("ldaptest: slapd did not answer within 15s: %s", logBuf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops slapd (a directory going down). Safe to call twice.
func (s *Server) Stop() {
	if s.cmd == nil || s.stopping {
		return
	}
	s.stopping = true
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// Conn returns a connection bound as the root DN, closed when the test ends.
func (s *Server) Conn(t testing.TB) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatalf("ldaptest: dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Bind(AdminDN, AdminPassword); err != nil {
		t.Fatalf("ldaptest: bind: %v", err)
	}
	return c
}

// Modify applies LDIF change records (changetype add/modify/modrdn/delete)
// online with ldapmodify, so overlays (memberof, syncprov) see them.
func (s *Server) Modify(t testing.TB, ldif string) {
	t.Helper()
	cmd := exec.Command("ldapmodify", "-x", "-H", s.URL, "-D", AdminDN, "-w", AdminPassword)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldaptest: ldapmodify: %v\n%s", err, out)
	}
}

// HashPassword returns an {SSHA} userPassword value.
func HashPassword(password string) string {
	salt := make([]byte, 8)
	_, _ = rand.Read(salt)
	h := sha1.Sum(append([]byte(password), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h[:], salt...))
}

func baseLDIF() string {
	return fmt.Sprintf(`dn: %s
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: %s
objectClass: organizationalUnit
ou: people

dn: %s
objectClass: organizationalUnit
ou: groups

dn: %s
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: sync
userPassword: %s
`, Suffix, PeopleDN, GroupsDN, SyncDN, HashPassword(SyncPassword))
}

// policyLDIF is the default password policy: no rules beyond the ones
// ppolicy always applies, such as keeping pwdChangedTime.
var policyLDIF = fmt.Sprintf(`dn: %s
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
`, PolicyDN)

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// adSchema is the part of Active Directory's schema the sync reads, with
// matching rules so that filters such as (uSNChanged>=N) work.
const adSchema = `
attributetype ( 1.3.6.1.4.1.99999.1.1 NAME 'objectGUID'
	EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.2 NAME 'sAMAccountName'
	EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.3 NAME 'userPrincipalName'
	EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.4 NAME 'userAccountControl'
	EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.5 NAME 'uSNChanged'
	EQUALITY integerMatch ORDERING integerOrderingMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.6 NAME 'department'
	EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.7 NAME 'accountExpires'
	EQUALITY integerMatch ORDERING integerOrderingMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.8 NAME 'unicodePwd'
	EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.9 NAME 'pwdLastSet'
	EQUALITY integerMatch ORDERING integerOrderingMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.99999.2.1 NAME 'user' SUP inetOrgPerson STRUCTURAL
	MAY ( objectGUID $ sAMAccountName $ userPrincipalName $ userAccountControl $ uSNChanged $ department $
		accountExpires $ unicodePwd $ pwdLastSet ) )
objectclass ( 1.3.6.1.4.1.99999.2.3 NAME 'computer' SUP user STRUCTURAL )
objectclass ( 1.3.6.1.4.1.99999.2.2 NAME 'group' SUP top STRUCTURAL
	MUST cn MAY ( member $ objectGUID $ sAMAccountName $ uSNChanged $ description ) )
`
