// Package adtest runs a real Samba Active Directory domain controller for
// tests: it provisions a throwaway domain into a temporary directory and
// runs samba in a network namespace of its own (unshare --net), because a
// DC's LDAP ports (389, 636) are fixed and must not meet the machine's. The
// DC's traffic stays inside that namespace: the test reaches it through a
// forwarder on a free 127.0.0.1 port of the test's own namespace, whose
// connections to the DC are dialled from inside the namespace (a thread
// joins it with setns(2) just for the socket's creation; a socket keeps its
// namespace).
//
// It needs root (for the namespace) and Debian's samba (samba-tool, samba,
// the AD schema of samba-ad-provision: .ci/install.d/22-samba.sh). Without
// them the test is skipped, except with CI=true, where missing samba fails
// it: CI must never skip silently. Without root it is always skipped.
package adtest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"golang.org/x/sys/unix"

	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
)

// Where Debian's samba packages put things.
const (
	sambaBin  = "/usr/sbin/samba"
	sambaTool = "/usr/bin/samba-tool"
	adSchema  = "/usr/share/samba/setup/ad-schema"
)

// The test domain.
const (
	Realm  = "SAMBA.TEST"
	BaseDN = "DC=samba,DC=test"
	// AdminDN is the domain's Administrator.
	AdminDN       = "CN=Administrator,CN=Users," + BaseDN
	AdminPassword = "Adm1n!Secret-42"
	// PeopleDN and GroupsDN are organizational units the helper creates.
	PeopleDN = "OU=people," + BaseDN
	GroupsDN = "OU=groups," + BaseDN
)

// TLSFiles name the PEM files samba serves LDAPS and StartTLS with; the
// certificate must be valid for 127.0.0.1, where the forwarder listens
// (ldaptest.NewCA makes such files).
type TLSFiles = ldaptest.TLSFiles

// Server is a running DC.
type Server struct {
	// LDAPSURL is ldaps://127.0.0.1:PORT, URL is ldap://127.0.0.1:PORT2
	// (for StartTLS; the DC refuses simple binds without TLS).
	URL, LDAPSURL string
	Dir           string
	// ProvisionTime is how long provisioning and start took.
	ProvisionTime time.Duration

	t     testing.TB
	tls   *tls.Config
	cmd   *exec.Cmd
	done  chan struct{}
	ns    *os.File // the DC's network namespace
	log   string
	lns   []net.Listener
	wg    sync.WaitGroup
	close sync.Once
}

// Require skips the test without root, and without samba unless CI=true,
// where missing samba fails it.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("adtest: a network namespace for the DC needs root")
	}
	missing := func(what string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("adtest: %s is missing (CI must install samba: .ci/install.d/22-samba.sh)", what)
		}
		t.Skipf("adtest: %s is not installed", what)
	}
	for _, p := range []string{sambaBin, sambaTool, adSchema} {
		if _, err := os.Stat(p); err != nil {
			missing(p)
		}
	}
	for _, bin := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing(bin)
		}
	}
}

