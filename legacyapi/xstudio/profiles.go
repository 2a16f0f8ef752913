package xstudio

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

// Object kinds and role types this dialect keeps in the store.
const (
	profileKind = "xstudio.profile"
	// profileRole is the SCIM role type naming a user's profile (value: the
	// profile id, display: its name).
	profileRole = "xstudio.profile"
)

// The module and action rights the adapter enforces. Profiles may carry
// other modules (tests, campaigns, …); they are stored and returned as is.
const (
	moduleUsers    = "users"
	moduleProfiles = "profiles"
	moduleTeams    = "teams"

	rightRead   = "read"
	rightCreate = "create"
	rightEdit   = "edit"
	rightDelete = "delete"
)

// allRights is what an admin holds: the built-in admin and every other
// admin of the privilege model.
var allRights = []moduleRights{
	{Module: moduleUsers, Rights: []string{rightRead, rightCreate, rightEdit, rightDelete}},
	{Module: moduleProfiles, Rights: []string{rightRead, rightCreate, rightEdit}},
	{Module: moduleTeams, Rights: []string{rightRead, rightCreate}},
}

// moduleRights is one module's action rights in a profile.
type moduleRights struct {
	Module string   `json:"module"`
	Rights []string `json:"rights"`
}

// profile is a named set of module rights, stored once and referenced by
// users through a SCIM role.
type profile struct {
	ID      int64          `json:"id"`
	Name    string         `json:"name"`
	Modules []moduleRights `json:"modules"`
}

// rights is what a user may do: everything (admin) or its profile's rights.
type rights struct {
	admin   bool
	modules []moduleRights
}

func (r rights) can(module, right string) bool {
	if r.admin {
		return true
	}
	for _, m := range r.modules {
		if m.Module == module && slices.Contains(m.Rights, right) {
			return true
		}
	}
	return false
}

func (c *call) require(module, right string) error {
	if !c.rights.can(module, right) {
		return errRights
	}
	return nil
}

// requireOrSelf allows the right's holders and the user itself.
func (c *call) requireOrSelf(userKey int64, module, right string) error {
	if c.user.Key == userKey {
		return nil
	}
	return c.require(module, right)
}

// objectName keeps objects listed in id order.
func objectName(id int64) string { return fmt.Sprintf("%012d", id) }

// nextID is one more than the largest id of a kind; it runs inside a write
// transaction, which the store serialises.
func nextID(ctx context.Context, r store.Reader, kind string, first int64) (int64, error) {
	objs, err := r.ListObjects(ctx, kind)
	if err != nil {
		return 0, err
	}
	if len(objs) == 0 {
		return first, nil
	}
	last, err := strconv.ParseInt(objs[len(objs)-1].Name, 10, 64)
	if err != nil {
		return 0, err
	}
	return max(last+1, first), nil
}

func putDoc(ctx context.Context, tx store.Tx, kind string, id int64, v any) error {
	doc, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.PutObject(ctx, &store.Object{Kind: kind, Name: objectName(id), Doc: doc}, 0)
}

func loadProfile(ctx context.Context, r store.Reader, id int64) (*profile, error) {
	o, err := r.GetObject(ctx, profileKind, objectName(id))
	if store.IsNotFound(err) {
		return nil, failf("profile %d does not exist", id)
	}
	if err != nil {
		return nil, err
	}
	var p profile
	return &p, json.Unmarshal(o.Doc, &p)
}

