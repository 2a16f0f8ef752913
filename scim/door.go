package scim

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/store"
)

// Prefix is where the SCIM door serves its version 2 endpoints.
const Prefix = "/scim/v2"

// Name names the door in logs, metrics and the activity log.
func (s *Server) Name() string { return "scim" }

// Routes adds the SCIM routes below Prefix to r, and, with
// Options.TestTokenEndpoint, the token endpoint of Microsoft's Postman
// collection.
func (s *Server) Routes(r *mux.Router) {
	if s.opts.TestTokenEndpoint {
		// Before the SCIM routes: /scim/v2/Token would otherwise be theirs.
		r.HandleFunc("/scim{v:(?:/v2)?}/Token", s.testToken).Methods(http.MethodGet)
		s.log.Warn("test token endpoint is ON: GET /scim/Token hands out SCIM tokens; never use this in production")
	}
	s.Mount(r, Prefix)
}

// CanonicalPath rewrites a lower-case resource path ("/scim/v2/users") to
// its SCIM case before routing.
func (s *Server) CanonicalPath(r *http.Request) { canonicalPath(Prefix, r) }

// RateKey is the bearer token a request carries.
func (s *Server) RateKey(r *http.Request) string { return r.Header.Get("Authorization") }

// IsLogin reports false: SCIM clients log in nowhere.
func (s *Server) IsLogin(*http.Request) bool { return false }

// Refuse answers a request turned away at the edge (429, 503) as a SCIM error.
func (s *Server) Refuse(w http.ResponseWriter, _ *http.Request, status int) {
	msg := "Too many requests: slow down and retry later."
	if status != http.StatusTooManyRequests {
		msg = "The server is busy: retry later."
	}
	WriteError(w, &Error{Status: status, Detail: msg})
}

// testToken serves GET /scim/Token for Microsoft's Postman collection, which
// fetches its bearer token there. Off by default: it hands a token to anyone
// who asks.
func (s *Server) testToken(w http.ResponseWriter, r *http.Request) {
	token, _, err := auth.IssueSCIMToken(r.Context(), s.st, store.Actor{Door: "scim", Principal: "test-token-endpoint"}, "test-endpoint", 0)
	if err != nil {
		s.log.ErrorContext(r.Context(), "test token endpoint", "err", err)
		httpjson.Write(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]string{"token": token})
}

// Tokens authenticates SCIM clients by their bearer tokens (auth.Tokens of
// kind auth.SCIMTokenKind).
type Tokens struct{ *auth.Tokens }

// Authenticate implements Authenticator. A token bound to a user is a /Me
// token; it stops working once its user is deactivated or deleted
// (auth.Tokens.Check reads the user on every request).
func (t Tokens) Authenticate(r *http.Request) (*Principal, error) {
	h, err := t.Check(r.Context(), httpjson.BearerToken(r), "token:")
	if h == nil || err != nil {
		return nil, err
	}
	p := &Principal{Name: h.Name, Domain: store.DefaultDomain, Scope: auth.SCIMScope(h.Credential)}
	if h.Credential != nil {
		set := auth.SCIMTokenSettingsOf(h.Credential)
		p.UserKey, p.Domain, p.Compat = set.UserKey, set.Domain, set.Compat
	}
	return p, nil
}
