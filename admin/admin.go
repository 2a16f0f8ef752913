// Package admin is the operators' door under /admin: the activity log with
// filters, SCIM token management, the directory sync admin handler the
// composition root hands it, and the web console at /admin/ui. Every JSON
// route needs an admin bearer token; the console asks for one once and
// keeps a session.
package admin

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/store"
)

// Options configure the admin API.
type Options struct {
	Store store.Store
	Log   *slog.Logger
	// Token is an admin token from the configuration besides stored ones.
	Token string
	// SCIMTokens is told to forget cached SCIM tokens after a revocation.
	SCIMTokens interface{ Forget() }
	// Sync serves /admin/sync/… (nil: not served).
	Sync http.Handler
	// SyncStatus reports each directory source's sync status for the
	// console (nil: no sources).
	SyncStatus func() []SyncSource
	// Dialects are the legacy dialects whose API keys and sessions the
	// console lists and revokes.
	Dialects []string
	// Clock is the time (nil: time.Now).
	Clock func() time.Time
}

// API is the admin door.
type API struct {
	st         store.Store
	log        *slog.Logger
	tokens     *auth.Tokens
	staticHash string // of the configured admin token, "" for none
	scim       interface{ Forget() }
	sync       http.Handler
	syncStatus func() []SyncSource
	dialects   []string
	now        func() time.Time

	console  http.Handler
	sessions *auth.Sessions
	pages    map[string]*pageTemplate
	traffic  *traffic
	runs     *runHistory
}

// New returns the admin API.
func New(o Options) *API {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	a := &API{st: o.Store, log: o.Log, tokens: auth.NewTokens(o.Store, auth.AdminTokenKind, o.Token, "config-admin-token"),
		scim: o.SCIMTokens, sync: o.Sync, syncStatus: o.SyncStatus, dialects: slices.Sorted(slices.Values(o.Dialects)),
		now: o.Clock}
	if o.Token != "" {
		a.staticHash = auth.HashToken(o.Token)
	}
	a.initConsole()
	return a
}

// Name names the door in logs and metrics.
func (a *API) Name() string { return "admin" }

// RateKey is the admin token a request carries, or the console session.
func (a *API) RateKey(r *http.Request) string {
	if isConsole(r) {
		if c, err := r.Cookie(sessionCookie); err == nil {
			return c.Value
		}
		return ""
	}
	return r.Header.Get("Authorization")
}

// IsLogin reports whether the request is a console login: admin tokens
// are guessed there if anywhere.
func (a *API) IsLogin(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == ConsolePath+"/login"
}

// Refuse answers a request turned away at the edge.
func (a *API) Refuse(w http.ResponseWriter, r *http.Request, status int) {
	msg := "too many requests: slow down and retry later"
	if status != http.StatusTooManyRequests {
		msg = "the server is busy: retry later"
	}
	if isConsole(r) {
		a.consoleRefuse(w, r, status, msg)
		return
	}
	adminError(w, status, msg)
}

// Routes serves the API under /admin and the console under /admin/ui.
func (a *API) Routes(r *mux.Router) {
	// The console first: the /admin subrouter would otherwise take it.
	r.PathPrefix(ConsolePath).MatcherFunc(func(r *http.Request, _ *mux.RouteMatch) bool { return isConsole(r) }).
		Handler(a.console)
	sub := r.PathPrefix("/admin").Subrouter()
	sub.Use(a.authenticate)
	sub.HandleFunc("/activity", a.adminActivity).Methods(http.MethodGet)
	sub.HandleFunc("/tokens", a.adminListTokens).Methods(http.MethodGet)
	sub.HandleFunc("/tokens", a.adminCreateToken).Methods(http.MethodPost)
	sub.HandleFunc("/tokens/{id:[0-9]+}", a.adminRevokeToken).Methods(http.MethodDelete)
	sub.HandleFunc("/users/{user}/logout", a.adminLogoutUser).Methods(http.MethodPost)
	if a.sync != nil {
		sub.PathPrefix("/sync").Handler(http.StripPrefix("/admin/sync", a.sync))
	}
	sub.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, "no admin endpoint at "+r.URL.Path)
	})
}

// adminLogoutUser: POST /admin/users/{user}/logout (a userName or SCIM id)
// ends every session and refresh token of the user in every door: "log
// out everywhere", for a lost laptop or a stolen session.
func (a *API) adminLogoutUser(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ref := mux.Vars(r)["user"]
	u, err := a.st.GetUser(ctx, ref)
	if store.IsNotFound(err) {
		u, err = a.st.GetUserByUserName(ctx, ref)
	}
	if store.IsNotFound(err) || store.KindOf(err) == store.KindInvalid {
		adminError(w, http.StatusNotFound, "no user "+strconv.Quote(ref))
		return
	}
	if err != nil {
		a.fail(w, r, "admin logout", err)
		return
	}
	var n int
	err = a.st.Write(ctx, adminActor(r), func(tx store.Tx) error {
		var err error
		if n, err = auth.EndEverywhere(ctx, tx, u.Key, nil); err != nil {
			return err
		}
		return tx.Record(ctx, store.Activity{Action: auth.ActionLogoutEverywhere, ResourceType: "User", ResourceID: u.ID,
			ResourceKey: u.Key, UserKey: u.Key, Detail: fmt.Sprintf("every session and refresh token ended (%d)", n)})
	})
	if err != nil {
		a.fail(w, r, "admin logout", err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"ended": n})
}

