package app

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/internal/secret"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
)

// SCIMTokenKind is the credential kind of SCIM bearer tokens.
const SCIMTokenKind = "scim-token"

// tokenAuth accepts the configured static token and stored tokens. Stored
// tokens are looked up by SHA-256; hits are cached briefly so the hot path
// needs no database read, which bounds revocation delay to tokenCacheTTL.
type tokenAuth struct {
	st         store.Reader
	staticHash string
	mu         sync.Mutex
	cache      map[string]cachedPrincipal
}

type cachedPrincipal struct {
	p       *scim.Principal
	expires time.Time
}

const (
	tokenCacheTTL  = 5 * time.Second
	tokenCacheSize = 1024
)

func newTokenAuth(st store.Reader, static string) *tokenAuth {
	a := &tokenAuth{st: st, cache: map[string]cachedPrincipal{}}
	if static != "" {
		a.staticHash = secret.HashToken(static)
	}
	return a
}

// Authenticate implements scim.Authenticator.
func (a *tokenAuth) Authenticate(r *http.Request) (*scim.Principal, error) {
	token := legacyapi.BearerToken(r)
	if token == "" {
		return nil, nil
	}
	h := secret.HashToken(token)
	if a.staticHash != "" && secret.Equal(h, a.staticHash) {
		return &scim.Principal{Name: "config-token"}, nil
	}
	now := time.Now()
	a.mu.Lock()
	c, ok := a.cache[h]
	a.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.p, nil
	}
	cred, err := a.st.FindCredential(r.Context(), SCIMTokenKind, h)
	if store.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p := &scim.Principal{Name: "token:" + cred.Name, UserKey: cred.UserKey}
	a.mu.Lock()
	if len(a.cache) >= tokenCacheSize {
		clear(a.cache)
	}
	a.cache[h] = cachedPrincipal{p: p, expires: now.Add(tokenCacheTTL)}
	a.mu.Unlock()
	return p, nil
}

// forget drops cached tokens, so that a revocation made through this
// process takes effect at once.
func (a *tokenAuth) forget() {
	a.mu.Lock()
	clear(a.cache)
	a.mu.Unlock()
}

// IssueSCIMToken stores a new SCIM token and returns it; only its hash is
// kept. userKey binds it to a user for /Me (0: unbound).
func IssueSCIMToken(ctx context.Context, st store.Store, actor store.Actor, name string, userKey int64) (string, *store.Credential, error) {
	return issueToken(ctx, st, actor, SCIMTokenKind, "scim_", name, userKey)
}

// IssueAdminToken stores a new admin token (for /admin) and returns it.
func IssueAdminToken(ctx context.Context, st store.Store, actor store.Actor, name string, _ int64) (string, *store.Credential, error) {
	return issueToken(ctx, st, actor, AdminTokenKind, "sbadm_", name, 0)
}

func issueToken(ctx context.Context, st store.Store, actor store.Actor, kind, prefix, name string, userKey int64) (string, *store.Credential, error) {
	token := secret.NewToken(prefix)
	c := &store.Credential{Kind: kind, Name: name, UserKey: userKey, Identifier: token[:len(prefix)+4], SecretHash: secret.HashToken(token)}
	err := st.Write(ctx, actor, func(tx store.Tx) error {
		if err := tx.CreateCredential(ctx, c); err != nil {
			return err
		}
		return tx.Record(ctx, store.Activity{Action: "token.create", ResourceType: "Token", Detail: kind + " " + name})
	})
	return token, c, err
}

// mountTestToken serves GET /scim/Token for Microsoft's Postman collection,
// which fetches its bearer token there. Off by default: it hands a token to
// anyone who asks.
func mountTestToken(r *mux.Router, st store.Store, log *slog.Logger) {
	r.HandleFunc("/scim{v:(?:/v2)?}/Token", func(w http.ResponseWriter, r *http.Request) {
		token, _, err := IssueSCIMToken(r.Context(), st, store.Actor{Door: "scim", Principal: "test-token-endpoint"}, "test-endpoint", 0)
		if err != nil {
			log.ErrorContext(r.Context(), "test token endpoint", "err", err)
			legacyapi.WriteJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
			return
		}
		legacyapi.WriteJSON(w, http.StatusOK, map[string]string{"token": token})
	}).Methods(http.MethodGet)
	log.Warn("test token endpoint is ON: GET /scim/Token hands out SCIM tokens; never use this in production")
}
