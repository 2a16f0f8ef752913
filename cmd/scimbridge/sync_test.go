package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
)

// TestSyncFailureIsOneLine: a sync against a directory that is down says
// so in one line, without a dump of the report's structs, and exits 1
// (before: the error three times, once with "{Created:0 Updated:0 …}").
func TestSyncFailureIsOneLine(t *testing.T) {
	dir := t.TempDir()
	db := newDB(t)
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("ldap:\n  sources:\n    - name: corp\n      url: ldap://127.0.0.1:1\n      bind_dn: cn=sync,dc=example,dc=com\n"+
		"      bind_password: x\n      users: {base_dn: 'ou=people,dc=example,dc=com'}\n"), 0o600)
	r := exe(t, dir, "", "sync", "--config", cfg, "--db", db)
	if r.code != 1 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	all := r.stdout + r.stderr
	if n := strings.Count(all, "connection refused"); n != 1 || strings.Contains(all, "{Created:") || r.stdout != "" {
		t.Fatalf("want the failure once, on stderr:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "scimbridge: sync corp: ") {
		t.Fatalf("the failure does not name the source:\n%s", r.stderr)
	}
}

// TestSyncPrintsChanges: a real sync prints each change and a summary,
// and --source picks one source.
func TestSyncPrintsChanges(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: "dn: uid=alice," + ldaptest.PeopleDN + "\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice A\nsn: A\ngivenName: Alice\nmail: alice@example.com\n\n"})
	dir := t.TempDir()
	db := newDB(t)
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("ldap:\n  sources:\n    - name: corp\n      url: "+srv.URL+"\n      bind_dn: "+ldaptest.SyncDN+"\n"+
		"      bind_password: "+ldaptest.SyncPassword+"\n      users: {base_dn: '"+ldaptest.PeopleDN+"'}\n      groups: {base_dn: '"+ldaptest.GroupsDN+"'}\n"), 0o600)
	out, err := runCmd(t, "sync", "--config", cfg, "--db", db, "--dry-run")
	if err != nil || !strings.Contains(out, "corp: would create User alice") || !strings.Contains(out, "dry run (nothing written)") {
		t.Fatalf("dry run: %q %v", out, err)
	}
	out, err = runCmd(t, "sync", "--config", cfg, "--db", db, "--source", "corp")
	if err != nil || !strings.Contains(out, "corp: create User alice") || !strings.Contains(out, "corp full sync") ||
		strings.Contains(out, "ldapsync: sync done") {
		t.Fatalf("sync: %q %v", out, err)
	}
	if _, err := runCmd(t, "sync", "--config", cfg, "--db", db, "--source", "nope"); err == nil || !strings.Contains(err.Error(), `unknown source "nope"`) {
		t.Fatalf("unknown source: %v", err)
	}
}

// TestSyncProgressLine: on a terminal, the syncer's progress records are
// one line rewritten in place and cleared before any other output; off a
// terminal they stay log lines.
func TestSyncProgressLine(t *testing.T) {
	var term bytes.Buffer
	status := &statusLine{w: &term}
	cfg := config.Default()
	log := slog.New(&syncLog{Handler: newLogger(cfg, status.before(&term)).Handler(), status: status})
	out := status.before(&term)
	log.Info(msgProgress, "source", "corp", "phase", "read", "entries", 5000)
	log.Info(msgProgress, "source", "corp", "phase", "read", "entries", 10000)
	out.Write([]byte("corp: create User alice\n"))
	log.Info(msgDone, "source", "corp") // the command prints the run itself
	got := term.String()
	want := "\r\x1b[Kcorp: read: 5000 entries…\r\x1b[Kcorp: read: 10000 entries…\r\x1b[Kcorp: create User alice\n"
	if got != want {
		t.Fatalf("terminal got %q\nwant %q", got, want)
	}

	var plain bytes.Buffer
	log = slog.New(&syncLog{Handler: newLogger(cfg, &plain).Handler()})
	log.Info(msgProgress, "source", "corp", "phase", "read", "entries", 5000)
	log.Error(msgFailed+"; the store is unchanged by the failed part", "source", "corp")
	if s := plain.String(); !strings.Contains(s, `msg="ldapsync: progress" source=corp phase=read entries=5000`) || strings.Count(s, "\n") != 1 {
		t.Fatalf("off a terminal: %q", s)
	}
	if isTerminal(mustPipe(t)) {
		t.Fatal("a pipe taken for a terminal")
	}
}

func mustPipe(t *testing.T) *os.File {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return w
}

