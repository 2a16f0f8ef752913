package app

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
)

// scimTokens adapts auth.Tokens to scim.Authenticator.
type scimTokens struct{ tokens *auth.Tokens }

// Authenticate implements scim.Authenticator.
func (a scimTokens) Authenticate(r *http.Request) (*scim.Principal, error) {
	h, err := a.tokens.Check(r.Context(), httpjson.BearerToken(r), "token:")
	if h == nil || err != nil {
		return nil, err
	}
	p := &scim.Principal{Name: h.Name}
	if h.Credential != nil {
		p.UserKey = h.Credential.UserKey
	}
	return p, nil
}

// mountTestToken serves GET /scim/Token for Microsoft's Postman collection,
// which fetches its bearer token there. Off by default: it hands a token to
// anyone who asks.
func mountTestToken(r *mux.Router, st store.Store, log *slog.Logger) {
	r.HandleFunc("/scim{v:(?:/v2)?}/Token", func(w http.ResponseWriter, r *http.Request) {
		token, _, err := auth.IssueSCIMToken(r.Context(), st, store.Actor{Door: "scim", Principal: "test-token-endpoint"}, "test-endpoint", 0)
		if err != nil {
			log.ErrorContext(r.Context(), "test token endpoint", "err", err)
			httpjson.Write(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]string{"token": token})
	}).Methods(http.MethodGet)
	log.Warn("test token endpoint is ON: GET /scim/Token hands out SCIM tokens; never use this in production")
}
