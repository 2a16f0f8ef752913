package auth

import (
	"context"
	"sync"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// KeyKind is the credential kind under which a dialect's API keys are
// stored, e.g. KeyKind("pterodactyl") = "apikey:pterodactyl".
func KeyKind(dialect string) string { return "apikey:" + dialect }

// IssueKey stores a new API key for the user and returns the key itself,
// which is shown once and never stored. token is the freshly generated key
// in the dialect's own format; identifierLen is how much of it is public
// (kept to list keys by), 0 for none.
func IssueKey(ctx context.Context, st store.Store, actor store.Actor, dialect, token string, identifierLen int,
	userKey int64, name string, scopes []string) (*store.Credential, error) {
	c := &store.Credential{
		Kind:       KeyKind(dialect),
		Name:       name,
		UserKey:    userKey,
		SecretHash: HashToken(token),
		Scopes:     scopes,
	}
	if identifierLen > 0 && identifierLen < len(token) {
		c.Identifier = token[:identifierLen]
	}
	err := st.Write(ctx, actor, func(tx store.Tx) error {
		if err := tx.CreateCredential(ctx, c); err != nil {
			return err
		}
		return tx.Record(ctx, store.Activity{Action: "apikey.create", ResourceType: "User", UserKey: userKey,
			Detail: dialect + " key " + c.Identifier})
	})
	return c, err
}

// LookupKey finds the key a client presented and the user it belongs to.
// An unknown key, or one whose user is gone, is a NotFound error.
func LookupKey(ctx context.Context, st store.Reader, dialect, token string) (*store.Credential, *store.User, error) {
	return LookupCredential(ctx, st, KeyKind(dialect), token)
}

// LookupCredential finds a stored bearer credential of the kind by its
// secret, and the user it is bound to (nil when unbound). An unknown
// secret, or one whose user is gone, is a NotFound error.
func LookupCredential(ctx context.Context, st store.Reader, kind, token string) (*store.Credential, *store.User, error) {
	if token == "" {
		return nil, nil, store.Errorf(store.KindNotFound, "no credential")
	}
	c, err := st.FindCredential(ctx, kind, HashToken(token))
	if err != nil {
		return nil, nil, err
	}
	if c.UserKey == 0 {
		return c, nil, nil
	}
	u, err := st.GetUserByKey(ctx, c.UserKey)
	if err != nil {
		return nil, nil, err
	}
	return c, u, nil
}

// HasScope reports whether the credential carries the scope.
func HasScope(c *store.Credential, scope string) bool {
	for _, s := range c.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// CredentialCache remembers recent successful credential lookups for a
// short time, so that a busy client's requests need no lookup of the
// secret's hash to authenticate. It serves every door's bearer
// credentials: SCIM and admin tokens and the dialects' API keys. The user
// a credential is bound to is read again on every use (one read by
// primary key), never cached: deactivating, demoting or deleting the user
// takes effect on the next request, on every node. Revoking a credential
// takes effect within the TTL (at once in this process after Forget).
// Unknown secrets, sessions and refresh tokens are never cached. The
// cached credential is shared between requests and must not be modified.
type CredentialCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cachedCredential
}

type cachedCredential struct {
	cred    *store.Credential
	expires time.Time
}

const credentialCacheSize = 1024

// NewCredentialCache returns a cache keeping lookups for ttl; nil (no
// caching) when ttl is not positive. A nil *CredentialCache is valid and
// looks up every time.
func NewCredentialCache(ttl time.Duration) *CredentialCache {
	if ttl <= 0 {
		return nil
	}
	return &CredentialCache{ttl: ttl, m: map[string]cachedCredential{}}
}

// Lookup is LookupCredential through the cache.
func (c *CredentialCache) Lookup(ctx context.Context, st store.Reader, kind, token string, now time.Time) (*store.Credential, *store.User, error) {
	// A session or refresh token is never cached: it ends with a logout or
	// a password change on any node, and must fail on the next request.
	if c == nil || token == "" || store.EndsWithPassword(kind) {
		cred, user, err := LookupCredential(ctx, st, kind, token)
		if err == nil {
			recordUse(ctx, st, cred, now)
		}
		return cred, user, err
	}
	h := kind + ":" + HashToken(token)
	c.mu.Lock()
	hit, ok := c.m[h]
	c.mu.Unlock()
	if ok && now.Before(hit.expires) {
		if hit.cred.UserKey == 0 {
			return hit.cred, nil, nil
		}
		user, err := st.GetUserByKey(ctx, hit.cred.UserKey)
		if store.IsNotFound(err) {
			c.drop(h) // the user, and so its credentials, are gone
		}
		if err != nil {
			return nil, nil, err
		}
		return hit.cred, user, nil
	}
	cred, user, err := LookupCredential(ctx, st, kind, token)
	if err != nil {
		return nil, nil, err
	}
	recordUse(ctx, st, cred, now)
	c.mu.Lock()
	if len(c.m) >= credentialCacheSize {
		clear(c.m)
	}
	// A credential that expires within the TTL leaves the cache with it.
	until := now.Add(c.ttl)
	if !cred.Expires.IsZero() && cred.Expires.Before(until) {
		until = cred.Expires
	}
	c.m[h] = cachedCredential{cred: cred, expires: until}
	c.mu.Unlock()
	return cred, user, nil
}

func (c *CredentialCache) drop(h string) {
	c.mu.Lock()
	delete(c.m, h)
	c.mu.Unlock()
}

// Forget drops every cached lookup, so that a revocation made through this
// process takes effect at once.
func (c *CredentialCache) Forget() {
	if c == nil {
		return
	}
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// lastUseEvery bounds how stale a credential's recorded last use gets, and
// so the writes that keep it: one per credential at most this often.
const lastUseEvery = time.Minute

// recordUse keeps cred's LastUsed (which `scimbridge token list` and
// `apikey list` show) within lastUseEvery of now, when st can write (a
// Store, not a transaction). A failed write is ignored: it must never
// refuse a valid credential.
func recordUse(ctx context.Context, st store.Reader, cred *store.Credential, now time.Time) {
	w, ok := st.(store.Store)
	if !ok || now.Sub(cred.LastUsed) < lastUseEvery {
		return
	}
	used := *cred
	used.LastUsed = now
	_ = w.Write(ctx, store.Actor{Door: "auth", Principal: cred.Name}, func(tx store.Tx) error {
		return tx.UpdateCredential(ctx, &used)
	})
}
