package xstudio

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// actionResetRequest records a resetUserPassword call; the adapter has no
// mailer, so the request is left in the activity log for an operator.
const actionResetRequest = "password.reset_request"

func userByKey(ctx context.Context, r store.Reader, key int64) (*store.User, error) {
	u, err := r.GetUserByKey(ctx, key)
	if store.IsNotFound(err) {
		return nil, failf("user %d does not exist", key)
	}
	return u, err
}

// readableUser loads the user the userId parameter names, which the
// caller may read: itself, or anyone with the users/read right.
func (s *server) readableUser(c *call) (*store.User, error) {
	id, err := c.id("userId")
	if err != nil {
		return nil, err
	}
	u, err := userByKey(c.ctx, s.deps.Store, id)
	if err != nil {
		return nil, err
	}
	if err := c.requireOrSelf(u.Key, moduleUsers, rightRead); err != nil {
		return nil, err
	}
	return u, nil
}

// userForm is the field list of getUserForm, the fields createUser takes.
var userForm = []map[string]any{
	{"name": "name", "type": "string", "mandatory": true},
	{"name": "firstName", "type": "string", "mandatory": false},
	{"name": "lastName", "type": "string", "mandatory": false},
	{"name": "email", "type": "string", "mandatory": false},
	{"name": "phone", "type": "string", "mandatory": false},
	{"name": "password", "type": "password", "mandatory": true},
	{"name": "profileId", "type": "integer", "mandatory": false},
	{"name": "enabled", "type": "boolean", "mandatory": false},
}

func (s *server) getUserForm(c *call) (map[string]any, error) {
	if err := c.require(moduleUsers, rightCreate); err != nil {
		return nil, err
	}
	return map[string]any{"form": userForm}, nil
}

// details is a user in the layout of getUserDetails / updateUserDetails;
// name is the one XStudio knows it by (c.nameOf).
func details(u *store.User, name string, folderID int64) map[string]any {
	// The number a write changes (legacyapi.SetPrimary): the primary, else
	// the first.
	phone := ""
	for i, p := range u.PhoneNumbers {
		if p.Primary || i == 0 {
			phone = p.Value
		}
		if p.Primary {
			break
		}
	}
	first, last := legacyapi.GivenFamily(u)
	return map[string]any{"id": u.Key, "name": name, "firstName": first,
		"lastName": last, "email": u.PrimaryEmail(), "phone": phone,
		"parentFolderId": folderID, "profileId": profileID(u), "enabled": u.Active}
}

func (s *server) getUserDetails(c *call) (map[string]any, error) {
	u, err := s.readableUser(c)
	if err != nil {
		return nil, err
	}
	folderID, err := folderOf(c.ctx, s.deps.Store, u)
	if err != nil {
		return nil, err
	}
	name, err := c.nameOf(s.deps.Store, u)
	if err != nil {
		return nil, err
	}
	return map[string]any{"user": details(u, name, folderID)}, nil
}

// userFields reads the user form of createUser / updateUserDetails from a
// multipart body: one part per field, or one part holding the JSON object.
func (c *call) userFields() (map[string]string, error) {
	if c.form == nil {
		return nil, failf("this command requires a multipart/form-data body")
	}
	if raw, err := c.singlePart(); err == nil && strings.HasPrefix(strings.TrimSpace(string(raw)), "{") {
		var obj map[string]any
		if json.Unmarshal(raw, &obj) != nil {
			return nil, failf("malformed user form")
		}
		out := make(map[string]string, len(obj))
		for k, v := range obj {
			switch v := v.(type) {
			case string:
				out[k] = v
			case float64:
				out[k] = strconv.FormatFloat(v, 'f', -1, 64)
			case bool:
				out[k] = strconv.FormatBool(v)
			case nil:
				out[k] = ""
			default:
				return nil, failf("malformed user form: field %s", k)
			}
		}
		return out, nil
	}
	out := make(map[string]string, len(c.form.Value))
	for k, vs := range c.form.Value {
		if len(vs) > 0 {
			out[k] = vs[0]
		}
	}
	return out, nil
}

