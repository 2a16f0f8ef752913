package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/ldapsync"
	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
)

// BenchmarkWriteBack1000SCIMCreates creates 1,000 users over SCIM, one
// request after the other as an IdP's provisioning does, against a
// running server writing back to a real slapd, and measures how long after
// the last 201 the last of them is in the directory (s_after_last_201; the
// issue asks for under 10 s), and that they arrived in the order they were
// created (their entryCSNs sort as the 201s came).
//
//	go test -run '^$' -bench WriteBack1000 -benchtime 1x ./internal/app/
func BenchmarkWriteBack1000SCIMCreates(b *testing.B) {
	const n = 1000
	for range b.N {
		b.StopTimer()
		srv := ldaptest.Start(b, ldaptest.Options{SyncWrites: true})
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		keyFile := filepath.Join(b.TempDir(), "wb.key")
		if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)), 0o600); err != nil {
			b.Fatal(err)
		}
		s := apptest.Start(b, func(c *config.Config) {
			c.LDAP.Sources = []ldapsync.SourceConfig{{
				Name: "corp", URL: srv.URL, BindDN: ldaptest.SyncDN, BindPassword: ldaptest.SyncPassword,
				Users: ldapsync.UserSearch{BaseDN: ldaptest.PeopleDN}, Interval: time.Hour,
				WriteBack: ldapsync.WriteBack{Enabled: true, UserBase: ldaptest.PeopleDN, PasswordKeyFile: keyFile},
			}}
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.App.RunBackground(ctx); close(done) }()
		b.StartTimer()

		start := time.Now()
		for i := range n {
			resp := s.Do(b, "POST", "/scim/v2/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
				"userName":"wb%04d","password":"Pass-%04d","name":{"givenName":"Write","familyName":"Back %d"},
				"emails":[{"value":"wb%04d@example.com","primary":true}]}`, i, i, i, i))
			resp.Body.Close()
			if resp.StatusCode != 201 {
				b.Fatalf("create %d: %d", i, resp.StatusCode)
			}
		}
		last201 := time.Now()
		conn := srv.Conn(b)
		var entries []*ldap.Entry
		for {
			res, err := conn.SearchWithPaging(ldap.NewSearchRequest(ldaptest.PeopleDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases,
				0, 0, false, "(uid=wb*)", []string{"uid", "entryCSN"}, nil), 500)
			if err != nil {
				b.Fatal(err)
			}
			if entries = res.Entries; len(entries) == n {
				break
			}
			if time.Since(last201) > time.Minute {
				b.Fatalf("after a minute %d of %d users are in the directory", len(entries), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		lag := time.Since(last201)
		b.StopTimer()
		sort.Slice(entries, func(i, j int) bool {
			return entries[i].GetAttributeValue("entryCSN") < entries[j].GetAttributeValue("entryCSN")
		})
		for i, e := range entries {
			if want := fmt.Sprintf("wb%04d", i); !strings.EqualFold(e.GetAttributeValue("uid"), want) {
				b.Fatalf("entry %d to arrive is %s, want %s: out of order", i, e.GetAttributeValue("uid"), want)
			}
		}
		b.ReportMetric(lag.Seconds(), "s_after_last_201")
		b.ReportMetric(last201.Sub(start).Seconds(), "s_of_201s")
		cancel()
		<-done
	}
}
