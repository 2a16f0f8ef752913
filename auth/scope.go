package auth

import "github.com/scimbridge/scimbridge/store"

// Every credential has a scope, kept in store.Credential.Scopes: what it
// may reach (README, "What each credential can reach"). A credential bound
// to a user acts as that user and stops working on the next request after
// the user is deactivated or deleted (CredentialCache reads the user on
// every use).
const (
	// ScopeSCIMProvisioning: every SCIM endpoint (an identity provider's
	// token; bound to no user).
	ScopeSCIMProvisioning = "scim:provisioning"
	// ScopeSCIMMe: /Me only, as the user the token is bound to, which may
	// not change its own roles, entitlements, groups, active state,
	// userName or externalId.
	ScopeSCIMMe = "scim:me"
	// ScopeAdmin: the admin API (/admin).
	ScopeAdmin = "admin"
	// ScopeRead and ScopeWrite: a dialect's API key may read, and write,
	// what its user may (apikey create --read-only leaves out write).
	ScopeRead  = "read"
	ScopeWrite = "write"
)

// SCIMScope returns the scope of a SCIM token: ScopeSCIMMe for a token
// bound to a user, whatever it was issued with (tokens bound before scopes
// were stored are /Me tokens, as they were documented to be), else
// ScopeSCIMProvisioning.
func SCIMScope(c *store.Credential) string {
	if c != nil && (c.UserKey != 0 || HasScope(c, ScopeSCIMMe)) {
		return ScopeSCIMMe
	}
	return ScopeSCIMProvisioning
}
