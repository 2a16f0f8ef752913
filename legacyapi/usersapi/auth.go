package usersapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// caller is the authenticated user of a request and, on /{id} routes, the
// user it names.
type caller struct {
	user   *store.User
	cred   *store.Credential
	target *store.User
}

func (c *caller) admin() bool { return store.IsAdmin(c.user) }

// privilege is what the caller holds in the privilege model.
func (c *caller) privilege() store.Privilege { return store.PrivilegeOf(c.user) }

// readsAll: admins and moderators (the real product's read-only admins)
// may read every user; others only themselves.
func (c *caller) readsAll() bool { return c.privilege() >= store.PrivilegeModerator }

func (c *caller) self() bool { return c.target != nil && c.target.Key == c.user.Key }

func (c *caller) principal() string {
	return c.user.UserName + " (" + c.cred.Identifier + ")"
}

type handler func(w http.ResponseWriter, r *http.Request, c *caller)

// safe turns a panic into a 500 in the dialect's format.
func (s *server) safe(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				s.internal(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		h(w, r)
	}
}

// authed checks the bearer token (401), and for writes the token's write
// scope (403), before h runs.
func (s *server) authed(write bool, h handler) http.HandlerFunc {
	return s.safe(func(w http.ResponseWriter, r *http.Request) {
		token := httpjson.BearerToken(r)
		if token == "" {
			fail(w, http.StatusUnauthorized, msgNoToken)
			return
		}
		c, err := s.authenticate(r.Context(), token)
		if err != nil {
			if store.IsNotFound(err) {
				fail(w, http.StatusUnauthorized, msgBadToken)
				return
			}
			s.failed(w, r, err)
			return
		}
		if write && !c.mayWrite() {
			fail(w, http.StatusForbidden, msgForbidden)
			return
		}
		if c.cred.Kind == SessionKind {
			// A password change made with this access token keeps it.
			r = r.WithContext(auth.Keeping(r.Context(), c.cred))
		}
		h(w, r, c)
	})
}

// authenticate finds a login access token or a long-lived key and its
// (active) user; anything else is NotFound.
func (s *server) authenticate(ctx context.Context, token string) (*caller, error) {
	var c caller
	if strings.HasPrefix(token, sessionPrefix) {
		sess, err := s.sessions.Find(ctx, s.deps.Store, token, s.deps.Clock())
		if err != nil {
			return nil, err
		}
		c.cred, c.user = sess.Credential, sess.User
	} else {
		var err error
		if c.cred, c.user, err = auth.LookupKey(ctx, s.deps.Store, Dialect, token); err != nil {
			return nil, err
		}
	}
	if c.user == nil || !c.user.Active {
		return nil, store.Errorf(store.KindNotFound, "no active user")
	}
	return &c, nil
}

// mayWrite: a login token may do what its user may; a key needs "write".
func (c *caller) mayWrite() bool {
	return c.cred.Kind == SessionKind || auth.HasScope(c.cred, "write")
}

// withTarget loads the {id} user (404 for an unknown or non-numeric id).
func (s *server) withTarget(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, c *caller) {
		id, ok := legacyapi.ParseKey(mux.Vars(r)["id"])
		if !ok {
			fail(w, http.StatusNotFound, msgNotFound)
			return
		}
		u, err := s.deps.Store.GetUserByKey(r.Context(), id)
		if err != nil {
			s.failed(w, r, err)
			return
		}
		c.target = u
		h(w, r, c)
	}
}

// body is a decoded JSON object body.
type body map[string]json.RawMessage

// readBody decodes the request's JSON object (an empty body is {}); on
// false it has answered 400 or 413.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) (body, bool) {
	raw, err := httpjson.ReadBody(w, r, s.deps.BodyLimit())
	if errors.Is(err, httpjson.ErrBodyTooLarge) {
		fail(w, http.StatusRequestEntityTooLarge, msgTooLarge)
		return nil, false
	}
	b := body{}
	if err == nil && len(bytes.TrimSpace(raw)) > 0 {
		err = json.Unmarshal(raw, &b)
	}
	if err != nil {
		fail(w, http.StatusBadRequest, msgMalformed)
		return nil, false
	}
	return b, true
}

