// Package xstudio serves XStudio's (XQual) command-style REST API for users
// on the shared store: /xqual/api?command=<name> and /xqual/api/<name>,
// authenticated by a JSESSIONID cookie, answering {"result":"success"|
// "failure"} envelopes (see ../README.md, section XStudio).
//
// Teams are the store's groups; profiles (named sets of module rights) and
// the folders of the user tree are store objects; a user's profile and its
// (profile, team) roles are SCIM roles of the user.
package xstudio

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// Dialect names this API in credentials, logs and the activity log.
const Dialect = "xstudio"

// Config is the dialect's configuration (yaml key legacy.xstudio):
//
//	legacy:
//	  xstudio:
//	    enabled: true
//	    prefix: ""
//	    admin_password: "change-me"  # creates the built-in admin on first start
//	    admin_password_file: ""      # … or read it from this file
//	    admin_email: admin@example.com
//	    session_idle: 30m            # idle timeout, like a servlet session
//	    session_max: 12h             # a session ends 12 hours after its login
//	    lockout_failures: 5
//	    lockout_window: 1h
//	    allowed_origins: []         # browser origins besides the server's own
type Config struct {
	legacyapi.DialectConfig `yaml:",inline"`
	// AdminPassword, when set, creates the built-in user "admin" as the
	// owner on first start if there is no owner yet (see EnsureAdmin).
	AdminPassword string `yaml:"admin_password"`
	// AdminPasswordFile reads that password from a file instead (first
	// line), to keep it out of the configuration.
	AdminPasswordFile string `yaml:"admin_password_file"`
	// AdminEmail is the e-mail the created admin gets.
	AdminEmail string `yaml:"admin_email"`
	// SessionIdle is how long an unused session lives (default 30m, like a
	// servlet session); using it extends it.
	SessionIdle time.Duration `yaml:"session_idle"`
	// SessionTTL is the older name of SessionIdle, read when SessionIdle
	// is not set.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// SessionMax ends a session this long after its login, however used
	// (default 12h).
	SessionMax time.Duration `yaml:"session_max"`
	// LockoutFailures locks an address out of an account after more failed
	// logins than this within LockoutWindow (default 5; negative disables).
	LockoutFailures int           `yaml:"lockout_failures"`
	LockoutWindow   time.Duration `yaml:"lockout_window"`
	// AllowedOrigins are the origins (https://ui.example.com) whose pages
	// may send commands besides the server's own: a browser sends the
	// JSESSIONID cookie with any page's request, so a POST a browser says
	// comes from another origin is refused (legacyapi.OriginCheck).
	AllowedOrigins []string `yaml:"allowed_origins"`
	// LockoutDelay and LockoutMaxDelay bound the delay that failures
	// spread over addresses add (default 1s, doubling, up to 15s).
	LockoutDelay    time.Duration `yaml:"lockout_delay"`
	LockoutMaxDelay time.Duration `yaml:"lockout_max_delay"`
}

// NewKey returns a new API key and its public identifier length. XStudio
// authenticates by session only; keys exist for the shared CLI contract.
func NewKey() (token string, identifierLen int) { return auth.NewToken("xsk_"), 8 }

const sessionCookie = "JSESSIONID"

type server struct {
	cfg        Config
	deps       legacyapi.Deps
	log        *slog.Logger
	sessions   *auth.Sessions
	cookiePath string
	origins    *legacyapi.OriginCheck
}

// Mount adds the dialect's routes to r (at the vendor's paths, below
// cfg.Prefix when set) and creates the built-in admin when configured.
func Mount(r *mux.Router, cfg Config, deps legacyapi.Deps) {
	if !cfg.On() {
		return
	}
	s := newServer(cfg, deps)
	password, err := cfg.adminPassword()
	if err != nil {
		s.log.Error("cannot read the built-in admin's password", "err", err)
	}
	if password != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := EnsureAdmin(ctx, deps.Store, s.log, password, cfg.AdminEmail); err != nil {
			s.log.Error("cannot create the built-in admin", "err", err)
		}
	}
	base := r
	if cfg.Prefix != "" {
		base = r.PathPrefix(cfg.Prefix).Subrouter()
	}
	base.HandleFunc("/xqual/api", s.serve)
	base.HandleFunc("/xqual/api/{command}", s.serve)
}

