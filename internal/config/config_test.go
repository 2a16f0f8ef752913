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
