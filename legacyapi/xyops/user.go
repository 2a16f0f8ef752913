package xyops

import (
	"context"
	"encoding/json"
	"maps"

	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// prefsKind holds each user's free-form xyOps settings (UI preferences
// that have no SCIM attribute), one object per user named by its SCIM id.
const prefsKind = "xyops.prefs"

// Role types that carry xyOps' privileges and role ids in SCIM roles. The
// "admin" privilege is not one of them: it is scimbridge's admin privilege
// (store.PrivilegeOf), the same administrator every door knows.
const (
	privilegeRole = "xyops.privilege"
	xyopsRole     = "xyops.role"
)

// adminPrivilege is the xyOps privilege that maps onto store.PrivilegeAdmin.
const adminPrivilege = "admin"

// loadPrefs returns the user's stored settings and their object version
// (0 when none are stored).
func loadPrefs(ctx context.Context, r store.Reader, u *store.User) (map[string]any, *store.Object, error) {
	o, err := r.GetObject(ctx, prefsKind, u.ID)
	if store.IsNotFound(err) {
		return map[string]any{}, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	prefs := map[string]any{}
	if err := json.Unmarshal(o.Doc, &prefs); err != nil {
		return nil, nil, err
	}
	return prefs, o, nil
}

func activeFlag(u *store.User) int {
	if u.Active {
		return 1
	}
	return 0
}

// userStub is the short user form activity rows carry.
func userStub(u *store.User) map[string]any {
	return map[string]any{"username": u.UserName, "full_name": legacyapi.FullName(u), "email": u.PrimaryEmail(),
		"active": activeFlag(u), "created": u.Meta.Created.Unix(), "modified": u.Meta.LastModified.Unix()}
}

// userRecord is the whole xyOps user: the stored preferences overlaid with
// the fields that come from SCIM attributes. password and salt never appear.
// prefs nil means load them.
func (s *server) userRecord(ctx context.Context, u *store.User, prefsObj *store.Object) (map[string]any, error) {
	var prefs map[string]any
	if prefsObj == nil {
		var err error
		if prefs, prefsObj, err = loadPrefs(ctx, s.deps.Store, u); err != nil {
			return nil, err
		}
	} else if err := json.Unmarshal(prefsObj.Doc, &prefs); err != nil {
		return nil, err
	}
	rec := maps.Clone(prefs)
	if rec == nil {
		rec = map[string]any{}
	}
	privileges := map[string]any{}
	roles := []string{}
	for _, r := range u.Roles {
		switch r.Type {
		case privilegeRole:
			privileges[r.Value] = 1
		case xyopsRole:
			roles = append(roles, r.Value)
		}
	}
	// An admin or the owner, however it became one, is an xyOps admin.
	delete(privileges, adminPrivilege)
	if store.IsAdmin(u) {
		privileges[adminPrivilege] = 1
	}
	modified := u.Meta.LastModified
	if prefsObj != nil && prefsObj.Updated.After(modified) {
		modified = prefsObj.Updated
	}
	maps.Copy(rec, map[string]any{
		"username": u.UserName, "full_name": legacyapi.FullName(u), "email": u.PrimaryEmail(), "active": activeFlag(u),
		"created": u.Meta.Created.Unix(), "modified": modified.Unix(),
		"privileges": privileges, "roles": roles, "categories": []string{}, "groups": []string{},
	})
	if u.Timezone != "" {
		rec["timezone"] = u.Timezone
	}
	if u.PreferredLanguage != "" {
		rec["language"] = u.PreferredLanguage
	}
	return rec, nil
}

// sendUser answers {code: 0, user: …} after a write; prefsObj is the
// user's preferences as written (nil: none are stored).
func (s *server) sendUser(c *call, u *store.User, prefsObj *store.Object) {
	if prefsObj == nil {
		prefsObj = &store.Object{Doc: []byte("{}")}
	}
	rec, err := s.userRecord(c.r.Context(), u, prefsObj)
	if err != nil {
		s.failed(c, err)
		return
	}
	c.send(map[string]any{"code": 0, "user": rec})
}
