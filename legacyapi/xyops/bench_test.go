package xyops

import (
	"context"
	"fmt"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// BenchmarkGetUserActivity reads the first page (50 rows) of a user's log
// of 5,000 entries through a session, over HTTP.
func BenchmarkGetUserActivity(b *testing.B) {
	e := newEnv(b, Config{})
	u := e.user("jdoe", "pw-jdoe")
	ctx := context.Background()
	for batch := 0; batch < 5; batch++ {
		err := e.st.Write(ctx, store.Actor{Door: "bench"}, func(tx store.Tx) error {
			for i := 0; i < 1000; i++ {
				if err := tx.Record(ctx, store.Activity{Action: "user.update", UserKey: u.Key,
					Detail: fmt.Sprintf("changed: title %d", i)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	s := e.login("jdoe", "pw-jdoe")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := e.req("GET", "/api/app/get_user_activity/v1", nil, "Cookie", s.cookie())
		if len(r.body["rows"].([]any)) != 50 {
			b.Fatal(r.raw)
		}
	}
}

// BenchmarkLogin is one login: user lookup, lockout check, argon2id
// password check and the session write.
func BenchmarkLogin(b *testing.B) {
	e := newEnv(b, Config{})
	e.user("jdoe", "pw-jdoe")
	b.ResetTimer()
	for b.Loop() {
		e.login("jdoe", "pw-jdoe")
	}
}