// adminPassword returns the configured admin password, from the file when
// one is named.
func (c Config) adminPassword() (string, error) {
	if c.AdminPasswordFile == "" {
		return c.AdminPassword, nil
	}
	b, err := os.ReadFile(c.AdminPasswordFile)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line), nil
}

func newServer(cfg Config, deps legacyapi.Deps) *server {
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	s := &server{cfg: cfg, deps: deps, log: log.With("dialect", Dialect),
		cookiePath: strings.TrimSuffix(cfg.Prefix, "/") + "/xqual", sessions: cfg.sessions()}
	var err error
	if s.origins, err = legacyapi.NewOriginCheck(cfg.AllowedOrigins); err != nil {
		// config.Validate refuses this before serve starts; a caller that
		// skipped it still gets the same-origin rule.
		s.log.Error("legacy.xstudio.allowed_origins", "err", err)
		s.origins, _ = legacyapi.NewOriginCheck(nil)
	}
	return s
}

// sessions are servlet-style sessions: a 30-minute idle timeout that use
// extends, ended 12 hours after the login, an address locked out of an
// account after more than 5 failures in an hour, unless configured
// otherwise.
func (c Config) sessions() *auth.Sessions {
	idle := c.SessionIdle
	if idle == 0 {
		idle = c.SessionTTL
	}
	s := legacyapi.SessionConfig{Idle: idle, Absolute: c.SessionMax, LockoutFailures: c.LockoutFailures,
		LockoutWindow: c.LockoutWindow, LockoutDelay: c.LockoutDelay, LockoutMaxDelay: c.LockoutMaxDelay}.
		Sessions(Dialect, legacyapi.SessionConfig{Idle: 30 * time.Minute, Absolute: 12 * time.Hour, LockoutWindow: time.Hour})
	s.NewID = servletID
	return s
}

// servletID looks like a servlet container's session id: 32 upper-case hex
// characters (128 random bits).
func servletID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// call is one command: its merged parameters, its multipart form (for the
// form commands) and, once authenticated, its session.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	ctx    context.Context
	params url.Values
	form   *multipart.Form
	sess   *auth.Session
	user   *store.User
	rights rights
	// top is the account shown as "admin" (nil: none), read once per
	// command by topAccount.
	top     *store.User
	topRead bool
}

// command is one entry of the command table.
type command struct {
	// post: a setter, which must come as POST.
	post bool
	// public: needs no session.
	public bool
	run    func(s *server, c *call) (map[string]any, error)
}