// userChange is a validated user form, applied inside a write.
type userChange struct {
	fields   map[string]string
	hash     string // of a new password
	password store.Secret
	profile  *profile
	folderID int64 // 0: unchanged
	enabled  *bool
}

// prepare checks the form and does the slow work (password hashing) before
// the write transaction starts.
func (s *server) prepare(c *call, fields map[string]string) (*userChange, error) {
	ch := &userChange{fields: fields}
	if pw, ok := fields["password"]; ok && pw != "" {
		h, err := auth.HashPassword(pw)
		if err != nil {
			return nil, err
		}
		ch.hash, ch.password = h, store.Secret(pw)
	}
	if v, ok := fields["enabled"]; ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, failf("invalid field: enabled")
		}
		ch.enabled = &b
	}
	for _, name := range []string{"profileId", "parentFolderId"} {
		v, ok := fields[name]
		if !ok || v == "" || v == "0" {
			continue
		}
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return nil, failf("invalid field: %s", name)
		}
		if name == "profileId" {
			ch.profile = &profile{ID: id}
		} else {
			ch.folderID = id
		}
	}
	return ch, nil
}

// apply writes the change to u (inside fn of UpdateUser or before
// CreateUser).
func (ch *userChange) apply(u *store.User) error {
	f := ch.fields
	if v, ok := f["name"]; ok {
		u.UserName = strings.TrimSpace(v)
	}
	if v, ok := f["firstName"]; ok {
		u.Name.GivenName = v
	}
	if v, ok := f["lastName"]; ok {
		u.Name.FamilyName = v
	}
	_, first := f["firstName"]
	_, last := f["lastName"]
	if first || last { // the formatted name would be stale
		u.Name.Formatted = ""
	}
	if v, ok := f["email"]; ok {
		// Every other door refuses what is not an address; a user made here
		// must be writable through them too.
		if v = strings.TrimSpace(v); v != "" && !legacyapi.ValidEmail(v) {
			return failf("invalid e-mail address: %s", v)
		}
		u.Emails = legacyapi.SetPrimary(u.Emails, v, "work")
	}
	if v, ok := f["phone"]; ok {
		u.PhoneNumbers = legacyapi.SetPrimary(u.PhoneNumbers, strings.TrimSpace(v), "work")
	}
	if ch.hash != "" {
		if auth.DirectoryManaged(u) {
			return failf("the password of this user is managed by the directory")
		}
		u.PasswordHash, u.NewPassword = ch.hash, ch.password
	}
	if ch.enabled != nil {
		u.Active = *ch.enabled
	}
	if ch.profile != nil {
		setProfile(u, ch.profile)
	}
	return nil
}

// dropUnchanged leaves out the fields sent back as getUserDetails shows
// them (legacyapi.SameAsShown), so that the details read here write back
// unchanged: an e-mail another door stored that is no address is not
// refused, and names derived from displayName store nothing.
func (ch *userChange) dropUnchanged(shown map[string]any) {
	for k, v := range ch.fields {
		sv, ok := shown[k]
		if !ok || k == "id" || (fmt.Sprint(sv) != strings.TrimSpace(v) && !legacyapi.SameAsShown(sv, v)) {
			continue
		}
		delete(ch.fields, k)
		switch k {
		case "enabled":
			ch.enabled = nil
		case "profileId":
			ch.profile = nil
		case "parentFolderId":
			ch.folderID = 0
		}
	}
}

// resolve loads the profile and checks the folder a change refers to.
func (ch *userChange) resolve(ctx context.Context, r store.Reader) error {
	if ch.profile != nil {
		p, err := loadProfile(ctx, r, ch.profile.ID)
		if err != nil {
			return err
		}
		ch.profile = p
	}
	if ch.folderID != 0 {
		return folderExists(ctx, r, ch.folderID)
	}
	return nil
}