// Start provisions a domain and starts its DC; it stops when the test ends.
func Start(t testing.TB, files TLSFiles) *Server {
	t.Helper()
	Require(t)
	begin := time.Now()
	dir := t.TempDir()
	dc := filepath.Join(dir, "dc")
	s := &Server{t: t, Dir: dir, done: make(chan struct{}), log: filepath.Join(dir, "samba.log")}
	pem, err := os.ReadFile(files.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("adtest: %s holds no certificate", files.CAFile)
	}
	s.tls = &tls.Config{ServerName: "127.0.0.1", RootCAs: pool, MinVersion: tls.VersionTLS12}
	// samba refuses a key file others may read.
	if err := os.Chmod(files.KeyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	// Every directory samba writes to is in dc; only the LDAP server runs.
	opts := []string{
		"pid directory=" + filepath.Join(dc, "run"),
		"ncalrpc dir=" + filepath.Join(dc, "ncalrpc"),
		"winbindd socket directory=" + filepath.Join(dc, "winbindd"),
		"log file=" + filepath.Join(dc, "log"),
		"server services=ldap",
	}
	var provision, run strings.Builder
	fmt.Fprintf(&provision, "%s domain provision --realm=%s --domain=SAMBA --server-role=dc --dns-backend=NONE "+
		"--host-name=dc1 --host-ip=127.0.0.1 --adminpass=%s --targetdir=%s", sambaTool, Realm, shq(AdminPassword), shq(dc))
	for _, o := range opts {
		fmt.Fprintf(&provision, " --option=%s", shq(o))
	}
	fmt.Fprintf(&run, "%s -i -M single --debug-stdout -s %s", sambaBin, shq(filepath.Join(dc, "etc", "smb.conf")))
	// As on Windows, a replaced password binds for another hour unless the
	// old password allowed period is 0: the tests want it gone at once.
	for _, o := range []string{"tls enabled=yes", "tls certfile=" + files.CertFile, "tls keyfile=" + files.KeyFile,
		"tls cafile=" + files.CAFile, "old password allowed period=0"} {
		fmt.Fprintf(&run, " --option=%s", shq(o))
	}
	script := "set -e; ip link set lo up; " + provision.String() + "; exec " + run.String()
	logf, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	s.cmd = exec.Command("unshare", "--net", "--fork", "--kill-child", "sh", "-c", script)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// Its own process group, killed as a whole; and it dies with the test.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("adtest: start unshare: %v", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.Stop)

	if err := s.openNamespace(); err != nil {
		s.fail("%v", err)
	}
	// Provisioning takes about 5 s; then samba answers within a second.
	deadline := time.Now().Add(90 * time.Second)
	for {
		c, err := s.dialInside("127.0.0.1:636")
		if err == nil {
			tc := tls.Client(c, s.tls)
			err = tc.Handshake()
			tc.Close()
			if err == nil {
				break
			}
		}
		select {
		case <-s.done:
			s.fail("samba exited before answering on 636")
		default:
		}
		if time.Now().After(deadline) {
			s.fail("no TLS answer on 636 after 90 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.LDAPSURL = "ldaps://" + s.forward("127.0.0.1:636")
	s.URL = "ldap://" + s.forward("127.0.0.1:389")
	conn := s.Conn(t)
	for _, ou := range []string{PeopleDN, GroupsDN} {
		req := ldap.NewAddRequest(ou, nil)
		req.Attribute("objectClass", []string{"organizationalUnit"})
		if err := conn.Add(req); err != nil {
			s.fail("add %s: %v", ou, err)
		}
	}
	s.ProvisionTime = time.Since(begin)
	t.Logf("adtest: Samba AD DC provisioned and answering in %s", s.ProvisionTime.Round(time.Millisecond))
	return s
}

// shq quotes a word for sh.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// fail ends the test with the end of samba's log.
func (s *Server) fail(format string, args ...any) {
	s.t.Helper()
	out, _ := os.ReadFile(s.log)
	if len(out) > 4000 {
		out = out[len(out)-4000:]
	}
	s.t.Fatalf("adtest: "+format+"\nsamba's output (end):\n%s", append(args, out)...)
}

// openNamespace opens the DC's network namespace: unshare's, once unshare
// has left the test's own.
func (s *Server) openNamespace() error {
	own, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return err
	}
	path := fmt.Sprintf("/proc/%d/ns/net", s.cmd.Process.Pid)
	for i := 0; i < 500; i++ {
		ns, err := os.Readlink(path)
		if err != nil {
			return fmt.Errorf("unshare's namespace: %w", err)
		}
		if ns != own {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			// It must still be unshare's (not a recycled pid's).
			if ns2, err := os.Readlink(path); err != nil || ns2 != ns {
				f.Close()
				return errors.New("unshare exited while its namespace was opened")
			}
			s.ns = f
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("unshare did not enter a network namespace of its own within 5 s")
}

// dialInside opens a TCP connection to addr in the DC's namespace. A
// locked thread joins the namespace, creates the socket and returns to the
// test's namespace; a thread that cannot return is not given back to the
// Go runtime (it ends with its goroutine).
func (s *Server) dialInside(addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, err}
			return
		}
		defer own.Close()
		if err := unix.Setns(int(s.ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("setns into the DC's namespace: %w", err)}
			return
		}
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if unix.Setns(int(own.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// forward listens on a free port of 127.0.0.1 and relays every connection
// to inside (an address in the DC's namespace); it returns host:port.
func (s *Server) forward(inside string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	s.lns = append(s.lns, ln)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				d, err := s.dialInside(inside)
				if err != nil {
					return
				}
				defer d.Close()
				go func() { _, _ = io.Copy(d, c); d.(*net.TCPConn).CloseWrite() }()
				_, _ = io.Copy(c, d)
			}()
		}
	}()
	return ln.Addr().String()
}

// TLSConfig trusts the DC's certificate.
func (s *Server) TLSConfig() *tls.Config { return s.tls.Clone() }

// Conn is an LDAPS connection bound as the Administrator, closed when the
// test ends.
func (s *Server) Conn(t testing.TB) *ldap.Conn {
	t.Helper()
	c, err := s.Bind(AdminDN, AdminPassword)
	if err != nil {
		t.Fatalf("adtest: bind as Administrator: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Bind opens an LDAPS connection and binds as dn with password.
func (s *Server) Bind(dn, password string) (*ldap.Conn, error) {
	c, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(s.tls))
	if err != nil {
		return nil, err
	}
	c.SetTimeout(10 * time.Second)
	if err := c.Bind(dn, password); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Stop ends the DC (the whole process group) and the forwarders.
func (s *Server) Stop() {
	s.close.Do(func() {
		for _, ln := range s.lns {
			ln.Close()
		}
		// The domain is thrown away, so there is nothing to shut down
		// cleanly (and unshare --fork ignores SIGTERM).
		if s.cmd != nil && s.cmd.Process != nil {
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
		// The forwarders end with the DC; only then may the namespace
		// they dial into be closed.
		s.wg.Wait()
		if s.ns != nil {
			s.ns.Close()
		}
	})
}
