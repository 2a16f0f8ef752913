package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Activity actions the session layer records (the store records resource
// changes itself).
const (
	ActionLogin        = "user.login"
	ActionLogout       = "user.logout"
	ActionLoginFailure = store.ActionLoginFailure
	// ActionLogoutEverywhere marks the end of every session of a user in
	// every door (xyOps logout_all, POST /admin/users/{user}/logout).
	ActionLogoutEverywhere = "user.logout_all"
	// ActionPasswordChange marks a password set by its owner or an admin;
	// it also clears a lockout.
	// The store records it on every password change, whatever the door.
	ActionPasswordChange = store.ActionPasswordChange
)

// Login outcomes other than success. Each dialect renders them in its own
// wording; ErrBadLogin deliberately covers both an unknown user and a wrong
// password.
var (
	ErrBadLogin = errors.New("username or password incorrect")
	ErrLocked   = errors.New("account is locked")
	ErrDisabled = errors.New("account is disabled")
	// ErrPasswordCheck wraps the error of a password check that found no
	// answer (a directory down, a malformed hash): the password is neither
	// right nor wrong, and a dialect may say so (a 503) rather than fail.
	ErrPasswordCheck = errors.New("password check failed")
)

// Sessions is the login-session mechanics of one dialect: session ids are
// random, handed to the client once and stored only as SHA-256 hashes in
// credentials of kind SessionKind(Dialect) with an expiry. A session ends
// when left unused for Idle, Absolute after its login however much it is
// used, at logout, and with its user's password (store.EndsWithPassword).
// Failed password checks lock and slow down guessing (Lockout).
type Sessions struct {
	Dialect string
	// Idle ends a session left unused this long; 0: no idle timeout (a
	// fixed lifetime, as for access tokens).
	Idle time.Duration
	// Absolute ends a session this long after its login; 0 means
	// DefaultAbsolute.
	Absolute time.Duration
	// Lockout guards the password checks of logins and of current
	// passwords.
	Lockout Lockout
	// NewID makes a session id; nil means 64 hex characters.
	NewID func() string
}

// The lifetimes of a login session where a dialect has no reason to
// choose others: ended after 12 hours unused, and a week after the login.
const (
	DefaultIdle     = 12 * time.Hour
	DefaultAbsolute = 7 * 24 * time.Hour
)

// Lifetime is the longest a session lives: its absolute lifetime.
func (s *Sessions) Lifetime() time.Duration {
	if s.Absolute > 0 {
		return s.Absolute
	}
	return DefaultAbsolute
}

// expiry is when a session created at created and last used at used ends.
func (s *Sessions) expiry(created, used time.Time) time.Time {
	return lifetimeEnd(created, used, s.Idle, s.Lifetime())
}

// lifetimeEnd is when a credential started at start and last used at used
// ends: absolute after its start, or idle after its last use (0: no idle
// limit), whichever comes first.
func lifetimeEnd(start, used time.Time, idle, absolute time.Duration) time.Time {
	end := start.Add(absolute)
	if idle > 0 && used.Add(idle).Before(end) {
		end = used.Add(idle)
	}
	return end
}

// touchEvery is how often a used session records its use: often enough
// that the idle timeout is kept to within 5%, rarely enough that a busy
// session costs a write only now and then.
func (s *Sessions) touchEvery() time.Duration { return s.Idle / 20 }

// SessionKind is the credential kind of a dialect's sessions.
func SessionKind(dialect string) string { return store.SessionKindPrefix + dialect }

// Session is a live session as a request presents it.
type Session struct {
	ID         string // the id the client presented; never stored
	Credential *store.Credential
	User       *store.User
}

func hexID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return hex.EncodeToString(b)
}

// SessionRef is the public, non-secret reference of a session id shown in
// activity logs: a prefix of the hash it is stored under.
func SessionRef(id string) string { return HashToken(id)[:16] }

// CSRFToken derives the session's CSRF token from its id, so that nothing
// more has to be stored and a login can be resumed with the same token.
// Knowing the token reveals nothing about the session id.
func CSRFToken(sessionID string) string {
	m := hmac.New(sha256.New, []byte(sessionID))
	m.Write([]byte("csrf"))
	return hex.EncodeToString(m.Sum(nil))
}

// CheckCSRF reports whether token is the session's CSRF token.
func CheckCSRF(sessionID, token string) bool {
	return token != "" && Equal(CSRFToken(sessionID), token)
}

