package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
)

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestVersionAndUsage(t *testing.T) {
	if out, err := runCmd(t, "version"); err != nil || !strings.HasPrefix(out, "scimbridge ") {
		t.Fatalf("%q %v", out, err)
	}
	if _, err := runCmd(t, "frobnicate"); err == nil {
		t.Fatal("unknown command accepted")
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("listen: 127.0.0.1:9999\nscim:\n  max_page_size: 50\n  default_page_size: 10\n"), 0o600)
	if out, err := runCmd(t, "check-config", "--config", good); err != nil || !strings.Contains(out, "valid") {
		t.Fatalf("good config: %q %v", out, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("log:\n  level: loud\nscim:\n  patch_response: sometimes\n"), 0o600)
	_, err := runCmd(t, "check-config", "--config", bad)
	if err == nil || !strings.Contains(err.Error(), "log.level") || !strings.Contains(err.Error(), "scim.patch_response") {
		t.Fatalf("bad config: %v", err)
	}
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("listn: x\n"), 0o600)
	if _, err := runCmd(t, "check-config", "--config", typo); err == nil || !strings.Contains(err.Error(), "listn") {
		t.Fatalf("unknown key: %v", err)
	}
	// serve refuses an invalid config with the same message.
	if _, err := runCmd(t, "serve", "--config", bad); err == nil || !strings.Contains(err.Error(), "log.level") {
		t.Fatalf("serve with a bad config: %v", err)
	}
}

var tokenRE = regexp.MustCompile(`(scim|sbadm)_[A-Za-z0-9]{43}`)

func TestTokenAPIKeyAndBackupCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "cli.db")
	st, err := sqlite.Open(context.Background(), db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	storetest.CreateUser(t, st, &store.User{UserName: "ops"})
	st.Close()

	out, err := runCmd(t, "token", "create", "--db", db, "--name", "okta", "--user", "ops")
	token := tokenRE.FindString(out)
	if err != nil || token == "" {
		t.Fatalf("token create: %q %v", out, err)
	}
	out, _ = runCmd(t, "token", "list", "--db", db)
	if !strings.Contains(out, "okta") || strings.Contains(out, token) {
		t.Fatalf("token list: %q", out)
	}
	if out, err := runCmd(t, "token", "create", "--db", db, "--name", "ops", "--admin"); err != nil || !strings.Contains(out, "sbadm_") {
		t.Fatalf("admin token: %q %v", out, err)
	}
	if _, err := runCmd(t, "token", "create", "--db", db); err == nil {
		t.Fatal("token without name")
	}
	if _, err := runCmd(t, "token", "revoke", "--db", db, "999"); err == nil {
		t.Fatal("revoked a token that does not exist")
	}
	if out, err := runCmd(t, "token", "revoke", "--db", db, "1"); err != nil || !strings.Contains(out, "revoked 1") {
		t.Fatalf("revoke: %q %v", out, err)
	}
	out, err = runCmd(t, "apikey", "create", "--db", db, "--api", "xyops", "--user", "ops", "--read-only")
	if err != nil || !strings.Contains(out, "read") || strings.Contains(out, "read+write") {
		t.Fatalf("apikey create: %q %v", out, err)
	}
	if _, err := runCmd(t, "apikey", "create", "--db", db, "--api", "nosuch", "--user", "ops"); err == nil {
		t.Fatal("unknown dialect accepted")
	}
	if _, err := runCmd(t, "apikey", "create", "--db", db, "--api", "xyops", "--user", "ghost"); err == nil {
		t.Fatal("unknown user accepted")
	}
	backup := filepath.Join(dir, "backup.db")
	if out, err := runCmd(t, "backup", "--db", db, "--out", backup); err != nil {
		t.Fatalf("backup: %q %v", out, err)
	}
	copyDB, err := sqlite.Open(context.Background(), backup, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer copyDB.Close()
	if _, err := copyDB.GetUserByUserName(context.Background(), "ops"); err != nil {
		t.Fatalf("backup lacks data: %v", err)
	}
	if _, err := runCmd(t, "backup", "--db", db, "--out", backup); err == nil {
		t.Fatal("backup overwrote an existing file")
	}
}

func selfSigned(t *testing.T, dir string) (string, string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	cert, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, keyFile
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeHTTPSAndGracefulShutdown runs the real serve command with TLS
// and stops it as a signal would.
func TestServeHTTPSAndGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	cfg := filepath.Join(dir, "c.yaml")
	addr := freeAddr(t)
	os.WriteFile(cfg, []byte("listen: "+addr+"\ndb: "+filepath.Join(dir, "s.db")+"\nscim:\n  token: serve-test-token-0123\ntls:\n  cert_file: "+cert+"\n  key_file: "+key+"\n"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() { done <- run(ctx, []string{"serve", "--config", cfg}, &out, &out) }()

	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var resp *http.Response
	var err error
	for i := 0; i < 100; i++ {
		req, _ := http.NewRequest("GET", "https://"+addr+"/scim/v2/Users", nil)
		req.Header.Set("Authorization", "Bearer serve-test-token-0123")
		if resp, err = client.Do(req); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("HTTPS answer: %d %+v", resp.StatusCode, resp.TLS)
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get("https://" + addr + "/healthz"); err == nil {
		t.Fatal("TLS 1.1 accepted")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(out.String(), "stopped") {
		t.Fatalf("no orderly stop in log:\n%s", out.String())
	}
}

// token create --domain/--compat stores the token's provisioning domain
// and compatibility mode; bad ones are refused.
func TestTokenCreateDomain(t *testing.T) {
	db := newDB(t)
	if out, err := runCmd(t, "token", "create", "--db", db, "--name", "entra", "--domain", "entra-prod", "--compat", "strict"); err != nil || tokenRE.FindString(out) == "" {
		t.Fatalf("token create --domain: %q %v", out, err)
	}
	for _, bad := range [][]string{{"--domain", "no spaces"}, {"--compat", "lenient"}, {"--admin", "--domain", "x"}} {
		if _, err := runCmd(t, append([]string{"token", "create", "--db", db, "--name", "bad"}, bad...)...); err == nil {
			t.Errorf("token create %v accepted", bad)
		}
	}
	st, err := sqlite.Open(context.Background(), db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	creds, err := st.ListCredentials(context.Background(), auth.SCIMTokenKind)
	if err != nil || len(creds) != 1 {
		t.Fatalf("stored tokens: %+v %v", creds, err)
	}
	if set := auth.SCIMTokenSettingsOf(&creds[0]); set.Domain != "entra-prod" || set.Compat != "strict" {
		t.Fatalf("stored settings %+v", set)
	}
}
