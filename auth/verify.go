package auth

// Password checks are the same for every door: a user synced from (or
// linked to) a directory is checked by a bind against that directory (the
// password is never copied), any other user against its stored hash.

import (
	"context"
	"errors"

	"github.com/scimbridge/scimbridge/store"
)

// ErrInvalidCredentials is what a DirectoryBinder returns for a wrong password.
var ErrInvalidCredentials = errors.New("invalid credentials")

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
// answer could not be found (directory down), not that it is wrong.
func (v *Verifier) Check(ctx context.Context, u *store.User, password string) (bool, error) {
	if password == "" || u == nil {
		return false, nil
	}
	// A user linked to a directory authenticates there, even if it had a
	// local password before it was linked: the directory is the authority.
	if u.Source.Name != "" && u.Source.DN != "" && v != nil && v.Directory != nil {
		err := v.Directory.Bind(ctx, u.Source.Name, u.Source.DN, password)
		if errors.Is(err, ErrInvalidCredentials) {
			return false, nil
		}
		return err == nil, err
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
