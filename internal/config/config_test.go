package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExampleFileIsValidAndDefault(t *testing.T) {
	c, err := Load("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	d := Default()
	if c.Listen != d.Listen || c.DB != d.DB || c.SCIM.MaxPageSize != d.SCIM.MaxPageSize || c.MaxBodyBytes != d.MaxBodyBytes {
		t.Fatalf("example differs from defaults: %+v", c)
	}
}

func TestUnknownKeysAndBadValuesAreNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("listen: :1\nscim:\n  max_page_sise: 5\n"), 0o600)
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "max_page_sise") || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("unknown key: %v", err)
	}
	c := Default()
	c.Log.Level = "loud"
	c.SCIM.PatchResponse = "maybe"
	c.SCIM.DefaultPageSize = 5000
	c.SCIM.Token = "short"
	err = c.Validate()
	for _, key := range []string{"log.level", "scim.patch_response", "scim.default_page_size", "scim.token"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s not named in %v", key, err)
		}
	}
}

func TestEnvOverridesFile(t *testing.T) {
	c := Default()
	env := map[string]string{"SCIMBRIDGE_LISTEN": "0.0.0.0:9", "SCIMBRIDGE_DB": "/tmp/x.db", "SCIMBRIDGE_SCIM_TOKEN": "0123456789abcdef"}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:9" || c.DB != "/tmp/x.db" || c.SCIM.Token != "0123456789abcdef" {
		t.Fatalf("%+v", c)
	}
	if err := c.ApplyEnv(func(k string) (string, bool) { return "x", k == "SCIMBRIDGE_MAX_BODY_BYTES" }); err == nil {
		t.Fatal("bad number accepted")
	}
}

// TestFileErrorsNameTheKeyAndLine: every problem in a file is one line that
// names the key's full path and line as an operator reads them (before:
// "field levle not found in type config.Log", "cannot unmarshal !!str
// `lots` into int"), all of them at once, in the order of the file.
func TestFileErrorsNameTheKeyAndLine(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"listen: 127.0.0.1:9\nlog:\n  levle: debug\n", "log.levle: unknown key (line 3); did you mean log.level?"},
		{"log:\n  Level: debug\n", "log.Level: unknown key (line 2); did you mean log.level?"},
		{"scim:\n  max_page_sise: 5\n", "scim.max_page_sise: unknown key (line 2); did you mean scim.max_page_size?"},
		{"max_page_size: 5\n", "max_page_size: unknown key (line 1); did you mean scim.max_page_size?"},
		{"frobnicate: 1\n", "frobnicate: unknown key (line 1)"},
		{"scim:\n  default_page_size: 10\n  max_page_size: lots\n", `scim.max_page_size (line 3): want an integer, got "lots"`},
		{"hashing:\n  wait: 30\n", "hashing.wait (line 2): want a duration such as 30s, 5m or 1h, got 30"},
		{"metrics:\n  enabled: maybe\n", `metrics.enabled (line 2): want true or false, got "maybe"`},
		{"trusted_proxies: 10.0.0.1\n", `trusted_proxies (line 1): want a list, got "10.0.0.1"`},
		{"log: debug\n", `log (line 1): want a mapping of keys, got "debug"`},
		{"ldap:\n  sources:\n    - name: corp\n      users:\n        base_dm: x\n",
			"ldap.sources[0].users.base_dm: unknown key (line 5); did you mean ldap.sources[0].users.base_dn?"},
		{"legacy:\n  xyops:\n    enabeld: false\n", "legacy.xyops.enabeld: unknown key (line 3); did you mean legacy.xyops.enabled?"},
		{"log:\n  level: info\n  level: debug\n", "log.level: given twice (lines 2 and 3)"},
	} {
		err := Parse([]byte(tc.yaml), Default())
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.yaml, err, tc.want)
		}
	}
	// Several problems: one line each, in file order.
	err := Parse([]byte("scim:\n  max_page_size: lots\nlog:\n  levle: x\n"), Default())
	want := "scim.max_page_size (line 2): want an integer, got \"lots\"\nlog.levle: unknown key (line 4); did you mean log.level?"
	if err == nil || err.Error() != want {
		t.Errorf("two problems:\n got %v\nwant %s", err, want)
	}
	// Load names the file on every line.
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("scim:\n  max_page_size: lots\nlog:\n  levle: x\n"), 0o600)
	_, err = Load(path)
	if err == nil || strings.Count(err.Error(), path+": ") != 2 {
		t.Errorf("Load: %v", err)
	}
}

