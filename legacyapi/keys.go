package legacyapi

import (
	"context"

	"github.com/scimbridge/scimbridge/internal/secret"
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
		SecretHash: secret.HashToken(token),
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
	if token == "" {
		return nil, nil, store.Errorf(store.KindNotFound, "no key")
	}
	c, err := st.FindCredential(ctx, KeyKind(dialect), secret.HashToken(token))
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
