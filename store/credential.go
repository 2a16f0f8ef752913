package store

import (
	"context"
	"strings"
)

// The credential lifecycle every door shares (README, "Credential
// lifecycle"): a login session or refresh token is a proof that its user
// typed the password, so it must not outlive the password. A change of
// the password, through any door, ends the user's sessions and refresh
// tokens in every door in the transaction that changes the hash; the
// credentials an operator issued (SCIM tokens, API keys) stay, since they
// never depended on the password.

// Credential kind prefixes of what a login issues: a dialect's sessions
// ("session:xyops") and refresh tokens ("refresh:usersapi").
const (
	SessionKindPrefix = "session:"
	RefreshKindPrefix = "refresh:"
)

// EndsWithPassword reports whether a credential of the kind ends when its
// user's password changes, or when the user logs out everywhere.
func EndsWithPassword(kind string) bool {
	return strings.HasPrefix(kind, SessionKindPrefix) || strings.HasPrefix(kind, RefreshKindPrefix)
}

type keepKey struct{}

// KeepSession returns a context whose writes keep the session credential
// id when they end the user's sessions: the session that changes its own
// password stays logged in where the vendor keeps it.
func KeepSession(ctx context.Context, id int64) context.Context {
	return context.WithValue(ctx, keepKey{}, id)
}

// KeptSession returns the credential id KeepSession put in ctx, 0 for none.
func KeptSession(ctx context.Context) int64 {
	id, _ := ctx.Value(keepKey{}).(int64)
	return id
}