// TestValidateSaysWhereABadValueWasSet: a bad value names its key and the
// line, variable or flag that set it; ldapsync's own messages get the line
// too.
func TestValidateSaysWhereABadValueWasSet(t *testing.T) {
	c := Default()
	if err := Parse([]byte("log:\n  level: loud\nldap:\n  sources:\n    - name: corp\n      url: http://x\n      users: {base_dn: dc=x}\n"), c); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SCIMBRIDGE_LOG_FORMAT": "xml"}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	c.DB = ""
	c.SetByFlag("db", "--db")
	err := c.Validate()
	for _, want := range []string{
		`log.level (line 2): "loud" is not one of debug, info, warn, error`,
		`log.format (SCIMBRIDGE_LOG_FORMAT): "xml" is not one of text, json`,
		`db (--db): must not be empty`,
		`ldap.sources[0].url (line 6): must be ldap://host[:port] or ldaps://host[:port], got "http://x"`,
	} {
		if err == nil || !strings.Contains(err.Error()+"\n", want+"\n") {
			t.Errorf("want the line %s in:\n%v", want, err)
		}
	}
}

// TestValidateRefusesWhatServeWouldRefuse: a listen address without a
// port (before: valid to check-config, then "missing port in address" at
// serve), a port out of range, an unreadable token file and a TLS file
// that holds no certificate.
func TestValidateRefusesWhatServeWouldRefuse(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "cert.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	for _, tc := range []struct {
		set  func(c *Config)
		want string
	}{
		{func(c *Config) { c.Listen = "localhost" }, `listen: want host:port (like 127.0.0.1:8080, or :8080 for every address), got "localhost"`},
		{func(c *Config) { c.Listen = "127.0.0.1:99999" }, "listen: port 99999 is not between 0 and 65535"},
		{func(c *Config) { c.Listen = "127.0.0.1:nosuchservice" }, `listen: port "nosuchservice" is neither a number nor a known service name`},
		{func(c *Config) { c.Debug.PprofListen = "6060" }, `debug.pprof_listen: want host:port`},
		{func(c *Config) { c.SCIM.TokenFile = filepath.Join(dir, "missing") }, "scim.token_file: open " + filepath.Join(dir, "missing")},
		{func(c *Config) { c.TLS.CertFile, c.TLS.KeyFile = notPEM, notPEM }, "tls.cert_file: tls: failed to find any PEM data"},
	} {
		c := Default()
		tc.set(c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
	for _, ok := range []string{":8080", "127.0.0.1:0", "[::1]:8080", "localhost:8080", "0.0.0.0:http"} {
		c := Default()
		c.Listen = ok
		if err := c.Validate(); err != nil {
			t.Errorf("listen %q refused: %v", ok, err)
		}
	}
}

func TestIdentitySharedEmails(t *testing.T) {
	c := Default()
	if c.Identity.Policy().SharedEmails {
		t.Fatal("e-mail addresses are shared by default")
	}
	if err := Parse([]byte("identity:\n  shared_emails: true\n"), c); err != nil {
		t.Fatal(err)
	}
	if !c.Identity.Policy().SharedEmails {
		t.Fatal("identity.shared_emails: true did not reach the store's policy")
	}
	if err := Parse([]byte("identity:\n  shared_email: true\n"), Default()); err == nil || !strings.Contains(err.Error(), "shared_email") {
		t.Fatalf("a misspelt key: %v", err)
	}
}

// TestAllowedOriginsAreOrigins: a cookie door's allowed origin that is no
// origin (a path, no scheme) is refused at start, naming the key.
func TestAllowedOriginsAreOrigins(t *testing.T) {
	c := Default()
	if err := Parse([]byte("legacy:\n  xstudio:\n    allowed_origins: [\"https://ui.example.com/app\"]\n  xyops:\n    allowed_origins: [\"https://ui.example.com\"]\n"), c); err != nil {
		t.Fatal(err)
	}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), `legacy.xstudio.allowed_origins (line 3): "https://ui.example.com/app": want scheme://host[:port]`) ||
		strings.Contains(err.Error(), "legacy.xyops") {
		t.Fatalf("Validate: %v", err)
	}
}

// TestSQLiteSynchronous: normal is the default, full is accepted, anything
// else is named with its line.
func TestSQLiteSynchronous(t *testing.T) {
	if c := Default(); c.SQLite.Synchronous != "normal" {
		t.Errorf("default sqlite.synchronous %q, want normal", c.SQLite.Synchronous)
	}
	for text, want := range map[string]string{
		"sqlite:\n  synchronous: full\n":   "",
		"sqlite:\n  synchronous: normal\n": "",
		"sqlite:\n  synchronous: off\n":    `sqlite.synchronous (line 2): "off" is not one of normal, full`,
	} {
		c := Default()
		if err := Parse([]byte(text), c); err != nil {
			t.Fatal(err)
		}
		err := c.Validate()
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", text, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: want %s, got %v", text, want, err)
		}
	}
}
