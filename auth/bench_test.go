package auth

import (
	"context"
	"fmt"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// BenchmarkLoginFailure is a wrong password for a known and for an unknown
// user: the two cost the same (one argon2id run each), so that the time
// of an answer does not tell whether the user exists. The log holds
// 20,000 earlier failures of other users from other addresses, so that a
// lockout query that scans it shows.
func BenchmarkLoginFailure(b *testing.B) {
	ctx := context.Background()
	st, clk := sessionStore(b)
	userWithPassword(b, st, "bob", "right")
	err := st.Write(ctx, store.Actor{Door: "bench"}, func(tx store.Tx) error {
		for i := 0; i < 20000; i++ {
			if err := tx.Record(ctx, store.Activity{Action: ActionLoginFailure, ResourceType: "User",
				ResourceID: fmt.Sprintf("unknown:%016x", i), Detail: "bench"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	s := &Sessions{Dialect: "bench", Lockout: Lockout{MaxFailures: 1 << 30, Window: 1 << 40}}
	for _, name := range []string{"bob", "nobody"} {
		b.Run(map[string]string{"bob": "known", "nobody": "unknown"}[name], func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				_, err := s.Login(ctx, st, &Verifier{}, clk.Now(), LoginRequest{UserName: name, Password: "wrong",
					Actor: store.Actor{Door: "bench", Address: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)}})
				if err != ErrBadLogin {
					b.Fatal(err)
				}
			}
		})
	}
}
