package ldapsync

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store"
)

// testCA writes a CA and a server certificate for 127.0.0.1 as PEM files.
func testCA(t *testing.T) *ldaptest.TLSFiles {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "scimbridge test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	files := &ldaptest.TLSFiles{
		CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"),
	}
	for path, block := range map[string]*pem.Block{
		files.CAFile: {Type: "CERTIFICATE", Bytes: caDER}, files.CertFile: {Type: "CERTIFICATE", Bytes: der},
		files.KeyFile: {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func TestTLSWithATestCA(t *testing.T) {
	files := testCA(t)
	srv := ldaptest.Start(t, ldaptest.Options{TLS: files, LDIF: person("alice", "Alice", "A", "")})
	cases := []struct {
		name    string
		set     func(c *SourceConfig)
		wantErr string
	}{
		{"ldaps with CA file", func(c *SourceConfig) { c.URL, c.CAFile = srv.LDAPSURL, files.CAFile }, ""},
		{"StartTLS with CA file", func(c *SourceConfig) { c.StartTLS, c.CAFile = true, files.CAFile }, ""},
		{"ldaps without the CA", func(c *SourceConfig) { c.URL = srv.LDAPSURL }, "certificate"},
		{"StartTLS without the CA", func(c *SourceConfig) { c.StartTLS = true }, "certificate"},
		{"ldaps insecureSkipVerify", func(c *SourceConfig) { c.URL, c.InsecureSkipVerify = srv.LDAPSURL, true }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			cfg := sourceFor(srv)
			tc.set(&cfg)
			s := newSyncer(t, st, cfg)
			rep, err := s.SyncOnce(context.Background(), "corp", RunOptions{})
			if tc.wantErr == "" {
				if err != nil || rep.Users.Created != 1 {
					t.Fatalf("err = %v, report %s", err, rep.Summary())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
			}
			if countUsers(t, st) != 0 {
				t.Fatal("failed TLS run wrote users")
			}
		})
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "Alice", "A", "a@example.com") +
		person("bob", "Bob", "B", "") + groupOfNames("g", userDN("alice"), userDN("bob"))})
	st := newStore(t)
	cfg := sourceFor(srv)
	var out bytes.Buffer
	if err := RunCLI(context.Background(), []string{"--dry-run"}, Config{Sources: []SourceConfig{cfg}}, st, testLogger(t), &out); err != nil {
		t.Fatalf("dry run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"corp: would create User alice", "corp: would create Group g", "would change members of Group g",
		"dry run (nothing written)", "2 created"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out.String())
		}
	}
	if countUsers(t, st) != 0 || activityCount(t, st) != 0 {
		t.Fatal("dry run wrote users or activity")
	}
	if _, err := st.GetObject(context.Background(), StateKind, "corp"); !store.IsNotFound(err) {
		t.Fatalf("dry run saved state: %v", err)
	}

	out.Reset()
	if err := RunCLI(context.Background(), []string{"--source", "corp"}, Config{Sources: []SourceConfig{cfg}}, st, testLogger(t), &out); err != nil {
		t.Fatalf("sync: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "corp: create User alice (uid=alice,") || !strings.Contains(out.String(), "corp full sync") {
		t.Fatalf("sync output:\n%s", out.String())
	}
	if countUsers(t, st) != 2 {
		t.Fatal("real run after dry run did not create the users")
	}

	err := RunCLI(context.Background(), []string{"--source", "nope"}, Config{Sources: []SourceConfig{cfg}}, st, testLogger(t), &out)
	if err == nil || !strings.Contains(err.Error(), `unknown source "nope"`) {
		t.Fatalf("unknown source: %v", err)
	}
	if err := RunCLI(context.Background(), []string{"--bogus"}, Config{Sources: []SourceConfig{cfg}}, st, testLogger(t), &out); err == nil {
		t.Fatal("unknown flag accepted")
	}
}

func TestBindChecksPasswordsAgainstTheDirectory(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "Alice", "A", "", "userPassword: "+ldaptest.HashPassword("wonderland"))})
	st := newStore(t)
	s := newSyncer(t, st, sourceFor(srv))
	syncOnce(t, s, RunOptions{})
	alice := mustUser(t, st, "alice")
	ctx := context.Background()
	if err := s.Bind(ctx, "corp", alice.Source.DN, "wonderland"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	for _, pw := range []string{"wrong", ""} {
		if err := s.Bind(ctx, "corp", alice.Source.DN, pw); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("password %q: err = %v, want ErrInvalidCredentials", pw, err)
		}
	}
	v := &auth.Verifier{Directory: s}
	if ok, err := v.Check(ctx, alice, "wonderland"); !ok || err != nil {
		t.Fatalf("verifier: %v %v", ok, err)
	}
	srv.Stop()
	err := s.Bind(ctx, "corp", alice.Source.DN, "wonderland")
	if err == nil || errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("directory down: err = %v, want a non-credential error", err)
	}
	if err := s.Bind(ctx, "nope", alice.Source.DN, "x"); !errors.Is(err, ErrUnknownSource) {
		t.Fatalf("unknown source: %v", err)
	}
}

func TestAdminEndpoint(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{LDIF: person("alice", "Alice", "A", "")})
	st := newStore(t)
	s := newSyncer(t, st, sourceFor(srv))
	mux := http.NewServeMux()
	mux.Handle("/admin/sync/", s.AdminHandler())
	hs := httptest.NewServer(mux)
	defer hs.Close()

	do := func(method, path string, wantStatus int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, hs.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v", method, path, err)
		}
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: status %d, want %d: %v", method, path, resp.StatusCode, wantStatus, body)
		}
		return body
	}
	body := do("GET", "/admin/sync/status", 200)
	srcs := body["sources"].([]any)
	if len(srcs) != 1 || srcs[0].(map[string]any)["name"] != "corp" || srcs[0].(map[string]any)["lastRun"] != nil {
		t.Fatalf("status before any run: %v", body)
	}
	body = do("POST", "/admin/sync/run?source=corp&full=true&wait=true", 200)
	rep := body["reports"].([]any)[0].(map[string]any)
	if rep["mode"] != "full" || rep["users"].(map[string]any)["created"] != float64(1) {
		t.Fatalf("run report: %v", body)
	}
	if u := mustUser(t, st, "alice"); u.Source.Name != "corp" {
		t.Fatal("run over HTTP did not sync")
	}
	body = do("GET", "/admin/sync/", 200)
	last := body["sources"].([]any)[0].(map[string]any)
	if last["lastRun"] == nil || last["lastSuccess"] == nil || last["consecutiveFailures"] != float64(0) {
		t.Fatalf("status after run: %v", body)
	}
	do("POST", "/admin/sync/run?source=nope", 404)
	do("GET", "/admin/sync/run", 405)
	do("POST", "/admin/sync/status", 405)
	do("POST", "/admin/sync/run?full=maybe", 400)
	do("GET", "/admin/sync/other", 404)

	// Without wait the run starts in the background.
	do("POST", "/admin/sync/run", 202)
	waitFor(t, 10*time.Second, "the background run", func() bool {
		st := s.Status()[0]
		return !st.Running && st.LastRun != nil && st.LastRun.Mode == "incremental"
	})
	s.bg.Wait()
}

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