// has reports whether the field is present and not null.
func (b body) has(k string) bool {
	v, ok := b[k]
	return ok && string(v) != "null"
}

// str returns a string field: ok=false when present but not a string.
func (b body) str(k string) (v string, present, ok bool) {
	if !b.has(k) {
		return "", false, true
	}
	err := json.Unmarshal(b[k], &v)
	return v, true, err == nil
}

func (b body) boolean(k string) (v bool, present, ok bool) {
	if !b.has(k) {
		return false, false, true
	}
	err := json.Unmarshal(b[k], &v)
	return v, true, err == nil
}

// login is POST /api/auth/login: auth.Sessions.Login, the one login flow,
// with a refresh token issued in the session's own transaction.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	name, password, ok := s.loginBody(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	u, err := s.findLogin(ctx, name)
	if err != nil && !store.IsNotFound(err) {
		s.loginFailed(w, r, name, err)
		return
	}
	if u != nil {
		name = u.UserName
	}
	// An unknown name is checked too (against no one), so that it takes
	// as long as a known one and counts towards the same lockout.
	now := s.deps.Clock()
	var refresh string
	sess, err := s.sessions.Login(ctx, s.deps.Store, s.deps.Passwords, now, auth.LoginRequest{
		UserName: name, Password: password, UserAgent: r.UserAgent(),
		Actor: legacyapi.Actor(r, Dialect, name),
		OnLogin: func(ctx context.Context, tx store.Tx, sess *auth.Session) error {
			var err error
			refresh, err = s.refreshes.Issue(ctx, tx, sess, now)
			if err != nil {
				return err
			}
			return s.sweepExpired(ctx, tx, now)
		},
	})
	if err != nil {
		s.loginFailed(w, r, name, err)
		return
	}
	out, err := s.render(ctx, sess.User)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	out.LastLoginAt, out.LastLogin = ts(now), ts(now)
	httpjson.Write(w, http.StatusOK, map[string]any{
		"success": true, "message": "Login successful",
		"data": map[string]any{"user": out, "accessToken": sess.ID, "refreshToken": refresh,
			"expiresIn": int(s.sessions.Lifetime().Seconds())},
	})
}

// loginBody reads the login's username (or e-mail) and password; on false
// it has answered 400, 413 or 422.
func (s *server) loginBody(w http.ResponseWriter, r *http.Request) (name, password string, ok bool) {
	b, ok := s.readBody(w, r)
	if !ok {
		return "", "", false
	}
	bad := invalid{}
	name, _, okName := b.str("username")
	if name == "" {
		name, _, okName = b.str("email")
	}
	password, _, okPw := b.str("password")
	if !okName || strings.TrimSpace(name) == "" {
		bad.add("username", "Username is required")
	}
	if !okPw || password == "" {
		bad.add("password", "Password is required")
	}
	if len(bad) > 0 {
		bad.write(w)
		return "", "", false
	}
	return strings.TrimSpace(name), password, true
}

