package xyops

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

const sessionCookie = "session_id"

// principal is who a request acts as: a session's user, or an API key and
// the user it was issued to (nil for a key bound to no user).
type principal struct {
	sess *auth.Session
	key  *store.Credential
	user *store.User
}

func (p *principal) name() string {
	if p.user != nil {
		return p.user.UserName
	}
	return "apikey:" + p.key.Identifier
}

// sessionID finds the session id: cookie, then X-Session-ID, then the body
// (never the query string).
func (c *call) sessionID() string {
	if ck, err := c.r.Cookie(sessionCookie); err == nil && ck.Value != "" {
		return ck.Value
	}
	if h := c.r.Header.Get("X-Session-ID"); h != "" {
		return h
	}
	id, _ := c.str("session_id")
	return id
}

// authenticate resolves the request's credentials in xyOps' order: a
// session id when one is present (no fallback to a key), else an API key.
func (s *server) authenticate(c *call) (*principal, *apiError, error) {
	if id := c.sessionID(); id != "" {
		return s.sessionPrincipal(c, id, true)
	}
	key := c.r.Header.Get("X-API-Key")
	if key == "" {
		key, _ = c.str("api_key")
	}
	if key == "" {
		key = c.r.URL.Query().Get("api_key")
	}
	if key == "" {
		return nil, fail("session", "No Session ID or API Key could be found"), nil
	}
	cred, u, err := auth.LookupKey(c.r.Context(), s.deps.Store, Dialect, key)
	if store.IsNotFound(err) {
		return nil, fail("session", "Invalid API Key"), nil
	}
	if err != nil {
		return nil, nil, err
	}
	if u != nil && !u.Active {
		return nil, fail("session", "User account is disabled: "+u.UserName), nil
	}
	if ok, _, _ := s.rate.Take(cred.ID, s.deps.Clock()); !ok {
		return nil, fail("rate", fmt.Sprintf("API Key has exceeded rate limit (%d/sec)", s.cfg.APIKeyMaxPerSec)), nil
	}
	return &principal{key: cred, user: u}, nil, nil
}

// sessionPrincipal loads a session, checking its CSRF token on anything
// but GET and HEAD when csrf is set.
func (s *server) sessionPrincipal(c *call, id string, csrf bool) (*principal, *apiError, error) {
	// A browser sends the cookie with any page's request: a session that
	// is the cookie's acts only for this origin's pages (and the allowed).
	if ck, err := c.r.Cookie(sessionCookie); err == nil && ck.Value == id && s.origins.Check(c.r) != nil {
		return nil, fail("session", "Invalid session: cross-origin request refused"), nil
	}
	sess, err := s.sessions.Find(c.r.Context(), s.deps.Store, id, s.deps.Clock())
	if store.IsNotFound(err) {
		return nil, fail("session", "Session has expired or is invalid."), nil
	}
	if err != nil {
		return nil, nil, err
	}
	if csrf && c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		token := c.r.Header.Get("X-CSRF-Token")
		if token == "" {
			token, _ = c.str("csrf_token")
		}
		if !auth.CheckCSRF(id, token) {
			return nil, fail("session", "Invalid session"), nil
		}
	}
	if sess.User == nil {
		return nil, fail("user", "User not found: "+sess.Credential.Name), nil
	}
	if !sess.User.Active {
		return nil, fail("session", "User account is disabled: "+sess.User.UserName), nil
	}
	// A password change made in this session keeps it.
	c.r = c.r.WithContext(auth.Keeping(c.r.Context(), sess.Credential))
	return &principal{sess: sess, user: sess.User}, nil, nil
}

// require authenticates and answers the failure itself; ok=false means the
// request is done.
func (s *server) require(c *call) (*principal, bool) {
	p, apiErr, err := s.authenticate(c)
	if err != nil {
		s.failed(c, err)
		return nil, false
	}
	if apiErr != nil {
		c.send(apiErr)
		return nil, false
	}
	return p, true
}

// userNamePattern is pixl-server-user's username rule plus "@": SCIM user
// names are often e-mail addresses, and those users must be able to log in.
var userNamePattern = regexp.MustCompile(`^[\w\-.@]+$`)

// login is POST /api/user/login.
func (s *server) login(c *call) {
	ctx := c.r.Context()
	username, _ := c.str("username")
	password, _ := c.str("password")
	switch {
	case s.origins.Check(c.r) != nil: // the session cookie it sets would act for that page
		c.send(fail("login", "Cross-origin login refused."))
		return
	case username == "":
		c.send(fail("api", "Missing parameter: username"))
		return
	case !userNamePattern.MatchString(username):
		c.send(fail("api", "Malformed parameter: username"))
		return
	case password == "":
		c.send(fail("api", "Missing parameter: password"))
		return
	}
	sess, err := s.sessions.Login(ctx, s.deps.Store, s.deps.Passwords, s.deps.Clock(), auth.LoginRequest{
		UserName: username, Password: password, UserAgent: c.r.UserAgent(),
		Actor: legacyapi.Actor(c.r, Dialect, username),
	})
	switch {
	case errors.Is(err, auth.ErrBadLogin):
		c.send(fail("login", "Username or password incorrect."))
	case errors.Is(err, auth.ErrLocked):
		c.send(fail("login", "Account is locked out.  Please reset your password to unlock it."))
	case errors.Is(err, auth.ErrDisabled):
		c.send(fail("login", "User account is disabled: "+username))
	case err != nil:
		s.failed(c, err)
	default:
		http.SetCookie(c.w, auth.SessionCookie(c.r, sessionCookie, sess.ID, s.cookiePath, s.sessions.Lifetime()))
		s.sendSession(c, sess)
	}
}

// sendSession answers a login or resumed session: the user and the CSRF
// token; the session id itself travels only in the cookie.
func (s *server) sendSession(c *call, sess *auth.Session) {
	user, err := s.userRecord(c.r.Context(), sess.User, nil)
	if err != nil {
		s.failed(c, err)
		return
	}
	c.send(map[string]any{"code": 0, "username": sess.User.UserName, "user": user,
		"csrf_token": auth.CSRFToken(sess.ID)})
}

// resumeSession is POST /api/user/resume_session.
func (s *server) resumeSession(c *call) {
	id := c.sessionID()
	if id == "" {
		c.send(fail("session", "No Session ID or API Key could be found"))
		return
	}
	p, apiErr, err := s.sessionPrincipal(c, id, false)
	switch {
	case err != nil:
		s.failed(c, err)
	case apiErr != nil:
		c.send(apiErr)
	default:
		s.sendSession(c, p.sess)
	}
}

// logout is POST /api/user/logout: it ends the session and drops the cookie.
func (s *server) logout(c *call) {
	id := c.sessionID()
	if strings.TrimSpace(id) == "" {
		c.send(fail("session", "No Session ID or API Key could be found"))
		return
	}
	p, apiErr, err := s.sessionPrincipal(c, id, false)
	if err != nil {
		s.failed(c, err)
		return
	}
	if apiErr != nil {
		c.send(apiErr)
		return
	}
	ctx := c.r.Context()
	err = s.deps.Store.Write(ctx, legacyapi.Actor(c.r, Dialect, p.name()), func(tx store.Tx) error {
		return s.sessions.End(ctx, tx, p.sess)
	})
	if err != nil {
		s.failed(c, err)
		return
	}
	http.SetCookie(c.w, auth.SessionCookie(c.r, sessionCookie, "", s.cookiePath, 0))
	c.send(map[string]any{"code": 0})
}
