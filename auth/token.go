package auth

import (
	"context"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// The credential kinds of the bearer tokens scimbridge issues itself.
const (
	// SCIMTokenKind is a SCIM provisioning token (or, bound to a user, a
	// token for /Me).
	SCIMTokenKind = "scim-token"
	// AdminTokenKind is an operator's token for /admin.
	AdminTokenKind = "admin-token"
)

// tokenCacheTTL bounds how long a revoked token keeps working on a node
// that did not revoke it.
const tokenCacheTTL = 5 * time.Second

// Tokens checks the bearer tokens of one kind: a token given in the
// configuration (compared by hash, in constant time) and stored ones
// (looked up by hash through a short cache).
type Tokens struct {
	kind       string
	staticName string
	staticHash string
	st         store.Reader
	cache      *CredentialCache
	now        func() time.Time
}

// TokenHolder is who presented a valid token.
type TokenHolder struct {
	// Name is the principal recorded in the activity log: staticName for
	// the configured token, "<prefix><credential name>" for stored ones.
	Name       string
	Credential *store.Credential // nil for the configured token
	// User is the (active) user a stored token is bound to, read on this
	// request, or nil.
	User *store.User
}

// NewTokens checks tokens of kind against st; static (may be empty) is a
// token from the configuration, reported as staticName.
func NewTokens(st store.Reader, kind, static, staticName string) *Tokens {
	t := &Tokens{kind: kind, staticName: staticName, st: st, cache: NewCredentialCache(tokenCacheTTL), now: time.Now}
	if static != "" {
		t.staticHash = HashToken(static)
	}
	return t
}

// Check returns the holder of token, or nil for an unknown (or empty)
// token, and for a token whose user is deactivated or deleted. An error
// means the store could not be asked.
func (t *Tokens) Check(ctx context.Context, token, namePrefix string) (*TokenHolder, error) {
	if token == "" {
		return nil, nil
	}
	if t.staticHash != "" && Equal(HashToken(token), t.staticHash) {
		return &TokenHolder{Name: t.staticName}, nil
	}
	cred, user, err := t.cache.Lookup(ctx, t.st, t.kind, token, t.now())
	if store.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if cred.UserKey != 0 && (user == nil || !user.Active) {
		return nil, nil // bound to a user who may no longer act
	}
	return &TokenHolder{Name: namePrefix + cred.Name, Credential: cred, User: user}, nil
}

// Forget drops cached lookups (after a revocation through this process).
func (t *Tokens) Forget() { t.cache.Forget() }

// IssueSCIMToken stores a new SCIM token and returns it; only its hash is
// kept. userKey binds it to a user: a token for /Me only (ScopeSCIMMe);
// 0 makes a provisioning token (ScopeSCIMProvisioning).
func IssueSCIMToken(ctx context.Context, st store.Store, actor store.Actor, name string, userKey int64) (string, *store.Credential, error) {
	scope := ScopeSCIMProvisioning
	if userKey != 0 {
		scope = ScopeSCIMMe
	}
	return issueToken(ctx, st, actor, SCIMTokenKind, "scim_", name, userKey, scope)
}

// IssueAdminToken stores a new admin token (for /admin, ScopeAdmin) and
// returns it.
func IssueAdminToken(ctx context.Context, st store.Store, actor store.Actor, name string, _ int64) (string, *store.Credential, error) {
	return issueToken(ctx, st, actor, AdminTokenKind, "sbadm_", name, 0, ScopeAdmin)
}

func issueToken(ctx context.Context, st store.Store, actor store.Actor, kind, prefix, name string, userKey int64, scope string) (string, *store.Credential, error) {
	token := NewToken(prefix)
	c := &store.Credential{Kind: kind, Name: name, UserKey: userKey, Identifier: token[:len(prefix)+4], SecretHash: HashToken(token),
		Scopes: []string{scope}}
	err := st.Write(ctx, actor, func(tx store.Tx) error {
		if err := tx.CreateCredential(ctx, c); err != nil {
			return err
		}
		return tx.Record(ctx, store.Activity{Action: "token.create", ResourceType: "Token", Detail: kind + " " + name})
	})
	return token, c, err
}