// LoginRequest is what a dialect's login call passes on.
type LoginRequest struct {
	UserName, Password string
	Actor              store.Actor
	// UserAgent is kept in the login's activity entry.
	UserAgent string
	// OnLogin, when set, runs inside the transaction that starts the
	// session, after the session is created: what a dialect issues with a
	// session (a refresh token) commits with it or not at all. An error
	// fails the login and is returned as it is.
	OnLogin func(ctx context.Context, tx store.Tx, sess *Session) error
}

// LoginDetail is the JSON detail of a login activity entry.
type LoginDetail struct {
	Door      string `json:"door"`
	Session   string `json:"session"`
	UserAgent string `json:"user_agent,omitempty"`
}

// Login checks a user's password and starts a session: an unknown user or
// a wrong password is ErrBadLogin (both cost one argon2id run, and both
// count towards the lockout), a locked account ErrLocked, a disabled one
// ErrDisabled (only after the right password, so that it reveals nothing
// to a guesser), a password that could not be checked ErrPasswordCheck.
// A check the lockout slows waits first. req.OnLogin runs in the
// transaction that starts the session.
func (s *Sessions) Login(ctx context.Context, st store.Store, pw *Verifier, now time.Time,
	req LoginRequest) (*Session, error) {
	u, err := st.GetUserByUserName(ctx, req.UserName)
	if store.IsNotFound(err) {
		u, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	ok, err := s.check(ctx, st, pw, u, req.UserName, req.Password, req.Actor, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrBadLogin
	}
	if !u.Active {
		return nil, ErrDisabled
	}
	var sess *Session
	err = st.Write(ctx, req.Actor, func(tx store.Tx) error {
		var err error
		if sess, err = s.Start(ctx, tx, u, now); err != nil {
			return err
		}
		if req.OnLogin != nil {
			if err := req.OnLogin(ctx, tx, sess); err != nil {
				return err
			}
		}
		detail, _ := json.Marshal(LoginDetail{Door: s.Dialect, Session: SessionRef(sess.ID), UserAgent: req.UserAgent})
		return tx.Record(ctx, store.Activity{Action: ActionLogin, ResourceType: "User", ResourceID: u.ID,
			ResourceKey: u.Key, UserKey: u.Key, Detail: string(detail)})
	})
	if err != nil {
		return nil, err
	}
	return sess, nil
}

// CheckCurrent checks the password a signed-in user gives to confirm a
// change (a password change's current password, xyOps logout_all) as a
// login checks it: under the lockout, a wrong one recorded as a failed
// login, so that a stolen session cannot guess the password (nor, for a
// directory user, bind to the directory without limit). ErrLocked means
// this address is locked out of the account; ErrPasswordCheck that the
// password could not be checked.
func (s *Sessions) CheckCurrent(ctx context.Context, st store.Store, pw *Verifier, u *store.User, password string,
	actor store.Actor, now time.Time) (bool, error) {
	return s.check(ctx, st, pw, u, u.UserName, password, actor, now)
}

// check is one password check under the lockout; u is nil for an unknown
// name, which costs the same and is counted the same.
func (s *Sessions) check(ctx context.Context, st store.Store, pw *Verifier, u *store.User, name, password string,
	actor store.Actor, now time.Time) (bool, error) {
	a := newAttempt(u, name, actor.Address)
	v, err := s.Lockout.judge(ctx, st, a, now)
	if err != nil {
		return false, err
	}
	if v.locked {
		return false, ErrLocked
	}
	if err := s.Lockout.wait(ctx, v.wait); err != nil {
		return false, err
	}
	ok := false
	if u == nil {
		err = pw.CheckUnknown(ctx, password)
	} else {
		ok, err = pw.Check(ctx, u, password)
	}
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrPasswordCheck, err)
	}
	if ok {
		return true, nil
	}
	err = st.Write(ctx, actor, func(tx store.Tx) error { return tx.Record(ctx, a.failure(s.Dialect)) })
	return false, err
}

// Locked reports whether the address is locked out of the user's account
// (Lockout): more than MaxFailures failed checks from there within the
// window, counted after the last successful login from there or the last
// password change.
func (s *Sessions) Locked(ctx context.Context, st store.Reader, u *store.User, address string, now time.Time) (bool, error) {
	v, err := s.Lockout.judge(ctx, st, newAttempt(u, u.UserName, address), now)
	return v.locked, err
}

