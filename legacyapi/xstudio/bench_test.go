package xstudio

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

func seedUsers(b *testing.B, st store.Store, n int) *store.User {
	b.Helper()
	ctx := context.Background()
	var last *store.User
	for done := 0; done < n; done += 1000 {
		err := st.Write(ctx, store.Actor{Door: "bench"}, func(tx store.Tx) error {
			for i := done; i < done+1000 && i < n; i++ {
				last = &store.User{UserName: fmt.Sprintf("user-%06d", i), Active: true}
				if err := tx.CreateUser(ctx, last); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return last
}

// BenchmarkGetUserDetails is one getter over HTTP in a 10,000-user store.
func BenchmarkGetUserDetails(b *testing.B) {
	e := newEnv(b, Config{})
	u := seedUsers(b, e.st, 10000)
	c := e.login("admin", adminPW)
	params := url.Values{"userId": {fmt.Sprint(u.Key)}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r := c.get("getUserDetails", params); r["result"] != "success" {
			b.Fatal(r)
		}
	}
}

// BenchmarkGetUsersTree renders the whole tree of 10,000 users.
func BenchmarkGetUsersTree(b *testing.B) {
	e := newEnv(b, Config{})
	seedUsers(b, e.st, 10000)
	c := e.login("admin", adminPW)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r := c.get("getUsersTree", nil); r["result"] != "success" {
			b.Fatal(r)
		}
	}
}
