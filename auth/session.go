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
	ActionLoginFailure = "login.failure"
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
// credentials of kind SessionKind(Dialect) with an expiry. Repeated failed
// logins lock the account for a while.
type Sessions struct {
	Dialect string
	// TTL is a session's lifetime.
	TTL time.Duration
	// Sliding extends a session to a full TTL when it is used after half of
	// it has passed (a servlet-style idle timeout); else the expiry is fixed.
	Sliding bool
	// MaxFailures locks an account after more than this many failed logins
	// within Window; 0 disables the lockout.
	MaxFailures int
	Window      time.Duration
	// NewID makes a session id; nil means 64 hex characters.
	NewID func() string
}

// SessionKind is the credential kind of a dialect's sessions.
func SessionKind(dialect string) string { return "session:" + dialect }

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
// a wrong password is ErrBadLogin (and a wrong password counts towards the
// lockout), a locked account ErrLocked, a disabled one ErrDisabled (only
// after the right password, so that it reveals nothing to a guesser), a
// password that could not be checked ErrPasswordCheck. req.OnLogin runs in
// the transaction that starts the session.
func (s *Sessions) Login(ctx context.Context, st store.Store, pw *Verifier, now time.Time,
	req LoginRequest) (*Session, error) {
	u, err := st.GetUserByUserName(ctx, req.UserName)
	if store.IsNotFound(err) {
		return nil, ErrBadLogin
	}
	if err != nil {
		return nil, err
	}
	locked, err := s.Locked(ctx, st, u, now)
	if err != nil {
		return nil, err
	}
	if locked {
		return nil, ErrLocked
	}
	ok, err := pw.Check(ctx, u, req.Password)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPasswordCheck, err)
	}
	if !ok {
		err := st.Write(ctx, req.Actor, func(tx store.Tx) error {
			return tx.Record(ctx, store.Activity{Action: ActionLoginFailure, ResourceType: "User",
				ResourceID: u.ID, ResourceKey: u.Key, UserKey: u.Key, Detail: s.Dialect})
		})
		if err != nil {
			return nil, err
		}
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

// Locked reports whether the user failed to log in more than MaxFailures
// times within Window, counting only failures after the last successful
// login or password change.
func (s *Sessions) Locked(ctx context.Context, st store.Reader, u *store.User, now time.Time) (bool, error) {
	if s.MaxFailures <= 0 {
		return false, nil
	}
	since := now.Add(-s.Window)
	for _, action := range []string{ActionLogin, ActionPasswordChange} {
		last, _, err := st.ListActivity(ctx, store.ActivityQuery{UserKey: u.Key, Action: action, Since: since, Limit: 1})
		if err != nil {
			return false, err
		}
		// The store keeps microseconds: count from just after the reset.
		if len(last) > 0 && !last[0].At.Before(since) {
			since = last[0].At.Add(time.Microsecond)
		}
	}
	_, failures, err := st.ListActivity(ctx, store.ActivityQuery{UserKey: u.Key, Action: ActionLoginFailure,
		Since: since, Limit: 1})
	if err != nil {
		return false, err
	}
	return failures > s.MaxFailures, nil
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
		Expires:    now.Add(s.TTL),
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
// User. With Sliding, a session past half its life is extended.
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
	if s.Sliding && c.Expires.Sub(now) < s.TTL/2 {
		c.Expires, c.LastUsed = now.Add(s.TTL), now
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