// createUser takes the form of getUserForm as a multipart body and the
// folder as parentFolderId.
func (s *server) createUser(c *call) (map[string]any, error) {
	if err := c.require(moduleUsers, rightCreate); err != nil {
		return nil, err
	}
	fields, err := c.userFields()
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"name", "password"} {
		if strings.TrimSpace(fields[name]) == "" {
			return nil, failf("missing field: %s", name)
		}
	}
	if c.params.Has("parentFolderId") {
		fields["parentFolderId"] = c.params.Get("parentFolderId")
	}
	ch, err := s.prepare(c, fields)
	if err != nil {
		return nil, err
	}
	u := &store.User{Active: true}
	err = s.deps.Store.Write(c.ctx, c.actor(), func(tx store.Tx) error {
		if err := ch.resolve(c.ctx, tx); err != nil {
			return err
		}
		if err := ch.apply(u); err != nil {
			return err
		}
		if err := tx.CreateUser(c.ctx, u); err != nil {
			return err
		}
		if ch.folderID != 0 {
			return place(c.ctx, tx, u, ch.folderID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"userId": u.Key}, nil
}

// updateUserDetails changes the fields present in the form of the user
// whose id is in it. A user may change its own names, e-mail, phone and
// password; anything else needs the users/edit right.
func (s *server) updateUserDetails(c *call) (map[string]any, error) {
	fields, err := c.userFields()
	if err != nil {
		return nil, err
	}
	if v, ok := fields["id"]; !ok || v == "" {
		if !c.params.Has("userId") {
			return nil, failf("missing field: id")
		}
		fields["id"] = c.params.Get("userId")
	}
	key, err := strconv.ParseInt(strings.TrimSpace(fields["id"]), 10, 64)
	if err != nil || key <= 0 {
		return nil, failf("invalid field: id")
	}
	delete(fields, "id")
	// Another user's details need users/edit; a user's own need it for
	// the fields only an editor changes, unless they come back as shown
	// (checked once the stored user is read).
	if key != c.user.Key {
		if err := c.require(moduleUsers, rightEdit); err != nil {
			return nil, err
		}
	}
	if name, ok := fields["name"]; ok && strings.TrimSpace(name) == "" {
		return nil, failf("missing field: name")
	}
	ch, err := s.prepare(c, fields)
	if err != nil {
		return nil, err
	}
	err = s.deps.Store.Write(c.ctx, c.actor(), func(tx store.Tx) error {
		u, err := userByKey(c.ctx, tx, key)
		if err != nil {
			return err
		}
		builtin, err := c.isBuiltin(tx, u)
		if err != nil {
			return err
		}
		if builtin {
			// XStudio knows it as "admin": that name (or its own) keeps it.
			if name, ok := fields["name"]; ok && (store.IsReservedUserName(name) || strings.EqualFold(strings.TrimSpace(name), u.UserName)) {
				delete(fields, "name")
			}
			if _, renamed := fields["name"]; renamed || ch.enabled != nil && !*ch.enabled {
				return failf("the built-in admin cannot be renamed or disabled")
			}
		}
		folderID, err := folderOf(c.ctx, tx, u)
		if err != nil {
			return err
		}
		name, err := c.nameOf(tx, u)
		if err != nil {
			return err
		}
		ch.dropUnchanged(details(u, name, folderID))
		for _, k := range []string{"name", "enabled", "profileId", "parentFolderId"} {
			if _, ok := fields[k]; ok {
				if err := c.require(moduleUsers, rightEdit); err != nil {
					return err
				}
				break
			}
		}
		if err := ch.resolve(c.ctx, tx); err != nil {
			return err
		}
		// The privilege rules hold here too: a password, name or state
		// of an account above the caller's is not the caller's to change,
		// whatever its XStudio rights.
		if _, err := tx.UpdateUser(c.ctx, u.ID, legacyapi.CheckedUpdate(store.PrivilegeOf(c.user), ch.apply)); err != nil {
			return err
		}
		if ch.folderID != 0 {
			return place(c.ctx, tx, u, ch.folderID)
		}
		return nil
	})
	return nil, err
}

// setUserProfile makes profileId the user's profile.
func (s *server) setUserProfile(c *call) (map[string]any, error) {
	key, err := c.id("userId")
	if err != nil {
		return nil, err
	}
	pid, err := c.id("profileId")
	if err != nil {
		return nil, err
	}
	if err := c.require(moduleUsers, rightEdit); err != nil {
		return nil, err
	}
	return nil, s.deps.Store.Write(c.ctx, c.actor(), func(tx store.Tx) error {
		u, err := userByKey(c.ctx, tx, key)
		if err != nil {
			return err
		}
		p, err := loadProfile(c.ctx, tx, pid)
		if err != nil {
			return err
		}
		_, err = tx.UpdateUser(c.ctx, u.ID, func(u *store.User) error { setProfile(u, p); return nil })
		return err
	})
}

// deleteUsers deletes every listed user, or none when one is unknown, the
// built-in admin or the caller.
func (s *server) deleteUsers(c *call) (map[string]any, error) {
	ids, err := c.ids("userIds", false)
	if err != nil {
		return nil, err
	}
	if err := c.require(moduleUsers, rightDelete); err != nil {
		return nil, err
	}
	return nil, s.deps.Store.Write(c.ctx, c.actor(), func(tx store.Tx) error {
		for _, id := range ids {
			u, err := userByKey(c.ctx, tx, id)
			if err != nil {
				return err
			}
			builtin, err := c.isBuiltin(tx, u)
			if err != nil {
				return err
			}
			if builtin || u.Key == c.user.Key || store.CheckDelete(store.PrivilegeOf(c.user), u) != nil {
				return failf("this user cannot be deleted")
			}
			if err := tx.DeleteUser(c.ctx, u.ID); err != nil {
				return err
			}
			if err := tx.DeleteObject(c.ctx, placementKind, u.ID); err != nil && !store.IsNotFound(err) {
				return err
			}
		}
		return nil
	})
}

// updateUserPassword sets the caller's own password.
func (s *server) updateUserPassword(c *call) (map[string]any, error) {
	pw := c.params.Get("password")
	if pw == "" {
		return nil, failf("missing parameter: password")
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return nil, err
	}
	ch := &userChange{hash: hash, password: store.Secret(pw)}
	return nil, s.deps.Store.Write(c.ctx, c.actor(), func(tx store.Tx) error {
		// The store records the password change (which lifts a lockout).
		_, err := tx.UpdateUser(c.ctx, c.user.ID, ch.apply)
		return err
	})
}

// resetUserPassword would e-mail a reset link; scimbridge sends no mail, so
// the request is recorded in the user's activity for an operator or a
// mailer that reads the log.
func (s *server) resetUserPassword(c *call) (map[string]any, error) {
	name := strings.TrimSpace(c.params.Get("username"))
	if name == "" {
		return nil, failf("missing parameter: username")
	}
	u, err := c.userByName(s.deps.Store, name)
	if store.IsNotFound(err) {
		if err := c.require(moduleUsers, rightEdit); err != nil {
			return nil, err
		}
		return nil, failf("unknown user")
	}
	if err != nil {
		return nil, err
	}
	if err := c.requireOrSelf(u.Key, moduleUsers, rightEdit); err != nil {
		return nil, err
	}
	return nil, s.deps.Store.Write(c.ctx, c.actor(), func(tx store.Tx) error {
		return tx.Record(c.ctx, store.Activity{Action: actionResetRequest, ResourceType: "User", ResourceID: u.ID,
			ResourceKey: u.Key, UserKey: u.Key, Detail: "password reset link requested (" + Dialect + ")"})
	})
}