// Start creates a session for u inside tx and returns it with its id.
func (s *Sessions) Start(ctx context.Context, tx store.Tx, u *store.User, now time.Time) (*Session, error) {
	newID := s.NewID
	if newID == nil {
		newID = hexID
	}
	id := newID()
	c := &store.Credential{
		Kind:       SessionKind(s.Dialect),
		Name:       u.UserName,
		UserKey:    u.Key,
		Identifier: SessionRef(id),
		SecretHash: HashToken(id),
		Expires:    s.expiry(now, now),
		LastUsed:   now,
	}
	if err := s.pruneExpired(ctx, tx, now); err != nil {
		return nil, err
	}
	if err := tx.CreateCredential(ctx, c); err != nil {
		return nil, err
	}
	return &Session{ID: id, Credential: c, User: u}, nil
}

// pruneExpired deletes the dialect's expired sessions, so that abandoned
// ones do not pile up; logins pay for it, requests do not.
func (s *Sessions) pruneExpired(ctx context.Context, tx store.Tx, now time.Time) error {
	all, err := tx.ListCredentials(ctx, SessionKind(s.Dialect))
	if err != nil {
		return err
	}
	for _, c := range all {
		if !c.Expires.IsZero() && !c.Expires.After(now) {
			if err := tx.DeleteCredential(ctx, c.ID); err != nil && !store.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

// Find returns the live session with the id and its user. An unknown or
// expired id is a NotFound error; a session whose user is gone has a nil
// User. A use is recorded (now and then, touchEvery) and moves the idle
// timeout, never past the absolute lifetime.
func (s *Sessions) Find(ctx context.Context, st store.Store, id string, now time.Time) (*Session, error) {
	if id == "" {
		return nil, store.Errorf(store.KindNotFound, "no session")
	}
	c, err := st.FindCredential(ctx, SessionKind(s.Dialect), HashToken(id))
	if err != nil {
		return nil, err
	}
	if !c.Expires.IsZero() && !c.Expires.After(now) {
		return nil, store.Errorf(store.KindNotFound, "session expired")
	}
	sess := &Session{ID: id, Credential: c}
	u, err := st.GetUserByKey(ctx, c.UserKey)
	if err != nil && !store.IsNotFound(err) {
		return nil, err
	}
	sess.User = u
	if s.Idle > 0 && now.Sub(c.LastUsed) >= s.touchEvery() {
		c.Expires, c.LastUsed = s.expiry(c.Created, now), now
		err := st.Write(ctx, store.Actor{Door: s.Dialect, Principal: c.Name}, func(tx store.Tx) error {
			return tx.UpdateCredential(ctx, c)
		})
		if err != nil && !store.IsNotFound(err) {
			return nil, err
		}
	}
	return sess, nil
}

// End ends the session inside tx and records the logout.
func (s *Sessions) End(ctx context.Context, tx store.Tx, sess *Session) error {
	if err := tx.DeleteCredential(ctx, sess.Credential.ID); err != nil && !store.IsNotFound(err) {
		return err
	}
	a := store.Activity{Action: ActionLogout, ResourceType: "User", UserKey: sess.Credential.UserKey,
		ResourceKey: sess.Credential.UserKey, Detail: s.Dialect}
	if sess.User != nil {
		a.ResourceID = sess.User.ID
	}
	return tx.Record(ctx, a)
}

// EndOthers ends every session of the user except keep and returns how
// many it ended.
func (s *Sessions) EndOthers(ctx context.Context, tx store.Tx, userKey int64, keep *store.Credential) (int, error) {
	all, err := tx.ListCredentials(ctx, SessionKind(s.Dialect))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range all {
		if c.UserKey != userKey || (keep != nil && c.ID == keep.ID) {
			continue
		}
		if err := tx.DeleteCredential(ctx, c.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// EndEverywhere ends every session and refresh token of the user in every
// door except keep (nil: none), and returns how many it ended: "log out
// everywhere".
func EndEverywhere(ctx context.Context, tx store.Tx, userKey int64, keep *store.Credential) (int, error) {
	var id int64
	if keep != nil {
		id = keep.ID
	}
	return tx.EndSessions(ctx, userKey, id)
}

// Keeping returns a context whose password change keeps sess (nil: none)
// while it ends the user's other sessions (store.KeepSession): for the
// vendors whose session survives its own password change.
func Keeping(ctx context.Context, sess *store.Credential) context.Context {
	if sess == nil {
		return ctx
	}
	return store.KeepSession(ctx, sess.ID)
}

// SessionCookie builds the cookie carrying a session id; an empty value
// builds one that deletes the cookie. SameSite=Lax keeps other sites from
// posting with it.
func SessionCookie(r *http.Request, name, value, path string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")}
	if value == "" {
		c.MaxAge = -1
	} else if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	}
	return c
}
