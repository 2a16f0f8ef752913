package xstudio

import (
	"context"
	"log/slog"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
)

// XStudio's built-in user "admin" has every right. Here no right follows
// from a name: the account that holds the top role (store.Top, an owner)
// is shown to XStudio as "admin" and logs in under that name, and no other
// account can take the name through any door (store.ReservedUserName).

// adminName is the name XStudio knows the built-in admin by.
const adminName = store.ReservedUserName

// EnsureAdmin makes the configured built-in admin exist as the owner. With
// no owner yet it creates the owner "admin" with the password. A user
// already named "admin" that is no owner is marked as the owner only when
// its password is the configured one (it is the built-in admin of a
// version that gave the name every right); otherwise it is left without
// rights and a warning is logged, since anyone might have taken the name
// before it was reserved. An existing owner is never changed.
func EnsureAdmin(ctx context.Context, st store.Store, log *slog.Logger, password, email string) error {
	named, err := st.GetUserByUserName(ctx, adminName)
	if err != nil && !store.IsNotFound(err) {
		return err
	}
	if named != nil {
		if store.PrivilegeOf(named) == store.PrivilegeOwner {
			return nil
		}
		ok, err := auth.CheckPassword(named.PasswordHash, password)
		if err != nil || !ok {
			log.Warn(`a user named "admin" exists that is not the owner and whose password is not admin_password: ` +
				`it has no rights; rename it, or make it the owner with scimbridge user set-role --name admin --role owner`)
			return nil
		}
		return st.Write(ctx, store.Actor{Door: Dialect, Principal: "bootstrap"}, func(tx store.Tx) error {
			_, err := tx.UpdateUser(ctx, named.ID, func(u *store.User) error {
				store.SetPrivilege(u, store.PrivilegeOwner)
				return nil
			})
			return err
		})
	}
	if _, err := store.Top(ctx, st); err == nil || !store.IsNotFound(err) {
		return err // the owner XStudio shows as admin exists
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	u := &store.User{UserName: adminName, DisplayName: "Administrator", Active: true, PasswordHash: hash}
	store.SetPrivilege(u, store.PrivilegeOwner)
	if email != "" {
		u.Emails = []store.Value{{Value: email, Type: "work", Primary: true}}
	}
	err = st.Write(ctx, store.Actor{Door: Dialect, Principal: "bootstrap"}, func(tx store.Tx) error {
		return tx.CreateUser(ctx, u)
	})
	if store.KindOf(err) == store.KindConflict { // created meanwhile by another instance
		return nil
	}
	return err
}

// topAccount returns the account shown as "admin", nil when there is no
// owner; it is read once per command.
func (c *call) topAccount(r store.Reader) (*store.User, error) {
	if c.topRead {
		return c.top, nil
	}
	top, err := store.Top(c.ctx, r)
	if err != nil && !store.IsNotFound(err) {
		return nil, err
	}
	c.top, c.topRead = top, true
	return top, nil
}

// isBuiltin reports whether u is the account shown as "admin". Only an
// owner can be, so other users cost no read.
func (c *call) isBuiltin(r store.Reader, u *store.User) (bool, error) {
	if store.PrivilegeOf(u) != store.PrivilegeOwner {
		return false, nil
	}
	top, err := c.topAccount(r)
	return err == nil && top != nil && top.Key == u.Key, err
}

// nameOf is the name XStudio shows for u: "admin" for the built-in admin,
// else its userName.
func (c *call) nameOf(r store.Reader, u *store.User) (string, error) {
	builtin, err := c.isBuiltin(r, u)
	if builtin {
		return adminName, err
	}
	return u.UserName, err
}

// userByName finds a user by the name XStudio knows it by: "admin" is the
// built-in admin, whatever its userName.
func (c *call) userByName(r store.Reader, name string) (*store.User, error) {
	if store.IsReservedUserName(name) {
		top, err := c.topAccount(r)
		if err != nil {
			return nil, err
		}
		if top != nil {
			return top, nil
		}
	}
	return r.GetUserByUserName(c.ctx, name)
}
