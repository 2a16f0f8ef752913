package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// waits records the delays the lockout asks for instead of waiting.
type waits []time.Duration

func (w *waits) wait(_ context.Context, d time.Duration) error { *w = append(*w, d); return nil }

func (w *waits) last() time.Duration {
	if len(*w) == 0 {
		return 0
	}
	return (*w)[len(*w)-1]
}

func lockoutSessions(w *waits) *Sessions {
	return &Sessions{Dialect: "test", Absolute: time.Hour, Lockout: Lockout{MaxFailures: 3, Window: time.Hour,
		Delay: 10 * time.Second, MaxDelay: time.Minute, Wait: w.wait}}
}

func from(addr string) store.Actor { return store.Actor{Door: "test", Address: addr} }

// One address that fails more than MaxFailures times is locked out of
// the account; the owner elsewhere is only slowed, and not at all once
// the attack has paused for the delay.
func TestLockoutPerAccountAndAddress(t *testing.T) {
	ctx := context.Background()
	st, clk := sessionStore(t)
	userWithPassword(t, st, "bob", "right")
	var w waits
	s := lockoutSessions(&w)
	login := func(addr, pw string) error {
		clk.Add(time.Second)
		_, err := s.Login(ctx, st, &Verifier{}, clk.Now(), LoginRequest{UserName: "bob", Password: pw, Actor: from(addr)})
		return err
	}
	for i := 0; i < 4; i++ {
		if err := login("192.0.2.1", "wrong"); !errors.Is(err, ErrBadLogin) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if err := login("192.0.2.1", "right"); !errors.Is(err, ErrLocked) {
		t.Fatalf("the guessing address is not locked out: %v", err)
	}
	w = nil
	if err := login("198.51.100.7", "right"); err != nil {
		t.Fatalf("the owner from another address is locked out: %v", err)
	}
	if got := w.last(); got != 8*time.Second {
		t.Fatalf("the owner waited %v, want the delay after the last failure (10s, 2s ago: 8s)", got)
	}
	// The owner's login restarts the account's count, not the guesser's.
	if err := login("192.0.2.1", "right"); !errors.Is(err, ErrLocked) {
		t.Fatalf("another address's login unlocked the guesser: %v", err)
	}
}

// Failures spread over many addresses never lock the owner out: they
// only make each check wait, longer with each failure, up to MaxDelay.
func TestLockoutSpreadOverAddressesOnlySlows(t *testing.T) {
	ctx := context.Background()
	st, clk := sessionStore(t)
	userWithPassword(t, st, "bob", "right")
	var w waits
	s := lockoutSessions(&w)
	for i := 0; i < 12; i++ {
		clk.Add(time.Second)
		_, err := s.Login(ctx, st, &Verifier{}, clk.Now(), LoginRequest{UserName: "bob", Password: "wrong",
			Actor: from(fmt.Sprintf("203.0.113.%d", i))})
		if !errors.Is(err, ErrBadLogin) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	// 10s after the 4th failure, 20s after the 5th, … at most a minute.
	if want := []time.Duration{9 * time.Second, 19 * time.Second, 39 * time.Second, 59 * time.Second}; len(w) < 4 ||
		fmt.Sprint(w[:4]) != fmt.Sprint(want) {
		t.Fatalf("delays %v, want them to start with %v", w, want)
	}
	w = nil
	clk.Add(time.Second)
	if _, err := s.Login(ctx, st, &Verifier{}, clk.Now(), LoginRequest{UserName: "bob", Password: "right",
		Actor: from("198.51.100.7")}); err != nil {
		t.Fatalf("the owner is locked out by a spread attack: %v", err)
	}
	if got := w.last(); got <= 0 || got > time.Minute {
		t.Fatalf("the owner waited %v, want a delay of at most a minute", got)
	}
	// An attack that paused for the longest delay costs the owner nothing.
	w = nil
	clk.Add(2 * time.Minute)
	if _, err := s.Login(ctx, st, &Verifier{}, clk.Now(), LoginRequest{UserName: "bob", Password: "right",
		Actor: from("198.51.100.7")}); err != nil || w.last() != 0 {
		t.Fatalf("after a pause: %v, waited %v", err, w.last())
	}
}

// An address failing over many accounts slows every account's check from
// there, and only from there.
func TestLockoutSlowsAGuessingAddress(t *testing.T) {
	ctx := context.Background()
	st, clk := sessionStore(t)
	userWithPassword(t, st, "bob", "right")
	var w waits
	s := lockoutSessions(&w)
	for i := 0; i < 13; i++ { // AddressFailures defaults to 4 × 3
		clk.Add(time.Second)
		_, err := s.Login(ctx, st, &Verifier{}, clk.Now(), LoginRequest{UserName: fmt.Sprintf("name%d", i), Password: "x",
			Actor: from("192.0.2.9")})
		if !errors.Is(err, ErrBadLogin) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	w = nil
	clk.Add(time.Second)
	if _, err := s.Login(ctx, st, &Verifier{}, clk.Now(), LoginRequest{UserName: "bob", Password: "right",
		Actor: from("192.0.2.9")}); err != nil || w.last() <= 0 {
		t.Fatalf("from the guessing address: %v, waited %v", err, w.last())
	}
	w = nil
	if _, err := s.Login(ctx, st, &Verifier{}, clk.Now(), LoginRequest{UserName: "bob", Password: "right",
		Actor: from("198.51.100.7")}); err != nil || w.last() != 0 {
		t.Fatalf("from elsewhere: %v, waited %v", err, w.last())
	}
}

// An unknown user costs one argon2id run, as a known one does, and is
// locked out after as many failures, with the same answer.
func TestLoginUnknownUserLooksKnown(t *testing.T) {
	ctx := context.Background()
	st, clk := sessionStore(t)
	userWithPassword(t, st, "bob", "right")
	var w waits
	s := lockoutSessions(&w)
	try := func(name string) error {
		clk.Add(time.Second)
		_, err := s.Login(ctx, st, &Verifier{}, clk.Now(), LoginRequest{UserName: name, Password: "wrong", Actor: from("192.0.2.1")})
		return err
	}
	runs := func(name string) int64 {
		before := HashRuns()
		if err := try(name); !errors.Is(err, ErrBadLogin) {
			t.Fatalf("%s: %v", name, err)
		}
		return HashRuns() - before
	}
	if known, unknown := runs("bob"), runs("nobody"); known != 1 || unknown != 1 {
		t.Fatalf("argon2id runs: known user %d, unknown user %d; want 1 and 1", known, unknown)
	}
	for i := 0; i < 3; i++ {
		try("bob")
		try("nobody")
	}
	known, unknown := try("bob"), try("nobody")
	if !errors.Is(known, ErrLocked) || !errors.Is(unknown, ErrLocked) {
		t.Fatalf("after the failures: known %v, unknown %v; want both locked", known, unknown)
	}
}

// A wrong current password counts as a failed login: a stolen session
// cannot guess the password without limit.
func TestCheckCurrentCountsTowardsLockout(t *testing.T) {
	ctx := context.Background()
	st, clk := sessionStore(t)
	u := userWithPassword(t, st, "bob", "right")
	var w waits
	s := lockoutSessions(&w)
	for i := 0; i < 4; i++ {
		clk.Add(time.Second)
		ok, err := s.CheckCurrent(ctx, st, &Verifier{}, u, "wrong", from("192.0.2.1"), clk.Now())
		if ok || err != nil {
			t.Fatalf("guess %d: %v %v", i, ok, err)
		}
	}
	if ok, err := s.CheckCurrent(ctx, st, &Verifier{}, u, "right", from("192.0.2.1"), clk.Now()); ok || !errors.Is(err, ErrLocked) {
		t.Fatalf("current-password guesses did not lock: %v %v", ok, err)
	}
	if _, err := s.Login(ctx, st, &Verifier{}, clk.Now(), LoginRequest{UserName: "bob", Password: "right",
		Actor: from("192.0.2.1")}); !errors.Is(err, ErrLocked) {
		t.Fatalf("login after current-password guesses: %v", err)
	}
}

// A session ended (here by its user's password change) fails on the next
// lookup even through a credential cache: sessions are never cached.
func TestCredentialCacheNeverKeepsASession(t *testing.T) {
	ctx := context.Background()
	st, clk := sessionStore(t)
	u := userWithPassword(t, st, "bob", "right")
	s := &Sessions{Dialect: "test", Absolute: time.Hour}
	sess, err := s.Login(ctx, st, &Verifier{}, clk.Now(), LoginRequest{UserName: "bob", Password: "right"})
	if err != nil {
		t.Fatal(err)
	}
	cache := NewCredentialCache(time.Hour)
	if _, _, err := cache.Lookup(ctx, st, SessionKind("test"), sess.ID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	err = st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
		_, err := tx.UpdateUser(ctx, u.ID, func(u *store.User) error { u.PasswordHash = "$argon2id$other"; return nil })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cache.Lookup(ctx, st, SessionKind("test"), sess.ID, clk.Now()); !store.IsNotFound(err) {
		t.Fatalf("the cache kept a session its password change ended: %v", err)
	}
	if _, err := s.Find(ctx, st, sess.ID, clk.Now()); !store.IsNotFound(err) {
		t.Fatalf("the session outlived its password: %v", err)
	}
}

// countingDir counts the binds it is asked for.
type countingDir struct {
	fakeDir
	binds *int
}

func (d countingDir) Bind(ctx context.Context, source, dn, pw string) error {
	*d.binds++
	return d.fakeDir.Bind(ctx, source, dn, pw)
}

// A directory user's current password is checked by a bind: counted like
// a login, the guesses end in a lockout that binds no more (before, a
// stolen session was an unlimited bind oracle).
func TestCheckCurrentOfADirectoryUserBindsALimitedNumberOfTimes(t *testing.T) {
	ctx := context.Background()
	st, clk := sessionStore(t)
	dirk := &store.User{UserName: "dirk", Active: true, Source: store.Source{Name: "corp", ID: "1", DN: "uid=dirk,dc=corp"}}
	if err := st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error { return tx.CreateUser(ctx, dirk) }); err != nil {
		t.Fatal(err)
	}
	binds := 0
	pw := &Verifier{Directory: countingDir{fakeDir{dn: "uid=dirk,dc=corp", pw: "dir-secret"}, &binds}}
	var w waits
	s := lockoutSessions(&w)
	for i := 0; i < 10; i++ {
		clk.Add(time.Second)
		_, _ = s.CheckCurrent(ctx, st, pw, dirk, fmt.Sprintf("guess-%d", i), from("192.0.2.1"), clk.Now())
	}
	if binds != 4 {
		t.Fatalf("%d binds for 10 guesses, want 4 (then the address is locked out)", binds)
	}
}
