// Package xpdev serves the XP-Dev.com Users API (new platform,
// /api/v1/user…) on the shared store: bare JSON user objects of exactly
// five keys, X-XPDevToken authentication, {"message": …} errors. What the
// vendor leaves open and the choices made here are in README.md; the user
// mapping is in ../README.md.
package xpdev

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// Dialect names this API in credentials, logs and the activity log.
const Dialect = "xpdev"

// TokenHeader carries the API token on every request.
const TokenHeader = "X-XPDevToken"

// Config is the dialect's configuration (yaml key legacy.xpdev):
//
//	xpdev:
//	  enabled: true
//	  prefix: ""
//	  default_timezone: Europe/London   # shown for users without one
type Config struct {
	legacyapi.DialectConfig `yaml:",inline"`
	// DefaultTimezone is the timezone of users that have none, and of new
	// users when their creator has none; default "UTC".
	DefaultTimezone string `yaml:"default_timezone"`
}

// NewKey returns a new opaque API token (32 letters and digits); its first
// 8 characters identify it in listings.
func NewKey() (token string, identifierLen int) { return auth.RandomString(32), 8 }

// The userRole values, case-sensitive.
const (
	roleUser  = "User"
	roleAdmin = "Administrator"
	roleOwner = "Owner"
)

type server struct {
	cfg  Config
	deps legacyapi.Deps
	log  *slog.Logger
}

// Mount adds the dialect's routes to r (at the vendor's paths, below
// cfg.Prefix when set).
func Mount(r *mux.Router, cfg Config, deps legacyapi.Deps) {
	if !cfg.On() {
		return
	}
	if cfg.DefaultTimezone == "" {
		cfg.DefaultTimezone = "UTC"
	}
	s := &server{cfg: cfg, deps: deps, log: deps.Log}
	if s.log == nil {
		s.log = slog.Default()
	}
	notAllowed := func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusMethodNotAllowed, "Method not allowed")
	}
	api := r.PathPrefix(cfg.Prefix + "/api/v1/user").Subrouter()
	api.HandleFunc("", legacyapi.Methods(map[string]http.HandlerFunc{
		http.MethodGet:  s.authed(false, s.current),
		http.MethodPost: s.authed(true, s.create),
	}, notAllowed))
	// "all" is matched before {id}: it is not an id.
	api.HandleFunc("/all", legacyapi.Methods(map[string]http.HandlerFunc{http.MethodGet: s.authed(false, s.all)}, notAllowed))
	api.HandleFunc("/{id}", legacyapi.Methods(map[string]http.HandlerFunc{
		http.MethodGet:    s.authed(false, s.get),
		http.MethodDelete: s.authed(true, s.delete),
	}, notAllowed))
	api.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fail(w, http.StatusNotFound, "Not found") })
}

// user is the vendor's user object: exactly these five keys.
type user struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Timezone string `json:"timezone"`
	Email    string `json:"email"`
	UserRole string `json:"userRole"`
}

// roleOf maps the privilege onto userRole; a moderator (read-only) is a
// User here, as XP-Dev has no read-only administrator.
func roleOf(u *store.User) string {
	switch store.PrivilegeOf(u) {
	case store.PrivilegeOwner:
		return roleOwner
	case store.PrivilegeAdmin:
		return roleAdmin
	}
	return roleUser
}

func (s *server) render(u *store.User) user {
	tz := u.Timezone
	if tz == "" {
		tz = s.cfg.DefaultTimezone
	}
	return user{ID: u.Key, Username: u.UserName, Timezone: tz, Email: u.PrimaryEmail(), UserRole: roleOf(u)}
}

// caller is the token's user.
type caller struct {
	user *store.User
	cred *store.Credential
}

func (c *caller) manager() bool { return roleOf(c.user) != roleUser }

type handler func(w http.ResponseWriter, r *http.Request, c *caller)