func adminError(w http.ResponseWriter, status int, msg string) {
	httpjson.Write(w, status, map[string]string{"error": msg})
}

type adminKey struct{}

func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, err := a.tokens.Check(r.Context(), httpjson.BearerToken(r), "admin:")
		if err != nil {
			a.log.ErrorContext(r.Context(), "admin auth", "err", err)
			adminError(w, http.StatusInternalServerError, "internal error")
			return
		}
		if h == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scimbridge-admin"`)
			adminError(w, http.StatusUnauthorized, "missing or invalid admin token")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminKey{}, h.Name)))
	})
}

func adminActor(r *http.Request) store.Actor {
	name, _ := r.Context().Value(adminKey{}).(string)
	return store.Actor{Door: "admin", Principal: name, Address: httpjson.ClientIP(r)}
}

type activityJSON struct {
	Seq          int64  `json:"seq"`
	At           string `json:"at"`
	Door         string `json:"door"`
	Principal    string `json:"principal"`
	Address      string `json:"address,omitempty"`
	Action       string `json:"action"`
	ResourceType string `json:"resourceType,omitempty"`
	ResourceID   string `json:"resourceId,omitempty"`
	UserKey      int64  `json:"userKey,omitempty"`
	UserID       string `json:"userId,omitempty"`
	Detail       string `json:"detail,omitempty"`
}

// adminActivity: GET /admin/activity?user=&door=&action=&since=&until=&offset=&limit=
// (user is a userName or SCIM id, a deleted user's SCIM id too; times are
// RFC 3339).
func (a *API) adminActivity(w http.ResponseWriter, r *http.Request) {
	aq, gone, err := a.activityQuery(r.Context(), r.URL.Query(), 100)
	if err != nil {
		a.fail(w, r, "admin activity", err)
		return
	}
	entries, total, err := a.st.ListActivity(r.Context(), aq)
	if err != nil {
		a.fail(w, r, "admin activity", err)
		return
	}
	if gone && total == 0 {
		adminError(w, http.StatusNotFound, "no user "+strconv.Quote(aq.UserID))
		return
	}
	out := make([]activityJSON, len(entries))
	for i, e := range entries {
		out[i] = activityJSON{Seq: e.Seq, At: e.At.Format(time.RFC3339Nano), Door: e.Actor.Door, Principal: e.Actor.Principal,
			Address: e.Actor.Address, Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID,
			UserKey: e.UserKey, UserID: e.UserID, Detail: e.Detail}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"total": total, "offset": aq.Offset, "entries": out})
}

// fail answers err: a request error with its status and message, anything
// else logged and answered as an internal error.
func (a *API) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	if re := asRequestError(err); re != nil {
		adminError(w, re.status, re.msg)
		return
	}
	a.log.ErrorContext(r.Context(), what, "err", err)
	adminError(w, http.StatusInternalServerError, "internal error")
}

type tokenJSON struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Identifier string `json:"identifier,omitempty"`
	UserKey    int64  `json:"userKey,omitempty"`
	Domain     string `json:"domain"`
	Compat     string `json:"compat,omitempty"`
	Created    string `json:"created"`
	Token      string `json:"token,omitempty"` // only in the answer to a create
}

func tokenOf(c *store.Credential) tokenJSON {
	set := auth.SCIMTokenSettingsOf(c)
	return tokenJSON{ID: c.ID, Name: c.Name, Identifier: c.Identifier, UserKey: c.UserKey, Domain: set.Domain,
		Compat: set.Compat, Created: c.Created.Format(time.RFC3339)}
}

func (a *API) adminListTokens(w http.ResponseWriter, r *http.Request) {
	creds, err := a.listCredentials(r.Context(), auth.SCIMTokenKind)
	if err != nil {
		a.fail(w, r, "admin list tokens", err)
		return
	}
	out := make([]tokenJSON, len(creds))
	for i, c := range creds {
		out[i] = tokenOf(&c)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"tokens": out})
}

// adminCreateToken: POST /admin/tokens {"name": "...", "userName": "...",
// "domain": "...", "compat": "entra|strict"}; the token is in this answer
// only.
func (a *API) adminCreateToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name     string `json:"name"`
		UserName string `json:"userName"`
		Domain   string `json:"domain"`
		Compat   string `json:"compat"`
	}
	if err := httpjson.Decode(w, r, 64<<10, &body); err != nil {
		adminError(w, http.StatusBadRequest, err.Error())
		return
	}
	token, c, err := a.issueSCIMToken(r.Context(), adminActor(r), body.Name, body.UserName,
		auth.SCIMTokenSettings{Domain: body.Domain, Compat: body.Compat})
	if err != nil {
		a.fail(w, r, "admin create token", err)
		return
	}
	out := tokenOf(c)
	out.Token = token
	httpjson.Write(w, http.StatusCreated, out)
}

func (a *API) adminRevokeToken(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
	if err := a.revoke(r.Context(), adminActor(r), scimTokens(), id); err != nil {
		a.fail(w, r, "admin revoke token", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
