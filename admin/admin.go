// Package admin is the operators' door under /admin: the activity log with
// filters, SCIM token management, and the directory sync admin handler the
// composition root hands it. Every route needs an admin bearer token.
package admin

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
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
}

// API is the admin door.
type API struct {
	st     store.Store
	log    *slog.Logger
	tokens *auth.Tokens
	scim   interface{ Forget() }
	sync   http.Handler
}

// New returns the admin API.
func New(o Options) *API {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &API{st: o.Store, log: o.Log, tokens: auth.NewTokens(o.Store, auth.AdminTokenKind, o.Token, "config-admin-token"),
		scim: o.SCIMTokens, sync: o.Sync}
}

// Name names the door in logs and metrics.
func (a *API) Name() string { return "admin" }

// RateKey is the admin token a request carries.
func (a *API) RateKey(r *http.Request) string { return r.Header.Get("Authorization") }

// IsLogin reports false: admin tokens have no login.
func (a *API) IsLogin(*http.Request) bool { return false }

// Refuse answers a request turned away at the edge.
func (a *API) Refuse(w http.ResponseWriter, _ *http.Request, status int) {
	msg := "too many requests: slow down and retry later"
	if status != http.StatusTooManyRequests {
		msg = "the server is busy: retry later"
	}
	adminError(w, status, msg)
}

// Routes serves the API under /admin.
func (a *API) Routes(r *mux.Router) {
	sub := r.PathPrefix("/admin").Subrouter()
	sub.Use(a.authenticate)
	sub.HandleFunc("/activity", a.adminActivity).Methods(http.MethodGet)
	sub.HandleFunc("/tokens", a.adminListTokens).Methods(http.MethodGet)
	sub.HandleFunc("/tokens", a.adminCreateToken).Methods(http.MethodPost)
	sub.HandleFunc("/tokens/{id:[0-9]+}", a.adminRevokeToken).Methods(http.MethodDelete)
	if a.sync != nil {
		sub.PathPrefix("/sync").Handler(http.StripPrefix("/admin/sync", a.sync))
	}
	sub.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, "no admin endpoint at "+r.URL.Path)
	})
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
	Detail       string `json:"detail,omitempty"`
}

// adminActivity: GET /admin/activity?user=&door=&action=&since=&until=&offset=&limit=
// (user is a userName or SCIM id; times are RFC 3339).
func (a *API) adminActivity(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	aq := store.ActivityQuery{Door: q.Get("door"), Action: q.Get("action"), ResourceID: q.Get("resource")}
	if u := q.Get("user"); u != "" {
		user, err := a.st.GetUserByUserName(r.Context(), u)
		if store.IsNotFound(err) {
			user, err = a.st.GetUser(r.Context(), u)
		}
		if err != nil {
			adminError(w, http.StatusNotFound, "no user "+strconv.Quote(u))
			return
		}
		aq.UserKey = user.Key
	}
	for name, dst := range map[string]*time.Time{"since": &aq.Since, "until": &aq.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				adminError(w, http.StatusBadRequest, name+" must be an RFC 3339 time")
				return
			}
			*dst = t
		}
	}
	var ok bool
	if aq.Offset, ok = httpjson.IntParam(r, "offset", 0); !ok || aq.Offset < 0 {
		adminError(w, http.StatusBadRequest, "offset must be a non-negative integer")
		return
	}
	if aq.Limit, ok = httpjson.IntParam(r, "limit", 100); !ok || aq.Limit < 1 || aq.Limit > 1000 {
		adminError(w, http.StatusBadRequest, "limit must be between 1 and 1000")
		return
	}
	entries, total, err := a.st.ListActivity(r.Context(), aq)
	if err != nil {
		a.log.ErrorContext(r.Context(), "admin activity", "err", err)
		adminError(w, http.StatusInternalServerError, "internal error")
		return
	}
	out := make([]activityJSON, len(entries))
	for i, e := range entries {
		out[i] = activityJSON{Seq: e.Seq, At: e.At.Format(time.RFC3339Nano), Door: e.Actor.Door, Principal: e.Actor.Principal,
			Address: e.Actor.Address, Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID,
			UserKey: e.UserKey, Detail: e.Detail}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"total": total, "offset": aq.Offset, "entries": out})
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
	creds, err := a.st.ListCredentials(r.Context(), auth.SCIMTokenKind)
	if err != nil {
		adminError(w, http.StatusInternalServerError, "internal error")
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
	if strings.TrimSpace(body.Name) == "" {
		adminError(w, http.StatusBadRequest, "name is required")
		return
	}
	var userKey int64
	if body.UserName != "" {
		u, err := a.st.GetUserByUserName(r.Context(), body.UserName)
		if err != nil {
			adminError(w, http.StatusBadRequest, "no user "+strconv.Quote(body.UserName))
			return
		}
		userKey = u.Key
	}
	token, c, err := auth.IssueSCIMTokenWith(r.Context(), a.st, adminActor(r), body.Name,
		auth.SCIMTokenSettings{UserKey: userKey, Domain: body.Domain, Compat: body.Compat})
	if store.KindOf(err) == store.KindInvalid {
		adminError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		a.log.ErrorContext(r.Context(), "admin create token", "err", err)
		adminError(w, http.StatusInternalServerError, "internal error")
		return
	}
	out := tokenOf(c)
	out.Token = token
	httpjson.Write(w, http.StatusCreated, out)
}

func (a *API) adminRevokeToken(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
	creds, err := a.st.ListCredentials(r.Context(), auth.SCIMTokenKind)
	if err != nil {
		adminError(w, http.StatusInternalServerError, "internal error")
		return
	}
	found := false
	for _, c := range creds {
		found = found || c.ID == id
	}
	if !found {
		adminError(w, http.StatusNotFound, "no SCIM token "+strconv.FormatInt(id, 10))
		return
	}
	err = a.st.Write(r.Context(), adminActor(r), func(tx store.Tx) error {
		if err := tx.DeleteCredential(r.Context(), id); err != nil {
			return err
		}
		return tx.Record(r.Context(), store.Activity{Action: "token.revoke", ResourceType: "Token", Detail: "scim token " + strconv.FormatInt(id, 10)})
	})
	if err != nil {
		adminError(w, http.StatusInternalServerError, "internal error")
		return
	}
	if a.scim != nil {
		a.scim.Forget()
	}
	w.WriteHeader(http.StatusNoContent)
}
