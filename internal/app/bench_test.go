package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/store"
)

// seedUsers writes n users straight into the store, in large transactions.
func seedUsers(b *testing.B, st store.Store, n int) []string {
	b.Helper()
	ids := make([]string, 0, n)
	for done := 0; done < n; {
		err := st.Write(context.Background(), store.Actor{Door: "bench"}, func(tx store.Tx) error {
			for i := 0; i < 1000 && done+i < n; i++ {
				name := fmt.Sprintf("bench-user-%08d", done+i)
				u := &store.User{UserName: name, Active: true, Name: store.Name{GivenName: "Bench", FamilyName: name},
					Emails: []store.Value{{Value: name + "@bench.example", Type: "work", Primary: true}}}
				if err := tx.CreateUser(context.Background(), u); err != nil {
					return err
				}
				ids = append(ids, u.ID)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		done = len(ids)
	}
	return ids
}

// BenchmarkSCIMHandler measures the server side of each hot request,
// without network or client, so profiles show only scimbridge's work.
func BenchmarkSCIMHandler(b *testing.B) {
	s := apptest.Start(b)
	const n = 20000
	ids := seedUsers(b, s.Store, n)
	h := s.App.Handler()
	run := func(b *testing.B, path func(i int) string) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				req := httptest.NewRequest("GET", path(i), nil)
				req.Header.Set("Authorization", "Bearer "+apptest.Token)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", path(i), rec.Code, rec.Body)
				}
			}
		})
	}
	b.Run("get", func(b *testing.B) {
		run(b, func(i int) string { return "/scim/v2/Users/" + ids[(i*7919)%n] })
	})
	b.Run("filter-userName", func(b *testing.B) {
		run(b, func(i int) string {
			return "/scim/v2/Users?filter=" + url.QueryEscape(fmt.Sprintf(`userName eq "bench-user-%08d"`, (i*7919)%n))
		})
	})
	b.Run("list-100", func(b *testing.B) {
		run(b, func(i int) string { return "/scim/v2/Users?startIndex=1&count=100" })
	})
	// One counter over every run of b.N, so that creates never repeat a name.
	var next atomic.Int64
	write := func(b *testing.B, method string, want int, path func(i int) string, body func(i int) string) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(next.Add(1))
				req := httptest.NewRequest(method, path(i), strings.NewReader(body(i)))
				req.Header.Set("Authorization", "Bearer "+apptest.Token)
				req.Header.Set("Content-Type", "application/scim+json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != want {
					b.Fatalf("%s %s: %d %s", method, path(i), rec.Code, rec.Body)
				}
			}
		})
	}
	run0 := time.Now().UnixNano()
	b.Run("create", func(b *testing.B) {
		write(b, "POST", http.StatusCreated, func(int) string { return "/scim/v2/Users" }, func(i int) string {
			name := fmt.Sprintf("bench-new-%d-%d", run0, i)
			return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + name +
				`","name":{"givenName":"Bench","familyName":"` + name + `"},"emails":[{"value":"` + name +
				`@bench.example","type":"work","primary":true}],"active":true}`
		})
	})
	b.Run("patch-active", func(b *testing.B) {
		write(b, "PATCH", http.StatusOK, func(i int) string { return "/scim/v2/Users/" + ids[(i*7919)%n] }, func(i int) string {
			return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":%t}}]}`, i%2 == 0)
		})
	})
}
