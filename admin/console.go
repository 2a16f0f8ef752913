package admin

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/store"
)

// ConsolePath is where the web console is served.
const ConsolePath = "/admin/ui"

const (
	// sessionCookie carries a console session id; the store keeps only its
	// hash, as a credential of kind auth.SessionKind(consoleDialect).
	sessionCookie  = "scimbridge_console"
	consoleDialect = "console"
	// consoleIdle is a session's idle timeout (use extends it), consoleMax
	// its absolute lifetime.
	consoleIdle = 2 * time.Hour
	consoleMax  = 12 * time.Hour
	// formLimit bounds a console form's body.
	formLimit = 64 << 10
	// securityPolicy keeps every script, style, image and form target on
	// this origin and the console out of frames.
	securityPolicy = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

// The console's templates and its stylesheet and script, built in: the
// console needs no build step and no files beside the binary.
var (
	//go:embed templates/*.html
	templateFiles embed.FS
	//go:embed assets
	assetFiles embed.FS
)

// pageTemplate is one page: the layout with the page's content.
type pageTemplate = template.Template

// pageNames are the console's pages, one template file each.
var pageNames = []string{"login", "error", "overview", "activity", "users", "user", "groups", "group", "tokens"}

func (a *API) initConsole() {
	a.sessions = &auth.Sessions{Dialect: consoleDialect, Idle: consoleIdle, Absolute: consoleMax}
	a.traffic = &traffic{}
	a.runs = &runHistory{}
	funcs := template.FuncMap{
		"when": formatTime,
		"ago":  func(t time.Time) string { return relativeTime(a.now(), t) },
		"secs": func(d time.Duration) string { return formatSeconds(d) },
		"kind": kindLabel,
		"join": strings.Join,
	}
	a.pages = map[string]*pageTemplate{}
	for _, name := range pageNames {
		a.pages[name] = template.Must(template.New("layout.html").Funcs(funcs).
			ParseFS(templateFiles, "templates/layout.html", "templates/partials.html", "templates/"+name+".html"))
	}
	assets, _ := fs.Sub(assetFiles, "assets")
	m := http.NewServeMux()
	files := http.StripPrefix(ConsolePath+"/assets/", http.FileServerFS(assets))
	m.HandleFunc("GET "+ConsolePath+"/assets/{file}", func(w http.ResponseWriter, r *http.Request) { files.ServeHTTP(w, r) })
	m.HandleFunc("GET "+ConsolePath+"/login", a.loginPage)
	m.HandleFunc("POST "+ConsolePath+"/login", a.login)
	m.Handle("POST "+ConsolePath+"/logout", a.signedIn(a.logout))
	m.Handle("GET "+ConsolePath+"/{$}", a.signedIn(a.overviewPage))
	m.Handle("GET "+ConsolePath+"/activity", a.signedIn(a.activityPage))
	m.Handle("GET "+ConsolePath+"/users", a.signedIn(a.usersPage))
	m.Handle("GET "+ConsolePath+"/users/{id}", a.signedIn(a.userPage))
	m.Handle("GET "+ConsolePath+"/groups", a.signedIn(a.groupsPage))
	m.Handle("GET "+ConsolePath+"/groups/{id}", a.signedIn(a.groupPage))
	m.Handle("GET "+ConsolePath+"/tokens", a.signedIn(a.tokensPage))
	m.Handle("POST "+ConsolePath+"/tokens", a.signedIn(a.createToken))
	m.Handle("POST "+ConsolePath+"/tokens/{id}/revoke", a.signedIn(a.revokeToken))
	m.Handle("POST "+ConsolePath+"/keys/{id}/revoke", a.signedIn(a.revokeKey))
	m.HandleFunc(ConsolePath, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, ConsolePath+"/", http.StatusSeeOther)
	})
	m.HandleFunc(ConsolePath+"/", func(w http.ResponseWriter, r *http.Request) {
		a.consoleError(w, r, http.StatusNotFound, "There is no console page at "+r.URL.Path+".")
	})
	a.console = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		m.ServeHTTP(w, r)
	})
}

func isConsole(r *http.Request) bool {
	return r.URL.Path == ConsolePath || strings.HasPrefix(r.URL.Path, ConsolePath+"/")
}

// setSecurityHeaders is on every console answer: no script or style from
// elsewhere, no framing, and nothing kept in caches (pages show tokens
// once, and who may see what).
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", securityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

