package xyops

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// illegalKeys are rejected outright: JavaScript prototype names that would
// corrupt the real server's user record.
var illegalKeys = map[string]bool{
	"constructor": true, "__defineGetter__": true, "__defineSetter__": true, "hasOwnProperty": true,
	"__lookupGetter__": true, "__lookupSetter__": true, "isPrototypeOf": true, "propertyIsEnumerable": true,
	"toString": true, "valueOf": true, "__proto__": true, "toLocaleString": true, "0": true,
}

// protectedKeys are silently dropped: the critical fields of the spec plus
// the ones this adapter derives from elsewhere (identity, timestamps,
// credentials passed in the body).
var protectedKeys = map[string]bool{
	"password": true, "new_password": true, "old_password": true, "salt": true, "active": true,
	"created": true, "privileges": true, "roles": true, "categories": true, "groups": true,
	"force_password_reset": true, "fl_date_code": true, "fl_count": true,
	"username": true, "modified": true, "session_id": true, "csrf_token": true, "api_key": true,
}

var iconChars = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// userSettings is /api/app/user_settings/v1: it merges non-critical
// settings into the caller's record. Fields with a SCIM home (email,
// full_name, timezone, language) go to the user; the rest to its stored
// preferences; both in one write.
func (s *server) userSettings(c *call) {
	if apiErr := illegalKey(c.params); apiErr != nil {
		c.send(apiErr)
		return
	}
	p, ok := s.requireSession(c, "User settings can only be changed from a user session, not with an API Key.")
	if !ok {
		return
	}
	ch, apiErr := parseSettings(c.params)
	if apiErr != nil {
		c.send(apiErr)
		return
	}
	updated, prefsObj, err := s.saveSettings(c, p.user, ch)
	if err != nil {
		s.failed(c, err)
		return
	}
	s.sendUser(c, updated, prefsObj)
}

// illegalKey refuses a body with a key that would corrupt the real
// server's user record, before the session is looked at.
func illegalKey(params map[string]any) *apiError {
	for key := range params {
		if illegalKeys[key] {
			return fail("api", "Invalid parameter: "+key+" (illegal key)")
		}
	}
	return nil
}

// requireSession authenticates a call that only a user session may make;
// refusal is the answer to an API key.
func (s *server) requireSession(c *call, refusal string) (*principal, bool) {
	p, ok := s.require(c)
	if !ok {
		return nil, false
	}
	if p.sess == nil {
		c.send(fail("access", refusal))
		return nil, false
	}
	return p, true
}

// settingsChange is a user_settings body sorted by where each key lives:
// a SCIM attribute of the user (nil: not sent) or its preferences.
type settingsChange struct {
	email, name, timezone, language *string
	prefs                           map[string]any
}

// parseSettings drops the protected keys, checks the SCIM-backed ones
// and cleans email, full_name and icon.
func parseSettings(params map[string]any) (settingsChange, *apiError) {
	ch := settingsChange{prefs: map[string]any{}}
	for key, v := range params {
		if protectedKeys[key] {
			continue
		}
		str, isStr := v.(string)
		switch key {
		case "email", "full_name", "timezone", "language":
			if !isStr {
				return settingsChange{}, fail("api", "Malformed parameter: "+key)
			}
		}
		switch key {
		case "email":
			str = strings.TrimSpace(htmlTag.ReplaceAllString(str, ""))
			ch.email = &str
		case "full_name":
			str = strings.TrimSpace(htmlTag.ReplaceAllString(str, ""))
			ch.name = &str
		case "timezone":
			ch.timezone = &str
		case "language":
			ch.language = &str
		case "icon":
			if isStr {
				v = iconChars.ReplaceAllString(str, "")
			}
			ch.prefs[key] = v
		default:
			ch.prefs[key] = v
		}
	}
	return ch, nil
}

// apply writes the SCIM-backed settings to u (inside UpdateUser).
func (ch settingsChange) apply(u *store.User) error {
	if ch.email != nil {
		legacyapi.SetPrimaryEmail(u, *ch.email)
	}
	if ch.name != nil {
		u.DisplayName = *ch.name
	}
	if ch.timezone != nil {
		u.Timezone = *ch.timezone
	}
	if ch.language != nil {
		u.PreferredLanguage = *ch.language
	}
	return nil
}

// saveSettings writes the user's attributes and its preferences in one
// transaction and returns the user and its preferences object.
func (s *server) saveSettings(c *call, u *store.User, ch settingsChange) (*store.User, *store.Object, error) {
	var (
		updated  *store.User
		prefsObj *store.Object
	)
	err := s.deps.Store.Write(c.r.Context(), legacyapi.Actor(c.r, Dialect, u.UserName), func(tx store.Tx) error {
		var err error
		if updated, err = tx.UpdateUser(c.r.Context(), u.ID, ch.apply); err != nil {
			return err
		}
		prefsObj, err = writePrefs(c, tx, updated, ch.prefs)
		return err
	})
	return updated, prefsObj, err
}

// logoutAll is /api/app/logout_all/v1: with the caller's password it ends
// every other session of the user (synchronously, so the answer is true
// when it arrives) and keeps the current one.
func (s *server) logoutAll(c *call) {
	password, isStr := c.str("password")
	if _, present := c.params["password"]; !present || (!isStr && c.params["password"] == nil) {
		c.send(fail("api", "Missing parameter: password"))
		return
	}
	if !isStr || strings.TrimSpace(password) == "" {
		c.send(fail("api", "Malformed parameter: password"))
		return
	}
	p, ok := s.requireSession(c, "Logging out all sessions requires a user session, not an API Key.")
	if !ok {
		return
	}
	ctx := c.r.Context()
	good, err := s.deps.Passwords.Check(ctx, p.user, password)
	if err != nil {
		s.failed(c, err)
		return
	}
	if !good {
		c.send(fail("login", "Your password is incorrect."))
		return
	}
	err = s.deps.Store.Write(ctx, legacyapi.Actor(c.r, Dialect, p.name()), func(tx store.Tx) error {
		n, err := s.sessions.EndOthers(ctx, tx, p.user.Key, p.sess.Credential)
		if err != nil {
			return err
		}
		return tx.Record(ctx, store.Activity{Action: actionLogoutAll, ResourceType: "User", ResourceID: p.user.ID,
			ResourceKey: p.user.Key, UserKey: p.user.Key, Detail: fmt.Sprintf("%s (%d ended)", logoutAllNotice, n)})
	})
	if err != nil {
		s.internal(c, err)
		return
	}
	c.send(map[string]any{"code": 0})
}
