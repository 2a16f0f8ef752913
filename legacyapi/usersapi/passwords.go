package usersapi

import (
	"net/http"
	"strings"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// changePassword: the user (or an administrator) sends the current
// password, which is verified (by a directory bind for synced users) under
// the login lockout. The change ends the user's other sessions and refresh
// tokens in every door; the access token that made it is kept.
func (s *server) changePassword(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.self() && !c.admin() {
		fail(w, http.StatusForbidden, msgForbidden)
		return
	}
	b, ok := s.readBody(w, r)
	if !ok {
		return
	}
	bad := invalid{}
	current, _, okCur := b.str("currentPassword")
	next, _, okNew := b.str("newPassword")
	confirm, hasConfirm, okConfirm := b.str("confirmPassword")
	if !okCur || current == "" {
		bad.add("currentPassword", "Current password is required")
	}
	if !okNew || len([]rune(next)) < 8 {
		bad.add("newPassword", "Password must be at least 8 characters")
	}
	if hasConfirm && (!okConfirm || confirm != next) {
		bad.add("confirmPassword", "Passwords do not match")
	}
	if len(bad) > 0 {
		bad.write(w)
		return
	}
	if auth.DirectoryManaged(c.target) {
		invalid{"newPassword": msgDirPassword}.write(w)
		return
	}
	// Counted as a login: a stolen token cannot guess the password.
	good, err := s.sessions.CheckCurrent(r.Context(), s.deps.Store, s.deps.Passwords, c.target, current,
		legacyapi.Actor(r, Dialect, c.principal()), s.deps.Clock())
	if err != nil {
		s.loginFailed(w, r, c.target.UserName, err)
		return
	}
	if !good {
		invalid{"currentPassword": "Current password is incorrect"}.write(w)
		return
	}
	if err := s.setPassword(r, c, next); err != nil {
		s.failed(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"success": true, "message": msgPasswordDone})
}

// setPassword stores password (hashed) as the target's.
func (s *server) setPassword(r *http.Request, c *caller, password string) error {
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	return s.deps.Store.Write(r.Context(), legacyapi.Actor(r, Dialect, c.principal()), func(tx store.Tx) error {
		// The store records the password change, which also lifts a lockout.
		_, err := tx.UpdateUser(r.Context(), c.target.ID, legacyapi.CheckedUpdate(c.privilege(), func(u *store.User) error {
			u.PasswordHash, u.NewPassword = hash, store.Secret(password)
			return nil
		}))
		return err
	})
}

// resetPassword (administrators): sets a one-time temporary password and
// returns it, as the real product does; there is no e-mail to send. The
// documented body's optional "email" must match the user's address.
func (s *server) resetPassword(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.admin() {
		fail(w, http.StatusForbidden, msgForbidden)
		return
	}
	b, ok := s.readBody(w, r)
	if !ok {
		return
	}
	if email, present, isStr := b.str("email"); present && (!isStr || !strings.EqualFold(strings.TrimSpace(email), c.target.PrimaryEmail())) {
		invalid{"email": "Email does not match the user"}.write(w)
		return
	}
	if auth.DirectoryManaged(c.target) {
		invalid{"password": msgDirPassword}.write(w)
		return
	}
	temp := auth.RandomString(16)
	if err := s.setPassword(r, c, temp); err != nil {
		s.failed(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"success": true, "message": "Password reset successfully",
		"data": map[string]any{"temporaryPassword": temp,
			"note": "Give this temporary password to the user over a safe channel; it is shown only once."}})
}