// sameOrigin reports whether a state-changing request comes from a page of
// this console: its Origin (or, when a browser sends none, its Referer)
// names this host, over https when the request itself came over TLS. A
// reverse proxy in front must pass the Host header on.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" || src == "null" {
		return false
	}
	u, err := url.Parse(src)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if r.TLS != nil && u.Scheme != "https" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// consoleSession is the signed-in operator of a console request.
type consoleSession struct {
	session *auth.Session
	csrf    string
}

type consoleKey struct{}

func sessionOf(r *http.Request) *consoleSession {
	s, _ := r.Context().Value(consoleKey{}).(*consoleSession)
	return s
}

// sessionData is what a console session remembers besides its id: the
// hash of the admin token that opened it, so that the session ends when
// that token is revoked (or, for the configured token, changed).
type sessionData struct {
	TokenHash string `json:"tokenHash"`
}

// currentSession returns the request's live console session, or nil.
func (a *API) currentSession(r *http.Request) (*auth.Session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	sess, err := a.sessions.Find(r.Context(), a.st, c.Value, a.now())
	if store.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d sessionData
	_ = json.Unmarshal([]byte(sess.Credential.Data), &d)
	ok, err := a.adminTokenLive(r.Context(), d.TokenHash)
	if err != nil || !ok {
		return nil, err
	}
	return sess, nil
}

// adminTokenLive reports whether the admin token with this hash still
// opens /admin.
func (a *API) adminTokenLive(ctx context.Context, hash string) (bool, error) {
	if hash == "" {
		return false, nil
	}
	if a.staticHash != "" && auth.Equal(hash, a.staticHash) {
		return true, nil
	}
	_, err := a.st.FindCredential(ctx, auth.AdminTokenKind, hash)
	if store.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// signedIn lets only requests with a live console session through: others
// are sent to the login page (reads) or refused (writes). A write must
// also come from this console's own pages (Origin) and carry the
// session's CSRF token.
func (a *API) signedIn(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := a.currentSession(r)
		if err != nil {
			a.consoleFail(w, r, "console session", err)
			return
		}
		read := r.Method == http.MethodGet || r.Method == http.MethodHead
		if sess == nil {
			if read {
				http.Redirect(w, r, ConsolePath+"/login", http.StatusSeeOther)
				return
			}
			a.consoleError(w, r, http.StatusUnauthorized, "Your console session has ended: log in again.")
			return
		}
		cs := &consoleSession{session: sess, csrf: auth.CSRFToken(sess.ID)}
		if !read {
			if !sameOrigin(r) {
				a.consoleError(w, r, http.StatusForbidden, "Refused: the request did not come from this console.")
				return
			}
			if !a.parseForm(w, r) {
				return
			}
			if !auth.CheckCSRF(sess.ID, r.PostForm.Get("csrf")) {
				a.consoleError(w, r, http.StatusForbidden, "Refused: the form's CSRF token is missing or wrong. Reload the page and try again.")
				return
			}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), consoleKey{}, cs)))
	})
}

func (a *API) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, formLimit)
	if err := r.ParseForm(); err != nil {
		a.consoleError(w, r, http.StatusBadRequest, "The form could not be read.")
		return false
	}
	return true
}

// consoleActor is who a console request acts as: the admin token holder
// that opened the session.
func consoleActor(r *http.Request) store.Actor {
	name := ""
	if s := sessionOf(r); s != nil {
		name = s.session.Credential.Name
	}
	return store.Actor{Door: "admin", Principal: name, Address: httpjson.ClientIP(r)}
}

func (a *API) loginPage(w http.ResponseWriter, r *http.Request) {
	v := view{Title: "Log in"}
	if r.URL.Query().Get("bye") != "" {
		v.Flash = "You are logged out."
	}
	a.render(w, r, http.StatusOK, "login", v)
}

