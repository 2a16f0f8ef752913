package xyops

import (
	"encoding/json"
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
	for key := range c.params {
		if illegalKeys[key] {
			c.send(fail("api", "Invalid parameter: "+key+" (illegal key)"))
			return
		}
	}
	p, ok := s.require(c)
	if !ok {
		return
	}
	if p.sess == nil {
		c.send(fail("access", "User settings can only be changed from a user session, not with an API Key."))
		return
	}
	var (
		email, name, timezone, language *string
		prefChanges                     = map[string]any{}
	)
	for key, v := range c.params {
		if protectedKeys[key] {
			continue
		}
		str, isStr := v.(string)
		switch key {
		case "email", "full_name", "timezone", "language":
			if !isStr {
				c.send(fail("api", "Malformed parameter: "+key))
				return
			}
		}
		switch key {
		case "email":
			str = strings.TrimSpace(htmlTag.ReplaceAllString(str, ""))
			email = &str
		case "full_name":
			str = strings.TrimSpace(htmlTag.ReplaceAllString(str, ""))
			name = &str
		case "timezone":
			timezone = &str
		case "language":
			language = &str
		case "icon":
			if isStr {
				v = iconChars.ReplaceAllString(str, "")
			}
			prefChanges[key] = v
		default:
			prefChanges[key] = v
		}
	}
	ctx := c.r.Context()
	var (
		updated  *store.User
		prefsObj *store.Object
	)
	err := s.deps.Store.Write(ctx, legacyapi.Actor(c.r, Dialect, p.name()), func(tx store.Tx) error {
		var err error
		updated, err = tx.UpdateUser(ctx, p.user.ID, func(u *store.User) error {
			if email != nil {
				legacyapi.SetPrimaryEmail(u, *email)
			}
			if name != nil {
				u.DisplayName = *name
			}
			if timezone != nil {
				u.Timezone = *timezone
			}
			if language != nil {
				u.PreferredLanguage = *language
			}
			return nil
		})
		if err != nil {
			return err
		}
		prefs, old, err := loadPrefs(ctx, tx, updated)
		if err != nil {
			return err
		}
		prefsObj = old
		if len(prefChanges) == 0 {
			return nil
		}
		for k, v := range prefChanges {
			prefs[k] = v
		}
		doc, err := json.Marshal(prefs)
		if err != nil {
			return err
		}
		var version int64
		if old != nil {
			version = old.Version
		}
		prefsObj = &store.Object{Kind: prefsKind, Name: updated.ID, Doc: doc}
		return tx.PutObject(ctx, prefsObj, version)
	})
	if err != nil {
		switch store.KindOf(err) {
		case store.KindInvalid, store.KindConflict:
			c.send(fail("api", "Invalid parameter: "+err.Error()))
		case store.KindInternal:
			s.internal(c, err)
		default:
			c.send(fail("user", err.Error()))
		}
		return
	}
	if prefsObj == nil {
		prefsObj = &store.Object{Doc: []byte("{}")}
	}
	rec, err := s.userRecord(ctx, updated, prefsObj)
	if err != nil {
		s.internal(c, err)
		return
	}
	c.send(map[string]any{"code": 0, "user": rec})
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
	p, ok := s.require(c)
	if !ok {
		return
	}
	if p.sess == nil {
		c.send(fail("access", "Logging out all sessions requires a user session, not an API Key."))
		return
	}
	ctx := c.r.Context()
	good, err := s.deps.Passwords.Check(ctx, p.user, password)
	if err != nil {
		s.internal(c, err)
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