// TestSyncWriteBack: sync --write-back --dry-run prints the LDAP operations
// of what the doors queued and sends none; sync --write-back sends them;
// the flags that make no sense with it are usage errors (exit 2).
func TestSyncWriteBack(t *testing.T) {
	srv, cfg, db := writeBackSetup(t)

	// The first command that reads this configuration turns the store's
	// outbox on; the user created next is queued for the directory.
	if out, err := runCmd(t, "sync", "--write-back", "--config", cfg, "--db", db); err != nil || !strings.Contains(out, "write-back: 0 delivered") {
		t.Fatalf("empty write-back: %q %v", out, err)
	}
	if _, _, err := runWith(t, "", "user", "create", "bob", "--family-name", "Builder", "--config", cfg, "--db", db); err != nil {
		t.Fatal(err)
	}
	bob := "uid=bob," + ldaptest.PeopleDN
	out, err := runCmd(t, "sync", "--write-back", "--dry-run", "--config", cfg, "--db", db)
	if err != nil || !strings.Contains(out, "corp: would write outbox") || !strings.Contains(out, "user.create User bob (door cli)") ||
		!strings.Contains(out, "    add "+bob+" ") || !strings.Contains(out, "dry run (nothing sent): write-back: 1 would be written") {
		t.Fatalf("dry run: %q %v", out, err)
	}
	if entryExists(t, srv, bob) {
		t.Fatal("the dry run wrote the entry")
	}
	out, err = runCmd(t, "sync", "--write-back", "--config", cfg, "--db", db)
	if err != nil || !strings.Contains(out, "write-back: 1 delivered") || !strings.Contains(out, "outbox: 0 pending, 0 dead") {
		t.Fatalf("write-back: %q %v", out, err)
	}
	if !entryExists(t, srv, bob) {
		t.Fatal("the write-back did not write the entry")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--retry-dead"}, "--retry-dead needs --write-back"},
		{[]string{"--write-back", "--full"}, "--write-back takes only --dry-run and --retry-dead"},
		{[]string{"--write-back", "--source", "corp"}, "--write-back takes only --dry-run and --retry-dead"},
		{[]string{"--write-back", "--retry-dead", "--dry-run"}, "cannot be a dry run"},
	} {
		r := exe(t, filepath.Dir(cfg), "", append([]string{"sync", "--config", cfg, "--db", db}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// entryExists reads dn from srv as its root DN.
// writeBackSetup starts a slapd the sync account may write to and writes
// a configuration that writes back to it, with a new database.
func writeBackSetup(t *testing.T) (srv *ldaptest.Server, cfg, db string) {
	t.Helper()
	srv = ldaptest.Start(t, ldaptest.Options{SyncWrites: true})
	dir := t.TempDir()
	db = newDB(t)
	key := make([]byte, 32)
	rand.Read(key)
	keyFile := filepath.Join(dir, "writeback.key")
	os.WriteFile(keyFile, []byte(hex.EncodeToString(key)+"\n"), 0o600)
	cfg = filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("ldap:\n  sources:\n    - name: corp\n      url: "+srv.URL+"\n      bind_dn: "+ldaptest.SyncDN+"\n"+
		"      bind_password: "+ldaptest.SyncPassword+"\n      users: {base_dn: '"+ldaptest.PeopleDN+"'}\n      groups: {base_dn: '"+ldaptest.GroupsDN+"'}\n"+
		"      write_back: {enabled: true, user_base: '"+ldaptest.PeopleDN+"', group_base: '"+ldaptest.GroupsDN+"', password_key_file: '"+keyFile+"'}\n"), 0o600)
	return srv, cfg, db
}

// TestCLIPasswordsReachTheDirectory: a password given to `user create
// --password-stdin` or `user set-password` is written back like one a
// server door receives (sealed until sync --write-back or the server sends
// it): the directory's entry binds with it, and after set-password with
// the new one only.
func TestCLIPasswordsReachTheDirectory(t *testing.T) {
	srv, cfg, db := writeBackSetup(t)
	if out, err := runCmd(t, "sync", "--write-back", "--config", cfg, "--db", db); err != nil || !strings.Contains(out, "write-back: 0 delivered") {
		t.Fatalf("empty write-back: %q %v", out, err)
	}
	carol := "uid=carol," + ldaptest.PeopleDN
	bind := func(password string) error {
		c, err := ldap.DialURL(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.Bind(carol, password)
	}
	deliver := func(want string) {
		t.Helper()
		out, err := runCmd(t, "sync", "--write-back", "--config", cfg, "--db", db)
		if err != nil || !strings.Contains(out, want) || !strings.Contains(out, "outbox: 0 pending, 0 dead") {
			t.Fatalf("write-back: %q %v", out, err)
		}
	}
	if _, _, err := runWith(t, "Carol-First-1\n", "user", "create", "carol", "--family-name", "C", "--password-stdin", "--config", cfg, "--db", db); err != nil {
		t.Fatal(err)
	}
	deliver("write-back: 1 delivered")
	if err := bind("Carol-First-1"); err != nil {
		t.Fatalf("bind with the password given to user create: %v", err)
	}
	if _, _, err := runWith(t, "Carol-Second-2\n", "user", "set-password", "carol", "--config", cfg, "--db", db); err != nil {
		t.Fatal(err)
	}
	deliver("write-back: 1 delivered")
	if err := bind("Carol-Second-2"); err != nil {
		t.Fatalf("bind with the password given to user set-password: %v", err)
	}
	if err := bind("Carol-First-1"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Fatalf("bind with the replaced password: %v, want invalidCredentials", err)
	}
}

func entryExists(t *testing.T, srv *ldaptest.Server, dn string) bool {
	t.Helper()
	_, err := srv.Conn(t).Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}
