package auth

// Password checks are the same for every door: a user synced from (or
// linked to) a directory is checked by a bind against that directory (the
// password is never copied), any other user against its stored hash.

import (
	"context"
	"errors"
	"fmt"

	"github.com/scimbridge/scimbridge/store"
)

// ErrInvalidCredentials is what a DirectoryBinder returns for a wrong password.
var ErrInvalidCredentials = errors.New("invalid credentials")

// ErrDirectoryUnavailable is the kind of a password check the directory
// could not answer (down, unreachable, timing out): the store's
// KindUnavailable, so that every door answers it as it answers a store
// that cannot write, with its own 503 (or the nearest its protocol has).
var ErrDirectoryUnavailable error = &store.Error{Kind: store.KindUnavailable,
	Message: "the directory that checks this password cannot be reached: retry later"}

// DirectoryBinder checks a password by binding as dn to the named source.
// It returns ErrInvalidCredentials for a wrong password and another error
// when the directory cannot be asked.
type DirectoryBinder interface {
	Bind(ctx context.Context, source, dn, password string) error
}

// Verifier checks passwords. Directory may be nil (no directory sync).
type Verifier struct {
	Directory DirectoryBinder
}

// Check reports whether password is u's password. An error means the
// answer could not be found, not that it is wrong: ErrDirectoryUnavailable
// (kind store.KindUnavailable) when the directory could not be asked.
func (v *Verifier) Check(ctx context.Context, u *store.User, password string) (bool, error) {
	if password == "" || u == nil {
		return false, nil
	}
	// A user linked to a directory authenticates there, even if it had a
	// local password before it was linked: the directory is the authority.
	if u.Source.Name != "" && u.Source.DN != "" && v != nil && v.Directory != nil {
		err := v.Directory.Bind(ctx, u.Source.Name, u.Source.DN, password)
		switch {
		case errors.Is(err, ErrInvalidCredentials):
			return false, nil
		case err != nil:
			return false, fmt.Errorf("%w: %w", ErrDirectoryUnavailable, err)
		}
		return true, nil
	}
	if DirectoryManaged(u) {
		return false, nil // synced, but no directory to ask
	}
	return CheckPassword(u.PasswordHash, password)
}

// DirectoryManaged reports whether u's password belongs to a directory: a
// user synced from one without a local hash logs in by a bind, so no door
// may set or reset its password.
func DirectoryManaged(u *store.User) bool { return u.Source.Name != "" && u.PasswordHash == "" }