// login exchanges an admin token for a console session: the token is
// checked like a bearer token and never kept; the browser gets a random
// session id in an HttpOnly, SameSite=Strict cookie.
func (a *API) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		a.consoleError(w, r, http.StatusForbidden, "Refused: the request did not come from this console.")
		return
	}
	if !a.parseForm(w, r) {
		return
	}
	ctx := r.Context()
	token := strings.TrimSpace(r.PostForm.Get("token"))
	holder, err := a.tokens.Check(ctx, token, "admin:")
	if err != nil {
		a.consoleFail(w, r, "console login", err)
		return
	}
	actor := store.Actor{Door: "admin", Address: httpjson.ClientIP(r)}
	if holder == nil {
		err := a.st.Write(ctx, actor, func(tx store.Tx) error {
			return tx.Record(ctx, store.Activity{Action: "console.login.failure", ResourceType: "Session"})
		})
		if err != nil {
			a.consoleFail(w, r, "console login", err)
			return
		}
		a.render(w, r, http.StatusUnauthorized, "login", view{Title: "Log in", Error: "That is not a valid admin token."})
		return
	}
	previous, err := a.currentSession(r)
	if err != nil {
		a.consoleFail(w, r, "console login", err)
		return
	}
	actor.Principal = holder.Name
	var sess *auth.Session
	err = a.st.Write(ctx, actor, func(tx store.Tx) error {
		if previous != nil {
			if err := tx.DeleteCredential(ctx, previous.Credential.ID); err != nil && !store.IsNotFound(err) {
				return err
			}
		}
		// The console's principal is a token holder, not a stored user:
		// the session carries its name and no user key.
		var err error
		if sess, err = a.sessions.Start(ctx, tx, &store.User{UserName: holder.Name}, a.now()); err != nil {
			return err
		}
		data, _ := json.Marshal(sessionData{TokenHash: auth.HashToken(token)})
		sess.Credential.Data = string(data)
		if err := tx.UpdateCredential(ctx, sess.Credential); err != nil {
			return err
		}
		return tx.Record(ctx, store.Activity{Action: "console.login", ResourceType: "Session",
			Detail: "session " + auth.SessionRef(sess.ID)})
	})
	if err != nil {
		a.consoleFail(w, r, "console login", err)
		return
	}
	http.SetCookie(w, consoleCookie(r, sess.ID))
	http.Redirect(w, r, ConsolePath+"/", http.StatusSeeOther)
}

// consoleCookie carries the session id (or, empty, deletes it): a
// browser-session cookie, HttpOnly, SameSite=Strict, Secure over TLS.
func consoleCookie(r *http.Request, id string) *http.Cookie {
	c := auth.SessionCookie(r, sessionCookie, id, ConsolePath, 0)
	c.SameSite = http.SameSiteStrictMode
	return c
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := sessionOf(r).session
	err := a.st.Write(ctx, consoleActor(r), func(tx store.Tx) error {
		if err := tx.DeleteCredential(ctx, sess.Credential.ID); err != nil && !store.IsNotFound(err) {
			return err
		}
		return tx.Record(ctx, store.Activity{Action: "console.logout", ResourceType: "Session",
			Detail: "session " + auth.SessionRef(sess.ID)})
	})
	if err != nil {
		a.consoleFail(w, r, "console logout", err)
		return
	}
	http.SetCookie(w, consoleCookie(r, ""))
	http.Redirect(w, r, ConsolePath+"/login?bye=1", http.StatusSeeOther)
}

// view is what every page template gets.
type view struct {
	Title string
	// Section names the navigation entry to mark as current.
	Section   string
	Base      string
	Principal string // "" on pages without a session
	CSRF      string
	Flash     string
	Error     string
	Data      any
}

// render writes a page; it renders into a buffer first, so that a
// template failure becomes a clean 500.
func (a *API) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	v.Base = ConsolePath
	if s := sessionOf(r); s != nil {
		v.Principal, v.CSRF = s.session.Credential.Name, s.csrf
	}
	var buf bytes.Buffer
	if err := a.pages[page].Execute(&buf, v); err != nil {
		a.log.ErrorContext(r.Context(), "console render", "page", page, "err", err)
		setSecurityHeaders(w.Header())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	setSecurityHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (a *API) consoleError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	a.render(w, r, status, "error", view{Title: http.StatusText(status), Error: msg,
		Data: status == http.StatusUnauthorized})
}

// consoleFail answers err: a request error as its page, anything else
// logged and shown as an internal error.
func (a *API) consoleFail(w http.ResponseWriter, r *http.Request, what string, err error) {
	if re := asRequestError(err); re != nil {
		a.consoleError(w, r, re.status, re.msg)
		return
	}
	a.log.ErrorContext(r.Context(), what, "err", err)
	a.consoleError(w, r, http.StatusInternalServerError, "Internal error: the server log has the details.")
}

func (a *API) consoleRefuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	a.consoleError(w, r, status, strings.ToUpper(msg[:1])+msg[1:]+".")
}