var commands = map[string]command{
	"authenticate": {post: true, public: true, run: (*server).authenticate},
	"logout":       {post: true, run: (*server).logout},

	"getUsersTree":         {run: (*server).getUsersTree},
	"getUserForm":          {run: (*server).getUserForm},
	"getUserDetails":       {run: (*server).getUserDetails},
	"getUserTeams":         {run: (*server).getUserTeams},
	"getEncryptedPassword": {run: (*server).notSupported},
	"getEncryptedString":   {run: (*server).notSupported},
	"getUserActionRights":  {run: (*server).getUserActionRights},
	"getUserAccessRights":  {run: (*server).getUserAccessRights},
	"getProfiles":          {run: (*server).getProfiles},
	"getProfile":           {run: (*server).getProfile},
	"getUserProfile":       {run: (*server).getUserProfile},
	"getUserRoles":         {run: (*server).getUserRoles},
	"getTeams":             {run: (*server).getTeams},

	"createUser":         {post: true, run: (*server).createUser},
	"updateUserDetails":  {post: true, run: (*server).updateUserDetails},
	"updateUserTeams":    {post: true, run: (*server).updateUserTeams},
	"setUserProfile":     {post: true, run: (*server).setUserProfile},
	"moveUsers":          {post: true, run: (*server).moveUsers},
	"deleteUsers":        {post: true, run: (*server).deleteUsers},
	"updateUserPassword": {post: true, run: (*server).updateUserPassword},
	"resetUserPassword":  {post: true, run: (*server).resetUserPassword},
	"createProfile":      {post: true, run: (*server).createProfile},
	"updateProfile":      {post: true, run: (*server).updateProfile},
	"insertUserRoles":    {post: true, run: (*server).insertUserRoles},
	"deleteUserRole":     {post: true, run: (*server).deleteUserRole},
	"createTeam":         {post: true, run: (*server).createTeam},
	"createFolder":       {post: true, run: (*server).createFolder},
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	c := &call{w: w, r: r, ctx: r.Context()}
	out, err := s.dispatch(c)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	if out == nil {
		out = map[string]any{}
	}
	out["result"] = "success"
	httpjson.Write(w, http.StatusOK, out)
}

func (s *server) dispatch(c *call) (map[string]any, error) {
	if err := c.parse(s.deps.BodyLimit()); err != nil {
		return nil, err
	}
	name := c.command()
	if name == "" {
		return nil, failf("missing parameter: command")
	}
	cmd, ok := commands[name]
	if !ok {
		return nil, failf("unknown command: %s", name)
	}
	switch c.r.Method {
	case http.MethodPost:
		// Every setter, and authenticate (which sets the cookie): a page
		// of another site must not act with the browser's session.
		if s.origins.Check(c.r) != nil {
			return nil, failf("cross-origin request refused")
		}
	case http.MethodGet, http.MethodHead:
		if cmd.post {
			return nil, failf("this command requires POST")
		}
	default:
		return nil, failf("unsupported method: %s", c.r.Method)
	}
	if !cmd.public {
		if err := s.authenticateCall(c); err != nil {
			return nil, err
		}
	}
	return cmd.run(s, c)
}

// command is the name of the command called: the path's last segment, else
// the command parameter (from the query or the form body).
func (c *call) command() string {
	if name := mux.Vars(c.r)["command"]; name != "" {
		return name
	}
	return c.params.Get("command")
}

// parse merges the query string with form fields of a POST body (query
// first) and keeps a multipart form for the form commands.
func (c *call) parse(limit int64) error {
	c.params = c.r.URL.Query()
	if c.r.Method != http.MethodPost || c.r.ContentLength == 0 {
		return nil
	}
	c.r.Body = http.MaxBytesReader(c.w, c.r.Body, limit)
	mediaType, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	var fields url.Values
	switch mediaType {
	case "multipart/form-data":
		if err := c.r.ParseMultipartForm(limit); err != nil {
			return tooLargeOr(err, "malformed multipart body")
		}
		c.form, fields = c.r.MultipartForm, c.r.MultipartForm.Value
	case "application/x-www-form-urlencoded":
		if err := c.r.ParseForm(); err != nil {
			return tooLargeOr(err, "malformed form body")
		}
		fields = c.r.PostForm
	default:
		return nil
	}
	for k, vs := range fields {
		if !c.params.Has(k) {
			c.params[k] = vs
		}
	}
	return nil
}

// authenticateCall loads the JSESSIONID session and the rights of its user.
func (s *server) authenticateCall(c *call) error {
	ck, err := c.r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return errNotAuthenticated
	}
	sess, err := s.sessions.Find(c.ctx, s.deps.Store, ck.Value, s.deps.Clock())
	if store.IsNotFound(err) {
		return errNotAuthenticated
	}
	if err != nil {
		return err
	}
	if sess.User == nil || !sess.User.Active {
		return errNotAuthenticated
	}
	c.sess, c.user = sess, sess.User
	// A password change made in this session keeps it (a servlet session
	// outlives its user's password change).
	c.ctx = auth.Keeping(c.ctx, sess.Credential)
	c.rights, err = s.rightsOf(c.ctx, s.deps.Store, sess.User)
	return err
}