// authed checks X-XPDevToken (401) and, for writes, the key's write scope
// (403), turning panics into 500s.
func (s *server) authed(write bool, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				s.failed(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		token := strings.TrimSpace(r.Header.Get(TokenHeader))
		if token == "" {
			fail(w, http.StatusUnauthorized, "Authentication required")
			return
		}
		cred, u, err := auth.LookupKey(r.Context(), s.deps.Store, Dialect, token)
		if err != nil && !store.IsNotFound(err) {
			s.failed(w, r, err)
			return
		}
		if err != nil || u == nil || !u.Active {
			fail(w, http.StatusUnauthorized, "Invalid API token")
			return
		}
		if write && !auth.HasScope(cred, "write") {
			fail(w, http.StatusForbidden, msgDenied)
			return
		}
		h(w, r, &caller{user: u, cred: cred})
	}
}

func (s *server) actor(r *http.Request, c *caller) store.Actor {
	return legacyapi.Actor(r, Dialect, c.user.UserName+" ("+c.cred.Identifier+")")
}

func (s *server) current(w http.ResponseWriter, r *http.Request, c *caller) {
	httpjson.Write(w, http.StatusOK, s.render(c.user))
}

// target loads the {id} user; a User may read only itself.
func (s *server) target(w http.ResponseWriter, r *http.Request, c *caller) (*store.User, bool) {
	id, ok := legacyapi.ParseKey(mux.Vars(r)["id"])
	if !ok {
		fail(w, http.StatusNotFound, msgNotFound)
		return nil, false
	}
	if !c.manager() && id != c.user.Key {
		fail(w, http.StatusForbidden, msgDenied)
		return nil, false
	}
	u, err := s.deps.Store.GetUserByKey(r.Context(), id)
	if err != nil {
		s.failed(w, r, err)
		return nil, false
	}
	return u, true
}

func (s *server) get(w http.ResponseWriter, r *http.Request, c *caller) {
	if u, ok := s.target(w, r, c); ok {
		httpjson.Write(w, http.StatusOK, s.render(u))
	}
}

// all streams every user, by id, a keyset page at a time.
func (s *server) all(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.manager() {
		fail(w, http.StatusForbidden, msgDenied)
		return
	}
	ctx := r.Context()
	q := store.Query{UseCursor: true, Limit: 1000}
	page, err := s.deps.Store.ListUsers(ctx, q)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	w.Write([]byte("["))
	first := true
	for {
		for _, u := range page.Users {
			if !first {
				w.Write([]byte(","))
			}
			first = false
			if err := enc.Encode(s.render(u)); err != nil {
				return // the client went away
			}
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
		if page, err = s.deps.Store.ListUsers(ctx, q); err != nil {
			// The status is sent; an unterminated array tells the client.
			s.log.ErrorContext(ctx, "xpdev: listing users failed midway", "err", err)
			return
		}
	}
	w.Write([]byte("]\n"))
}

// createBody is POST /user's body; fields are raw to tell types apart.
type createBody struct {
	Username json.RawMessage `json:"username"`
	Email    json.RawMessage `json:"email"`
	Password json.RawMessage `json:"password"`
	UserRole json.RawMessage `json:"userRole"`
	Timezone json.RawMessage `json:"timezone"`
}

// text decodes an optional string field: present=false for absent/null.
func text(raw json.RawMessage) (v string, present, ok bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, true
	}
	err := json.Unmarshal(raw, &v)
	return v, true, err == nil
}

