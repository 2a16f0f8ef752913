package ldapsync

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
)

func TestTLSWithATestCA(t *testing.T) {
	files := ldaptest.NewCA(t)
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

// Values inside filters are escaped, so a DN or a watermark can never
// change a filter's structure.
func TestFiltersEscapeTheirValues(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{andFilter("(objectClass=user)", "memberOf", "=", `cn=R&D (*),dc=x\y`),
			`(&(objectClass=user)(memberOf=cn=R&D \28\2a\29,dc=x\5cy))`},
		{changeFilter(SourceConfig{ChangeDetection: DetectEntryCSN}, "(uid=*)", "2026*)(uid=*"),
			`(&(uid=*)(entryCSN>=2026\2a\29\28uid=\2a))`},
		{changeFilter(SourceConfig{ChangeDetection: DetectModifyTimestamp}, "(uid=*)", "20261122120000Z"),
			`(&(uid=*)(modifyTimestamp>=20261122120000Z))`},
		{changeFilter(SourceConfig{ChangeDetection: DetectUSNChanged}, "(cn=*)", "41"), `(&(cn=*)(uSNChanged>=42))`},
		{changeFilter(SourceConfig{ChangeDetection: DetectUSNChanged}, "(cn=*)", "x"), `(cn=*)`},
		{changeFilter(SourceConfig{ChangeDetection: DetectEntryCSN}, "(cn=*)", ""), `(cn=*)`},
	} {
		if tc.got != tc.want {
			t.Errorf("filter %s, want %s", tc.got, tc.want)
		}
	}
}
