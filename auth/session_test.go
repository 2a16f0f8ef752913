package auth

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func sessionStore(t testing.TB) (store.Store, *testClock) {
	t.Helper()
	clk := &testClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), sqlite.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, clk
}

func userWithPassword(t testing.TB, st store.Store, name, pw string) *store.User {
	t.Helper()
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	return storetest.CreateUser(t, st, &store.User{UserName: name, Active: true, PasswordHash: h})
}

func TestSessionLifecycle(t *testing.T) {
	ctx := context.Background()
	st, clk := sessionStore(t)
	u := userWithPassword(t, st, "jdoe", "pw")
	s := &Sessions{Dialect: "test", Absolute: time.Hour}
	pw := &Verifier{}
	req := LoginRequest{UserName: "JDOE", Password: "pw", Actor: store.Actor{Door: "test"}, UserAgent: "ua/1"}

	a, err := s.Login(ctx, st, pw, clk.Now(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.ID) != 64 || a.Credential.SecretHash != HashToken(a.ID) || strings.Contains(a.Credential.Identifier, a.ID) {
		t.Fatalf("session %+v", a.Credential)
	}
	b, _ := s.Login(ctx, st, pw, clk.Now(), req)
	other := userWithPassword(t, st, "amy", "pw2")
	c, _ := s.Login(ctx, st, pw, clk.Now(), LoginRequest{UserName: "amy", Password: "pw2"})

	got, err := s.Find(ctx, st, a.ID, clk.Now())
	if err != nil || got.User.Key != u.Key {
		t.Fatalf("find: %+v %v", got, err)
	}
	if _, err := s.Find(ctx, st, a.ID+"0", clk.Now()); !store.IsNotFound(err) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := (&Sessions{Dialect: "other"}).Find(ctx, st, a.ID, clk.Now()); !store.IsNotFound(err) {
		t.Fatal("a session is valid for another dialect")
	}

	// The login is in the activity log, with a reference, not the id.
	acts, _, _ := st.ListActivity(ctx, store.ActivityQuery{UserID: u.ID, Action: ActionLogin})
	if len(acts) != 2 || !strings.Contains(acts[0].Detail, SessionRef(b.ID)) || strings.Contains(acts[0].Detail, b.ID) ||
		!strings.Contains(acts[0].Detail, "ua/1") {
		t.Fatalf("login activity %+v", acts)
	}

	// EndOthers keeps the current session and other users' sessions.
	err = st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
		n, err := s.EndOthers(ctx, tx, u.Key, b.Credential)
		if n != 1 {
			t.Errorf("ended %d, want 1", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Find(ctx, st, a.ID, clk.Now()); !store.IsNotFound(err) {
		t.Fatal("other session survived")
	}
	if _, err := s.Find(ctx, st, b.ID, clk.Now()); err != nil {
		t.Fatal("current session ended")
	}
	if got, err := s.Find(ctx, st, c.ID, clk.Now()); err != nil || got.User.Key != other.Key {
		t.Fatal("another user's session ended")
	}

	// End.
	if err := st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error { return s.End(ctx, tx, b) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Find(ctx, st, b.ID, clk.Now()); !store.IsNotFound(err) {
		t.Fatal("ended session still valid")
	}

	// Fixed expiry.
	clk.Add(time.Hour)
	if _, err := s.Find(ctx, st, c.ID, clk.Now()); !store.IsNotFound(err) {
		t.Fatal("expired session valid")
	}
	// The next login prunes expired sessions.
	if _, err := s.Login(ctx, st, pw, clk.Now(), req); err != nil {
		t.Fatal(err)
	}
	if left, _ := st.ListCredentials(ctx, SessionKind("test")); len(left) != 1 {
		t.Fatalf("expired sessions kept: %d left", len(left))
	}
}

func TestSlidingSession(t *testing.T) {
	ctx := context.Background()
	st, clk := sessionStore(t)
	userWithPassword(t, st, "jdoe", "pw")
	s := &Sessions{Dialect: "test", Idle: 10 * time.Minute, NewID: func() string { return "FIXED-ID" }}
	a, err := s.Login(ctx, st, &Verifier{}, clk.Now(), LoginRequest{UserName: "jdoe", Password: "pw"})
	if err != nil || a.ID != "FIXED-ID" {
		t.Fatalf("%v %v", a, err)
	}
	for i := 0; i < 4; i++ {
		clk.Add(6 * time.Minute)
		if _, err := s.Find(ctx, st, a.ID, clk.Now()); err != nil {
			t.Fatalf("use %d: %v", i, err)
		}
	}
	clk.Add(10 * time.Minute)
	if _, err := s.Find(ctx, st, a.ID, clk.Now()); !store.IsNotFound(err) {
		t.Fatal("idle session still valid")
	}
}

func TestCSRF(t *testing.T) {
	tok := CSRFToken("session-a")
	if tok == CSRFToken("session-b") || tok != CSRFToken("session-a") || strings.Contains(tok, "session-a") {
		t.Fatal("CSRF tokens must be per session and stable")
	}
	if !CheckCSRF("session-a", tok) || CheckCSRF("session-b", tok) || CheckCSRF("session-a", "") {
		t.Fatal("CheckCSRF")
	}
}

func TestLoginOutcomes(t *testing.T) {
	ctx := context.Background()
	st, clk := sessionStore(t)
	u := userWithPassword(t, st, "jdoe", "right")
	s := &Sessions{Dialect: "test", Absolute: time.Hour, Lockout: Lockout{MaxFailures: 3, Window: time.Hour}}
	pw := &Verifier{}
	try := func(name, password string) error {
		clk.Add(time.Second)
		_, err := s.Login(ctx, st, pw, clk.Now(), LoginRequest{UserName: name, Password: password})
		return err
	}
	if err := try("nobody", "x"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("unknown user: %v", err)
	}
	for i := 0; i < 4; i++ {
		if err := try("jdoe", "wrong"); !errors.Is(err, ErrBadLogin) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if err := try("jdoe", "right"); !errors.Is(err, ErrLocked) {
		t.Fatalf("want locked, got %v", err)
	}
	// A password change lifts the lock.
	err := st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
		return tx.Record(ctx, store.Activity{Action: ActionPasswordChange, UserKey: u.Key})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := try("jdoe", "right"); err != nil {
		t.Fatalf("after password change: %v", err)
	}

	// Disabled: only told after the right password.
	err = st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
		_, err := tx.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Active = false; return nil })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := try("jdoe", "wrong"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("disabled, wrong password: %v", err)
	}
	if err := try("jdoe", "right"); !errors.Is(err, ErrDisabled) {
		t.Fatalf("disabled: %v", err)
	}
}

// binder plays a directory that knows one DN and password.
type binder struct{ dn, pw string }

func (b binder) Bind(_ context.Context, _, dn, pw string) error {
	if dn == b.dn && pw == b.pw {
		return nil
	}
	return ErrInvalidCredentials
}

func TestLoginDirectoryUser(t *testing.T) {
	ctx := context.Background()
	st, clk := sessionStore(t)
	storetest.CreateUser(t, st, &store.User{UserName: "dirk", Active: true,
		Source: store.Source{Name: "corp", ID: "1", DN: "uid=dirk,dc=corp"}})
	s := &Sessions{Dialect: "test", Absolute: time.Hour}
	pw := &Verifier{Directory: binder{dn: "uid=dirk,dc=corp", pw: "dirpw"}}
	if _, err := s.Login(ctx, st, pw, clk.Now(), LoginRequest{UserName: "dirk", Password: "dirpw"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, st, pw, clk.Now(), LoginRequest{UserName: "dirk", Password: "x"}); !errors.Is(err, ErrBadLogin) {
		t.Fatal(err)
	}
}

func TestSessionCookie(t *testing.T) {
	r := httptest.NewRequest("GET", "http://x/", nil)
	c := SessionCookie(r, "sid", "v", "/p", time.Hour)
	if !c.HttpOnly || c.Secure || c.MaxAge != 3600 || c.Path != "/p" {
		t.Fatalf("%+v", c)
	}
	r.Header.Set("X-Forwarded-Proto", "https")
	if c := SessionCookie(r, "sid", "", "/p", time.Hour); !c.Secure || c.MaxAge != -1 {
		t.Fatalf("%+v", c)
	}
}

func TestLoginHook(t *testing.T) {
	ctx := context.Background()
	st, clk := sessionStore(t)
	u := userWithPassword(t, st, "jdoe", "pw")
	s := &Sessions{Dialect: "test", Absolute: time.Hour}
	pw := &Verifier{}

	// The hook runs in the session's transaction and sees the new session.
	var seen *Session
	sess, err := s.Login(ctx, st, pw, clk.Now(), LoginRequest{UserName: "jdoe", Password: "pw",
		OnLogin: func(ctx context.Context, tx store.Tx, sess *Session) error {
			seen = sess
			return tx.CreateCredential(ctx, &store.Credential{Kind: "refresh:test", Name: sess.User.UserName,
				UserKey: sess.User.Key, Identifier: "r1", SecretHash: HashToken("refresh-" + sess.ID)})
		}})
	if err != nil {
		t.Fatal(err)
	}
	if seen == nil || seen.ID != sess.ID || seen.User.Key != u.Key {
		t.Fatalf("hook saw %+v, login gave %+v", seen, sess)
	}
	if _, err := st.FindCredential(ctx, "refresh:test", HashToken("refresh-"+sess.ID)); err != nil {
		t.Fatalf("hook's credential not stored: %v", err)
	}

	// A failing hook fails the login, and nothing of it is stored.
	boom := errors.New("boom")
	_, err = s.Login(ctx, st, pw, clk.Now(), LoginRequest{UserName: "jdoe", Password: "pw",
		OnLogin: func(ctx context.Context, tx store.Tx, sess *Session) error {
			if err := tx.CreateCredential(ctx, &store.Credential{Kind: "refresh:test", Name: "x", UserKey: u.Key,
				Identifier: "r2", SecretHash: HashToken("r2")}); err != nil {
				return err
			}
			return boom
		}})
	if !errors.Is(err, boom) {
		t.Fatalf("want the hook's error, got %v", err)
	}
	if sessions, _ := st.ListCredentials(ctx, SessionKind("test")); len(sessions) != 1 {
		t.Fatalf("%d sessions after a failed hook, want the first one only", len(sessions))
	}
	if refresh, _ := st.ListCredentials(ctx, "refresh:test"); len(refresh) != 1 {
		t.Fatalf("%d refresh credentials after a failed hook, want 1", len(refresh))
	}
	if logins, _, _ := st.ListActivity(ctx, store.ActivityQuery{UserID: u.ID, Action: ActionLogin}); len(logins) != 1 {
		t.Fatalf("%d login entries after a failed hook, want 1", len(logins))
	}
}

func TestLoginPasswordCheckFails(t *testing.T) {
	ctx := context.Background()
	st, clk := sessionStore(t)
	storetest.CreateUser(t, st, &store.User{UserName: "dirk", Active: true,
		Source: store.Source{Name: "corp", ID: "1", DN: "uid=dirk,dc=corp"}})
	s := &Sessions{Dialect: "test", Absolute: time.Hour, Lockout: Lockout{MaxFailures: 1, Window: time.Hour}}
	pw := &Verifier{Directory: fakeDir{down: true}}
	for i := 0; i < 3; i++ {
		_, err := s.Login(ctx, st, pw, clk.Now(), LoginRequest{UserName: "dirk", Password: "x"})
		if !errors.Is(err, ErrPasswordCheck) || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("attempt %d: want ErrPasswordCheck wrapping the directory's error, got %v", i, err)
		}
	}
}