// sweepExpired removes expired refresh tokens, at most once an hour, inside
// a login's transaction (the store keeps them until deleted; FindCredential
// already refuses them). Sessions.Start prunes expired access tokens.
func (s *server) sweepExpired(ctx context.Context, tx store.Tx, now time.Time) error {
	s.sweepMu.Lock()
	due := now.Sub(s.lastSweep) >= time.Hour
	if due {
		s.lastSweep = now
	}
	s.sweepMu.Unlock()
	if !due {
		return nil
	}
	creds, err := tx.ListCredentials(ctx, RefreshKind)
	if err != nil {
		return err
	}
	for _, c := range creds {
		if !c.Expires.IsZero() && !c.Expires.After(now) {
			if err := tx.DeleteCredential(ctx, c.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// findLogin finds a user by userName, else by a unique e-mail address.
func (s *server) findLogin(ctx context.Context, name string) (*store.User, error) {
	u, err := s.deps.Store.GetUserByUserName(ctx, name)
	if err == nil || !store.IsNotFound(err) || !strings.Contains(name, "@") {
		return u, err
	}
	page, err := s.deps.Store.ListUsers(ctx, store.Query{
		Filter: store.Compare{Attr: "emails.value", Op: store.OpEq, Value: name}, Limit: 2})
	if err != nil {
		return nil, err
	}
	if len(page.Users) != 1 {
		return nil, store.Errorf(store.KindNotFound, "no unique user with that e-mail")
	}
	return page.Users[0], nil
}

// refresh is POST /api/auth/refresh: the refresh token is used up and
// replaced (rotation); one used before ends its whole login (a stolen
// token and its thief's successors with it).
func (s *server) refresh(w http.ResponseWriter, r *http.Request) {
	b, ok := s.readBody(w, r)
	if !ok {
		return
	}
	token, _, okTok := b.str("refreshToken")
	if !okTok || token == "" {
		invalid{"refreshToken": "Refresh token is required"}.write(w)
		return
	}
	ctx := r.Context()
	now := s.deps.Clock()
	var next string
	var sess *auth.Session
	err := s.deps.Store.Write(ctx, legacyapi.Actor(r, Dialect, ""), func(tx store.Tx) error {
		u, used, err := s.refreshes.Use(ctx, tx, token, now)
		if err != nil {
			return err
		}
		if !u.Active {
			return store.Errorf(store.KindNotFound, "user not active")
		}
		if sess, err = s.sessions.Start(ctx, tx, u, now); err != nil {
			return err
		}
		next, err = s.refreshes.Rotate(ctx, tx, used, sess, now)
		return err
	})
	if errors.Is(err, auth.ErrRefreshReused) {
		// The family's end must be kept even though the refresh fails.
		if err := s.deps.Store.Write(ctx, legacyapi.Actor(r, Dialect, ""), func(tx store.Tx) error {
			return s.refreshes.EndReused(ctx, tx, token)
		}); err != nil {
			s.failed(w, r, err)
			return
		}
		fail(w, http.StatusUnauthorized, msgBadRefresh)
		return
	}
	if store.IsNotFound(err) {
		fail(w, http.StatusUnauthorized, msgBadRefresh)
		return
	}
	if err != nil {
		s.failed(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"success": true,
		"data": map[string]any{"accessToken": sess.ID, "refreshToken": next, "expiresIn": int(s.sessions.Lifetime().Seconds())}})
}

// logout revokes the presented access token and the refresh token the
// body may name (a long-lived key is revoked from the command line).
func (s *server) logout(w http.ResponseWriter, r *http.Request, c *caller) {
	b, ok := s.readBody(w, r)
	if !ok {
		return
	}
	refresh, _, _ := b.str("refreshToken")
	ctx := r.Context()
	if c.cred.Kind == SessionKind || refresh != "" {
		err := s.deps.Store.Write(ctx, legacyapi.Actor(r, Dialect, c.principal()), func(tx store.Tx) error {
			if c.cred.Kind == SessionKind {
				if err := s.sessions.End(ctx, tx, &auth.Session{Credential: c.cred, User: c.user}); err != nil {
					return err
				}
				// The login ends with its access token: its refresh tokens too.
				if err := s.refreshes.EndLogin(ctx, tx, c.cred); err != nil {
					return err
				}
			}
			if refresh == "" {
				return nil
			}
			return s.refreshes.Revoke(ctx, tx, refresh, c.user.Key)
		})
		if err != nil {
			s.failed(w, r, err)
			return
		}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"success": true, "message": "Logout successful"})
}
