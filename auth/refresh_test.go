package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// A login's refresh tokens rotate, end when left unused for Idle and, however
// often used, Absolute after the login; a used one presented again is
// refused and ends the login's later tokens and their access tokens.
func TestRefreshTokenLifetimes(t *testing.T) {
	ctx := context.Background()
	st, clk := sessionStore(t)
	userWithPassword(t, st, "bob", "right")
	s := &Sessions{Dialect: "test", Absolute: 15 * time.Minute}
	rt := &RefreshTokens{Kind: "refresh:test", SessionKind: SessionKind("test"), Prefix: "rt_",
		Idle: time.Hour, Absolute: 3 * time.Hour}
	login := func() string {
		t.Helper()
		var token string
		_, err := s.Login(ctx, st, &Verifier{}, clk.Now(), LoginRequest{UserName: "bob", Password: "right",
			OnLogin: func(ctx context.Context, tx store.Tx, sess *Session) error {
				var err error
				token, err = rt.Issue(ctx, tx, sess, clk.Now())
				return err
			}})
		if err != nil {
			t.Fatal(err)
		}
		return token
	}
	refresh := func(token string) (string, *Session, error) {
		var next string
		var sess *Session
		err := st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
			u, used, err := rt.Use(ctx, tx, token, clk.Now())
			if err != nil {
				return err
			}
			if sess, err = s.Start(ctx, tx, u, clk.Now()); err != nil {
				return err
			}
			next, err = rt.Rotate(ctx, tx, used, sess, clk.Now())
			return err
		})
		return next, sess, err
	}

	// Used every 50 minutes, the login lives 3 hours, not longer.
	token := login()
	for i := 0; i < 3; i++ {
		clk.Add(50 * time.Minute)
		next, _, err := refresh(token)
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		token = next
	}
	clk.Add(31 * time.Minute) // 3h01m after the login, 31 minutes after the last use
	if _, _, err := refresh(token); !store.IsNotFound(err) {
		t.Fatalf("a refresh past the login's absolute lifetime: %v", err)
	}

	// Left unused for the idle time, the login ends.
	token = login()
	clk.Add(61 * time.Minute)
	if _, _, err := refresh(token); !store.IsNotFound(err) {
		t.Fatalf("a refresh after an idle hour: %v", err)
	}

	// Reuse: refused, and the login's later tokens end with it.
	first := login()
	second, sess, err := refresh(first)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := refresh(first); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("a used refresh token again: %v", err)
	}
	if err := st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error { return rt.EndReused(ctx, tx, first) }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := refresh(second); !store.IsNotFound(err) {
		t.Fatalf("the successor of a reused refresh token: %v", err)
	}
	if _, err := s.Find(ctx, st, sess.ID, clk.Now()); !store.IsNotFound(err) {
		t.Fatalf("the access token of a reused login: %v", err)
	}
}
