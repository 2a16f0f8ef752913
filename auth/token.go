package auth

import (
	"context"
	"encoding/json"
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

// IssueSCIMToken stores a new SCIM token of the default provisioning
// domain and returns it; only its hash is kept. userKey binds it to a user
// for /Me: a token for /Me only (ScopeSCIMMe); 0 makes a provisioning token
// (ScopeSCIMProvisioning).
func IssueSCIMToken(ctx context.Context, st store.Store, actor store.Actor, name string, userKey int64) (string, *store.Credential, error) {
	return IssueSCIMTokenWith(ctx, st, actor, name, SCIMTokenSettings{UserKey: userKey})
}

// SCIMTokenSettings are what a SCIM token says about its holder besides
// its name.
type SCIMTokenSettings struct {
	// UserKey binds the token to a user for /Me (0: unbound).
	UserKey int64 `json:"-"`
	// Domain is the provisioning domain the token's client provisions in:
	// the externalIds it reads and writes are that domain's (see
	// store.WithDomain). Empty is store.DefaultDomain.
	Domain string `json:"domain,omitempty"`
	// Compat is the token's SCIM compatibility mode ("entra", "strict");
	// empty follows the server's configuration.
	Compat string `json:"compat,omitempty"`
}

// ValidSCIMCompat reports whether mode is a compatibility mode a SCIM token
// may name (the SCIM door gives them their meaning); "" follows the server.
func ValidSCIMCompat(mode string) bool {
	switch mode {
	case "", "entra", "strict":
		return true
	}
	return false
}

// IssueSCIMTokenWith stores a new SCIM token with its settings (kept in the
// credential's Data) and returns it.
func IssueSCIMTokenWith(ctx context.Context, st store.Store, actor store.Actor, name string, s SCIMTokenSettings) (string, *store.Credential, error) {
	if s.Domain == store.DefaultDomain {
		s.Domain = ""
	}
	if s.Domain != "" {
		if err := store.CheckDomain(s.Domain); err != nil {
			return "", nil, err
		}
	}
	if !ValidSCIMCompat(s.Compat) {
		return "", nil, store.FieldErrorf(store.KindInvalid, "compat", "compat %q is not one of entra, strict", s.Compat)
	}
	data := ""
	if s.Domain != "" || s.Compat != "" {
		b, err := json.Marshal(s)
		if err != nil {
			return "", nil, err
		}
		data = string(b)
	}
	// A token bound to a user reaches /Me only; an unbound one provisions.
	scope := ScopeSCIMProvisioning
	if s.UserKey != 0 {
		scope = ScopeSCIMMe
	}
	return issueToken(ctx, st, actor, SCIMTokenKind, "scim_", name, s.UserKey, data, scope)
}

// SCIMTokenSettingsOf reads a stored SCIM token's settings; the domain of a
// token that names none is store.DefaultDomain.
func SCIMTokenSettingsOf(c *store.Credential) SCIMTokenSettings {
	var s SCIMTokenSettings
	if c.Data != "" {
		// Data is written only by IssueSCIMTokenWith; a token whose Data
		// cannot be read keeps the defaults.
		_ = json.Unmarshal([]byte(c.Data), &s)
	}
	if s.Domain == "" {
		s.Domain = store.DefaultDomain
	}
	s.UserKey = c.UserKey
	return s
}

// IssueAdminToken stores a new admin token (for /admin, ScopeAdmin) and
// returns it.
func IssueAdminToken(ctx context.Context, st store.Store, actor store.Actor, name string, _ int64) (string, *store.Credential, error) {
	return issueToken(ctx, st, actor, AdminTokenKind, "sbadm_", name, 0, "", ScopeAdmin)
}

func issueToken(ctx context.Context, st store.Store, actor store.Actor, kind, prefix, name string, userKey int64, data, scope string) (string, *store.Credential, error) {
	token := NewToken(prefix)
	c := &store.Credential{Kind: kind, Name: name, UserKey: userKey, Identifier: token[:len(prefix)+4], SecretHash: HashToken(token),
		Data: data, Scopes: []string{scope}}
	err := st.Write(ctx, actor, func(tx store.Tx) error {
		if err := tx.CreateCredential(ctx, c); err != nil {
			return err
		}
		detail := kind + " " + name
		if data != "" {
			detail += " " + data
		}
		return tx.Record(ctx, store.Activity{Action: "token.create", ResourceType: "Token", Detail: detail})
	})
	return token, c, err
}