// parseCreate checks a create body; the first problem is the answer.
func (s *server) parseCreate(b createBody, creator *store.User) (*store.User, string, error) {
	vals := map[string]string{}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"username", b.Username}, {"email", b.Email}, {"userRole", b.UserRole}} {
		v, present, ok := text(f.raw)
		if !ok {
			return nil, "", &badRequest{400, f.name + " must be a string"}
		}
		if !present || strings.TrimSpace(v) == "" {
			return nil, "", &badRequest{400, f.name + " is required"}
		}
		vals[f.name] = strings.TrimSpace(v)
	}
	name, email, role := vals["username"], vals["email"], vals["userRole"]
	if len(name) > 255 || strings.ContainsAny(name, " \t\r\n") {
		return nil, "", &badRequest{400, "Invalid username"}
	}
	if !legacyapi.ValidEmail(email) {
		return nil, "", &badRequest{400, "Invalid email"}
	}
	if role != roleUser && role != roleAdmin && role != roleOwner {
		return nil, "", &badRequest{400, "Invalid userRole"}
	}
	pw, _, ok := text(b.Password)
	if !ok {
		return nil, "", &badRequest{400, "password must be a string"}
	}
	tz, tzPresent, ok := text(b.Timezone)
	if !ok {
		return nil, "", &badRequest{400, "timezone must be a string"}
	}
	if tzPresent {
		if _, err := time.LoadLocation(tz); err != nil || tz == "" || tz == "Local" {
			return nil, "", &badRequest{400, "Invalid timezone"}
		}
	} else {
		tz = creator.Timezone // the account's timezone, as the vendor would
	}
	if role == roleOwner {
		return nil, "", &badRequest{403, msgDenied} // there is one owner; the API does not make another
	}
	u := &store.User{UserName: name, Active: true, Timezone: tz}
	legacyapi.SetPrimaryEmail(u, email)
	if role == roleAdmin {
		store.SetPrivilege(u, store.PrivilegeAdmin)
	}
	if err := store.CheckChange(store.PrivilegeOf(creator), nil, u); err != nil {
		return nil, "", err
	}
	return u, pw, nil
}

func (s *server) create(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.manager() {
		fail(w, http.StatusForbidden, msgDenied)
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		fail(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	raw, err := httpjson.ReadBody(w, r, s.deps.BodyLimit())
	if errors.Is(err, httpjson.ErrBodyTooLarge) {
		fail(w, http.StatusRequestEntityTooLarge, "Request body too large")
		return
	}
	var b createBody
	if err != nil || json.Unmarshal(bytes.TrimSpace(raw), &b) != nil {
		fail(w, http.StatusBadRequest, "Invalid JSON")
		return
	}
	u, pw, err := s.parseCreate(b, c.user)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	// No password: a random one nobody knows (the vendor mails it; there
	// is no mail here, an administrator resets it through another door).
	if pw != "" {
		u.PasswordHash, err = auth.HashPassword(pw)
		u.NewPassword = store.Secret(pw)
	} else {
		u.PasswordHash, err = auth.RandomPasswordHash()
	}
	if err != nil {
		s.failed(w, r, err)
		return
	}
	ctx := r.Context()
	err = s.deps.Store.Write(ctx, s.actor(r, c), func(tx store.Tx) error {
		// The store keeps userName unique (a taken one is its conflict);
		// e-mail uniqueness is the dialect's, checked after so that a taken
		// username is reported first.
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		return emailUnique(ctx, tx, u)
	})
	if err != nil {
		s.failed(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, s.render(u))
}

// emailUnique refuses a user whose e-mail another user has (409).
func emailUnique(ctx context.Context, tx store.Reader, u *store.User) error {
	taken, err := legacyapi.EmailTaken(ctx, tx, u.PrimaryEmail(), u.Key)
	if err != nil {
		return err
	}
	if taken {
		return &badRequest{http.StatusConflict, msgEmailExists}
	}
	return nil
}

func (s *server) delete(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.manager() {
		fail(w, http.StatusForbidden, msgDenied)
		return
	}
	u, ok := s.target(w, r, c)
	if !ok {
		return
	}
	if u.Key == c.user.Key || roleOf(u) == roleOwner {
		fail(w, http.StatusForbidden, msgDenied)
		return
	}
	err := s.deps.Store.Write(r.Context(), s.actor(r, c), func(tx store.Tx) error {
		target, err := tx.GetUser(r.Context(), u.ID)
		if err != nil {
			return err
		}
		// The owner was refused above as XP-Dev does; the rule every door
		// shares also keeps an administrator from a moderator's hands.
		if err := store.CheckDelete(store.PrivilegeOf(c.user), target); err != nil {
			return err
		}
		return tx.DeleteUser(r.Context(), u.ID)
	})
	if err != nil {
		s.failed(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