func listProfiles(ctx context.Context, r store.Reader) ([]profile, error) {
	objs, err := r.ListObjects(ctx, profileKind)
	if err != nil {
		return nil, err
	}
	out := make([]profile, len(objs))
	for i, o := range objs {
		if err := json.Unmarshal(o.Doc, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// profileID returns the id of the user's profile, 0 for none.
func profileID(u *store.User) int64 {
	for _, r := range u.Roles {
		if r.Type == profileRole {
			if id, err := strconv.ParseInt(r.Value, 10, 64); err == nil {
				return id
			}
		}
	}
	return 0
}

// setProfile makes p the user's only profile role (nil removes it).
func setProfile(u *store.User, p *profile) {
	u.Roles = slices.DeleteFunc(u.Roles, func(r store.Value) bool { return r.Type == profileRole })
	if p != nil {
		u.Roles = append(u.Roles, store.Value{Value: strconv.FormatInt(p.ID, 10), Display: p.Name, Type: profileRole})
	}
}

// readRights is what a moderator (a read-only administrator) holds
// besides its profile's rights.
var readRights = []moduleRights{
	{Module: moduleUsers, Rights: []string{rightRead}},
	{Module: moduleProfiles, Rights: []string{rightRead}},
	{Module: moduleTeams, Rights: []string{rightRead}},
}

// rightsOf is what u may do: every right for an admin or the owner, the
// read rights for a moderator, and its profile's rights. Rights follow
// from the privilege model and the profile, never from a name.
func (s *server) rightsOf(ctx context.Context, r store.Reader, u *store.User) (rights, error) {
	priv := store.PrivilegeOf(u)
	if priv >= store.PrivilegeAdmin {
		return rights{admin: true}, nil
	}
	var out rights
	if priv == store.PrivilegeModerator {
		out.modules = mergeRights(nil, readRights)
	}
	id := profileID(u)
	if id == 0 {
		return out, nil
	}
	p, err := loadProfile(ctx, r, id)
	if _, gone := err.(*failure); gone { // a dangling reference grants nothing
		return out, nil
	}
	if err != nil {
		return rights{}, err
	}
	out.modules = mergeRights(out.modules, p.Modules)
	return out, nil
}

// mergeRights adds the rights of more to have, one entry per module.
func mergeRights(have, more []moduleRights) []moduleRights {
	out := slices.Clone(have)
	for _, m := range more {
		i := slices.IndexFunc(out, func(o moduleRights) bool { return o.Module == m.Module })
		if i < 0 {
			out = append(out, moduleRights{Module: m.Module, Rights: slices.Clone(m.Rights)})
			continue
		}
		rs := slices.Clone(out[i].Rights)
		for _, r := range m.Rights {
			if !slices.Contains(rs, r) {
				rs = append(rs, r)
			}
		}
		out[i].Rights = rs
	}
	return out
}

func (s *server) getUserActionRights(c *call) (map[string]any, error) {
	mods := c.rights.modules
	if c.rights.admin {
		mods = allRights
	}
	if mods == nil {
		mods = []moduleRights{}
	}
	return map[string]any{"rights": mods}, nil
}

func (s *server) getProfiles(c *call) (map[string]any, error) {
	if err := c.require(moduleProfiles, rightRead); err != nil {
		return nil, err
	}
	ps, err := listProfiles(c.ctx, s.deps.Store)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(ps))
	for i, p := range ps {
		out[i] = map[string]any{"id": p.ID, "name": p.Name}
	}
	return map[string]any{"profiles": out}, nil
}

func (s *server) getProfile(c *call) (map[string]any, error) {
	id, err := c.id("profileId")
	if err != nil {
		return nil, err
	}
	if err := c.require(moduleProfiles, rightRead); err != nil {
		return nil, err
	}
	p, err := loadProfile(c.ctx, s.deps.Store, id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"profile": p}, nil
}

func (s *server) getUserProfile(c *call) (map[string]any, error) {
	u, err := s.readableUser(c)
	if err != nil {
		return nil, err
	}
	id := profileID(u)
	if id == 0 {
		return map[string]any{"profile": nil}, nil
	}
	p, err := loadProfile(c.ctx, s.deps.Store, id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"profile": p}, nil
}

// rightsBody reads the JSON list of modules and rights that createProfile
// and updateProfile carry as the (only) part of a multipart body. The list
// may also come wrapped as {"modules": […]}.
func (c *call) rightsBody() ([]moduleRights, error) {
	raw, err := c.singlePart()
	if err != nil {
		return nil, err
	}
	var mods []moduleRights
	if err := json.Unmarshal(raw, &mods); err != nil {
		var wrapped struct {
			Modules *[]moduleRights `json:"modules"`
		}
		if json.Unmarshal(raw, &wrapped) != nil || wrapped.Modules == nil {
			return nil, failf("malformed rights list")
		}
		mods = *wrapped.Modules
	}
	for i, m := range mods {
		if strings.TrimSpace(m.Module) == "" {
			return nil, failf("malformed rights list: module %d has no name", i+1)
		}
		if mods[i].Rights == nil {
			mods[i].Rights = []string{}
		}
	}
	return mods, nil
}

// singlePart returns the content of a multipart body's only part, a file
// or a field.
func (c *call) singlePart() ([]byte, error) {
	if c.form == nil {
		return nil, failf("this command requires a multipart/form-data body")
	}
	var parts [][]byte
	for _, vs := range c.form.Value {
		for _, v := range vs {
			parts = append(parts, []byte(v))
		}
	}
	for _, fhs := range c.form.File {
		for _, fh := range fhs {
			f, err := fh.Open()
			if err != nil {
				return nil, err
			}
			b, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return nil, err
			}
			parts = append(parts, b)
		}
	}
	if len(parts) != 1 {
		return nil, failf("the body must hold exactly one part")
	}
	return parts[0], nil
}

func (s *server) createProfile(c *call) (map[string]any, error) {
	name := strings.TrimSpace(c.params.Get("profileName"))
	if name == "" {
		return nil, failf("missing parameter: profileName")
	}
	if err := c.require(moduleProfiles, rightCreate); err != nil {
		return nil, err
	}
	mods, err := c.rightsBody()
	if err != nil {
		return nil, err
	}
	p := &profile{Name: name, Modules: mods}
	err = s.deps.Store.Write(c.ctx, c.actor(), func(tx store.Tx) error {
		if err := uniqueProfileName(c.ctx, tx, name, 0); err != nil {
			return err
		}
		id, err := nextID(c.ctx, tx, profileKind, 1)
		if err != nil {
			return err
		}
		p.ID = id
		return putDoc(c.ctx, tx, profileKind, id, p)
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"profileId": p.ID}, nil
}

func uniqueProfileName(ctx context.Context, r store.Reader, name string, except int64) error {
	ps, err := listProfiles(ctx, r)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.ID != except && strings.EqualFold(p.Name, name) {
			return failf("a profile with this name already exists")
		}
	}
	return nil
}

// updateProfile replaces a profile's rights (and renames it when
// profileName is given). Users keep referencing it by id.
func (s *server) updateProfile(c *call) (map[string]any, error) {
	id, err := c.id("profileId")
	if err != nil {
		return nil, err
	}
	if err := c.require(moduleProfiles, rightEdit); err != nil {
		return nil, err
	}
	mods, err := c.rightsBody()
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(c.params.Get("profileName"))
	err = s.deps.Store.Write(c.ctx, c.actor(), func(tx store.Tx) error {
		p, err := loadProfile(c.ctx, tx, id)
		if err != nil {
			return err
		}
		if name != "" {
			if err := uniqueProfileName(c.ctx, tx, name, id); err != nil {
				return err
			}
			p.Name = name
		}
		p.Modules = mods
		return putDoc(c.ctx, tx, profileKind, id, p)
	})
	return nil, err
}