// authenticate is POST ?command=authenticate&username=…&password=….
func (s *server) authenticate(c *call) (map[string]any, error) {
	username, password := c.params.Get("username"), c.params.Get("password")
	if username == "" {
		return nil, failf("missing parameter: username")
	}
	if password == "" {
		return nil, failf("missing parameter: password")
	}
	account := username
	if store.IsReservedUserName(username) { // the built-in admin, whatever its userName
		u, err := c.userByName(s.deps.Store, username)
		if err != nil && !store.IsNotFound(err) {
			return nil, err
		}
		if u != nil {
			account = u.UserName
		}
	}
	sess, err := s.sessions.Login(c.ctx, s.deps.Store, s.deps.Passwords, s.deps.Clock(), auth.LoginRequest{
		UserName: account, Password: password, UserAgent: c.r.UserAgent(),
		Actor: legacyapi.Actor(c.r, Dialect, username),
	})
	switch {
	case errors.Is(err, auth.ErrBadLogin):
		return nil, failf("password does not match user")
	case errors.Is(err, auth.ErrLocked):
		return nil, failf("account is locked")
	case errors.Is(err, auth.ErrDisabled):
		return nil, failf("user is disabled")
	case err != nil:
		return nil, err
	}
	http.SetCookie(c.w, auth.SessionCookie(c.r, sessionCookie, sess.ID, s.cookiePath, 0))
	return map[string]any{"userId": sess.User.Key, "userEmail": sess.User.PrimaryEmail(), "local": locale(sess.User)}, nil
}

// locale is the user's locale in Java form (en_US).
func locale(u *store.User) string {
	l := u.Locale
	if l == "" {
		l = u.PreferredLanguage
	}
	if l == "" {
		return "en_US"
	}
	return strings.ReplaceAll(l, "-", "_")
}

// logout is POST ?command=logout: it ends the session.
func (s *server) logout(c *call) (map[string]any, error) {
	err := s.deps.Store.Write(c.ctx, c.actor(), func(tx store.Tx) error {
		return s.sessions.End(c.ctx, tx, c.sess)
	})
	if err != nil {
		return nil, err
	}
	http.SetCookie(c.w, auth.SessionCookie(c.r, sessionCookie, "", s.cookiePath, 0))
	return nil, nil
}

func (c *call) actor() store.Actor {
	name := ""
	if c.user != nil {
		name = c.user.UserName
	}
	return legacyapi.Actor(c.r, Dialect, name)
}

// notSupported answers the commands that would reveal XStudio's private
// cipher: the adapter has none, and never hands out a stored secret.
func (s *server) notSupported(*call) (map[string]any, error) {
	return nil, failf("not supported")
}

// id reads a required integer parameter.
func (c *call) id(name string) (int64, error) {
	v := strings.TrimSpace(c.params.Get(name))
	if v == "" {
		return 0, failf("missing parameter: %s", name)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, failf("invalid parameter: %s", name)
	}
	return n, nil
}

// ids reads a comma-separated id list ("12, 15,18"); empty=true allows an
// empty list when the parameter is present.
func (c *call) ids(name string, empty bool) ([]int64, error) {
	if !c.params.Has(name) {
		return nil, failf("missing parameter: %s", name)
	}
	var out []int64
	seen := map[int64]bool{}
	for _, part := range strings.Split(c.params.Get(name), ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.ParseInt(part, 10, 64)
		if err != nil || n <= 0 {
			return nil, failf("invalid parameter: %s", name)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(out) == 0 && !empty {
		return nil, failf("missing parameter: %s", name)
	}
	return out, nil
}
