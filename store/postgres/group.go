package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimbridge/scimbridge/store"
)

// groupCols selects a group, its externalId in the domain bound at
// placeholder domain.
func groupCols(domain string) string {
	return `g.key, g.id, g.display_name, ` + externalIDExpr(externalGroup, "g", domain) + `, g.created, g.last_modified, g.version,
 g.source, g.source_id, g.source_dn`
}

func scanGroup(row pgx.Row) (*store.Group, error) {
	var (
		g                      store.Group
		ext, src, srcID, srcDN *string
		created, modified      time.Time
	)
	if err := row.Scan(&g.Key, &g.ID, &g.DisplayName, &ext, &created, &modified, &g.Meta.Version, &src, &srcID, &srcDN); err != nil {
		return nil, err
	}
	g.ExternalID = str(ext)
	g.Source = store.Source{Name: str(src), ID: str(srcID), DN: str(srcDN)}
	g.Meta.Created, g.Meta.LastModified = created.UTC(), modified.UTC()
	return &g, nil
}

func notFoundGroup() error { return store.Errorf(store.KindNotFound, "group not found") }

// getGroup reads the group where finds, with its externalId in the
// context's domain (bound after where's own arguments).
func (r *reader) getGroup(ctx context.Context, withMembers bool, where string, args ...any) (*store.Group, error) {
	sql := `SELECT ` + groupCols("$"+itoa(len(args)+1)) + ` FROM groups g WHERE ` + where
	if r.tx != nil {
		sql += ` FOR NO KEY UPDATE OF g`
	}
	g, err := scanGroup(r.q.QueryRow(ctx, sql, append(args, store.DomainOf(ctx))...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFoundGroup()
	}
	if err != nil {
		return nil, mapErr(err)
	}
	if withMembers {
		if g.Members, err = r.GroupMembers(ctx, g.Key, 0, -1); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// GetGroup returns the group with the given SCIM id.
func (r *reader) GetGroup(ctx context.Context, id string, withMembers bool) (*store.Group, error) {
	if !storable(id) {
		return nil, notFoundGroup()
	}
	return r.getGroup(ctx, withMembers, `g.id = $1`, id)
}

// GetGroupByKey returns the group with the given integer key.
func (r *reader) GetGroupByKey(ctx context.Context, key int64, withMembers bool) (*store.Group, error) {
	return r.getGroup(ctx, withMembers, `g.key = $1`, key)
}

// GetGroupBySource returns the group synced from source with that identity.
func (r *reader) GetGroupBySource(ctx context.Context, source, sourceID string) (*store.Group, error) {
	if !storable(source) || !storable(sourceID) {
		return nil, notFoundGroup()
	}
	return r.getGroup(ctx, false, `g.source = $1 AND g.source_id = $2`, source, sourceID)
}

const membersSQL = `SELECT m.member_type, m.member_key, coalesce(mu.id, mg.id),
 coalesce(nullif(mu.display_name, ''), mu.user_name, mg.display_name)
FROM memberships m
LEFT JOIN users mu ON m.member_type = 0 AND mu.key = m.member_key
LEFT JOIN groups mg ON m.member_type = 1 AND mg.key = m.member_key
WHERE m.group_key = $1 ORDER BY m.member_type, m.member_key LIMIT $2 OFFSET $3`

// GroupMembers pages through a group's members (limit < 0: all).
func (r *reader) GroupMembers(ctx context.Context, groupKey int64, offset, limit int) ([]store.Member, error) {
	var lim *int
	if limit >= 0 {
		lim = &limit
	}
	rows, err := r.query(ctx, membersSQL, groupKey, lim, offset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	members := []store.Member{}
	for rows.Next() {
		var m store.Member
		var typ int16
		var id, display *string
		if err := rows.Scan(&typ, &m.Key, &id, &display); err != nil {
			return nil, err
		}
		m.Type, m.ID, m.Display = memberType(typ), str(id), str(display)
		members = append(members, m)
	}
	return members, mapErr(rows.Err())
}

// HasMember reports whether the group directly holds the member.
func (r *reader) HasMember(ctx context.Context, groupKey int64, t store.MemberType, memberKey int64) (bool, error) {
	var ok bool
	err := r.queryRow(ctx, []any{&ok}, `SELECT EXISTS (SELECT 1 FROM memberships WHERE group_key = $1 AND member_type = $2 AND member_key = $3)`,
		groupKey, memberTypeCode(t), memberKey)
	return ok, err
}

func memberType(code int16) store.MemberType {
	if code == 1 {
		return store.MemberGroup
	}
	return store.MemberUser
}

func memberTypeCode(t store.MemberType) int16 {
	if t == store.MemberGroup {
		return 1
	}
	return 0
}

// ListGroups runs a query over groups.
func (r *reader) ListGroups(ctx context.Context, q store.Query) (*store.GroupPage, error) {
	sel, err := buildSelect(groupTable, groupCols, q, store.DomainOf(ctx))
	if err != nil {
		return nil, err
	}
	page := &store.GroupPage{}
	if q.Limit > 0 {
		page.Groups, page.NextCursor, err = scanPage(ctx, r, groupTable, q, sel, scanGroup,
			func(g *store.Group) int64 { return g.Key })
		if err != nil {
			return nil, err
		}
		if q.Related {
			for _, g := range page.Groups {
				if g.Members, err = r.GroupMembers(ctx, g.Key, 0, -1); err != nil {
					return nil, err
				}
			}
		}
	}
	page.Total, err = r.total(ctx, q, sel, len(page.Groups))
	return page, err
}

// CreateGroup stores a new group and its members.
func (t *txn) CreateGroup(ctx context.Context, g *store.Group) error {
	if err := store.NormaliseGroup(g); err != nil {
		return err
	}
	if g.ID == "" {
		g.ID = newID()
	}
	g.Meta = store.Meta{Created: t.now, LastModified: t.now, Version: 1}
	err := t.guarded(ctx, []any{&g.Key}, `WITH g AS (
 INSERT INTO groups (id, display_name, created, last_modified, version, source, source_id, source_dn)
 VALUES ($1, $2, $3, $3, 1, $4, $5, $6) RETURNING key AS k),
 x AS (INSERT INTO external_ids (resource_type, resource_key, domain, external_id)
  SELECT 1, k, $7, $8 FROM g WHERE $8::text <> '')
SELECT k FROM g`,
		g.ID, g.DisplayName, t.now, nullStr(g.Source.Name), nullStr(g.Source.ID), nullStr(g.Source.DN),
		store.DomainOf(ctx), g.ExternalID)
	if err != nil {
		return err
	}
	t.record("group.create", "Group", g.ID, g.Key, 0, "", "displayName="+g.DisplayName)
	t.change(ctx, nil, groupSnap(g))
	if len(g.Members) == 0 {
		return nil
	}
	refs := make([]store.MemberRef, len(g.Members))
	for i, m := range g.Members {
		refs[i] = store.MemberRef{ID: m.ID, Type: m.Type}
	}
	resolved, err := t.resolveMembers(ctx, g, refs)
	if err != nil {
		return err
	}
	if _, err := t.insertMembers(ctx, g, resolved, false); err != nil {
		return err
	}
	g.Members, err = t.GroupMembers(ctx, g.Key, 0, -1)
	return err
}

// UpdateGroup changes a group's own attributes.
func (t *txn) UpdateGroup(ctx context.Context, id string, fn func(g *store.Group) error) (*store.Group, error) {
	old, err := t.GetGroup(ctx, id, false)
	if err != nil {
		return nil, err
	}
	g := *old
	if err := fn(&g); err != nil {
		return nil, err
	}
	g.Key, g.ID, g.Meta, g.Members = old.Key, old.ID, old.Meta, nil
	if err := store.NormaliseGroupUpdate(old, &g); err != nil {
		return nil, err
	}
	if g.DisplayName == old.DisplayName && g.ExternalID == old.ExternalID && g.Source == old.Source {
		return old, nil
	}
	g.Meta.Version++
	g.Meta.LastModified = t.now
	err = t.guarded(ctx, nil, `UPDATE groups SET display_name = $1, last_modified = $2, version = $3,
 source = $4, source_id = $5, source_dn = $6 WHERE key = $7`,
		g.DisplayName, t.now, g.Meta.Version,
		nullStr(g.Source.Name), nullStr(g.Source.ID), nullStr(g.Source.DN), g.Key)
	if err != nil {
		return nil, err
	}
	if g.ExternalID != old.ExternalID {
		if err := t.setExternalID(ctx, externalGroup, g.Key, g.ExternalID); err != nil {
			return nil, err
		}
	}
	detail := "displayName=" + g.DisplayName
	if g.DisplayName != old.DisplayName {
		detail = fmt.Sprintf("displayName %q → %q", old.DisplayName, g.DisplayName)
	}
	t.record("group.update", "Group", g.ID, g.Key, 0, "", detail)
	t.change(ctx, groupSnap(old), groupSnap(&g))
	return &g, nil
}

// DeleteGroup removes a group; its memberships go with it.
func (t *txn) DeleteGroup(ctx context.Context, id string) error {
	// With the default domain's externalId, as the outbox keeps it: the
	// rows of every domain go with the group.
	g, err := t.GetGroup(store.WithDomain(ctx, store.DefaultDomain), id, false)
	if err != nil {
		return err
	}
	// Members lose a group: their representation changes.
	if _, err := t.exec(ctx, `WITH u AS (
 UPDATE users SET version = version + 1, last_modified = $2
 WHERE key IN (SELECT member_key FROM memberships WHERE group_key = $1 AND member_type = 0)),
 n AS (DELETE FROM memberships WHERE member_type = 1 AND member_key = $1),
 m AS (DELETE FROM memberships WHERE group_key = $1)
DELETE FROM groups WHERE key = $1`, g.Key, t.now); err != nil {
		return err
	}
	t.record("group.delete", "Group", g.ID, g.Key, 0, "", "displayName="+g.DisplayName)
	t.keep(outboxChange{before: groupSnap(g), memberType: -1})
	return nil
}

type resolvedMember struct {
	typ int16
	key int64
	id  string
}

// resolveMembers finds each member's type and key (users first, as
// store/sqlite does, for refs without a type); an unknown id is invalid.
// Two queries, whatever the number of members. Member groups are locked
// FOR KEY SHARE until the commit, so that none is deleted under the new
// membership; member users are locked by the version bump insertMembers
// gives them (which also finds those deleted meanwhile).
func (t *txn) resolveMembers(ctx context.Context, g *store.Group, refs []store.MemberRef) ([]resolvedMember, error) {
	var userIDs, groupIDs []string
	seen := make(map[string]bool, len(refs))
	for _, ref := range refs {
		if seen[ref.ID] || !storable(ref.ID) {
			continue
		}
		seen[ref.ID] = true
		// The type is a hint (see below): every id is looked for among
		// users, and among groups when hinted so or not a user.
		userIDs = append(userIDs, ref.ID)
	}
	users, err := t.keysOf(ctx, "users", userIDs, "")
	if err != nil {
		return nil, err
	}
	for _, ref := range refs {
		if _, ok := users[ref.ID]; (!ok || ref.Type == store.MemberGroup) && storable(ref.ID) {
			groupIDs = append(groupIDs, ref.ID)
		}
	}
	groups, err := t.keysOf(ctx, "groups", groupIDs, " FOR KEY SHARE")
	if err != nil {
		return nil, err
	}
	out := make([]resolvedMember, 0, len(refs))
	clear(seen)
	for _, ref := range refs {
		if seen[ref.ID] {
			continue
		}
		seen[ref.ID] = true
		// The type picks which table is looked at first, and a hint the
		// id contradicts is corrected, not an error.
		userKey, isUser := users[ref.ID]
		key, isGroup := groups[ref.ID]
		if isUser && (ref.Type != store.MemberGroup || !isGroup) {
			out = append(out, resolvedMember{0, userKey, ref.ID})
			continue
		}
		if !isGroup {
			return nil, noMember(ref.ID)
		}
		if key == g.Key {
			return nil, store.FieldErrorf(store.KindInvalid, "members", "a group cannot be a member of itself")
		}
		out = append(out, resolvedMember{1, key, ref.ID})
	}
	return out, nil
}

func noMember(id string) error {
	return store.FieldErrorf(store.KindInvalid, "members", "member %q does not exist", id)
}

// keysOf maps the ids of table's rows that exist to their keys.
func (t *txn) keysOf(ctx context.Context, table string, ids []string, lock string) (map[string]int64, error) {
	out := make(map[string]int64, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := t.query(ctx, `SELECT id, key FROM `+table+` WHERE id = ANY($1)`+lock, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var key int64
		if err := rows.Scan(&id, &key); err != nil {
			return nil, err
		}
		out[id] = key
	}
	return out, mapErr(rows.Err())
}

// memberArrays splits members into the arrays the set statements unnest.
func memberArrays(ms []resolvedMember) (types []int16, keys []int64) {
	types, keys = make([]int16, len(ms)), make([]int64, len(ms))
	for i, m := range ms {
		types[i], keys[i] = m.typ, m.key
	}
	return types, keys
}

type memberKey struct {
	typ int16
	key int64
}

// insertMembers adds resolved members, skipping present ones, and bumps
// the versions of the group and of the users whose groups changed: one
// statement for the memberships however many, never reading the group's
// other members.
func (t *txn) insertMembers(ctx context.Context, g *store.Group, ms []resolvedMember, bumpGroup bool) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	types, keys := memberArrays(ms)
	rows, err := t.query(ctx, `INSERT INTO memberships (group_key, member_type, member_key)
 SELECT $1, t, k FROM unnest($2::smallint[], $3::bigint[]) AS m(t, k)
 ON CONFLICT DO NOTHING RETURNING member_type, member_key`, g.Key, types, keys)
	if err != nil {
		return 0, err
	}
	added, err := collectMembers(rows)
	if err != nil {
		return 0, err
	}
	if len(added) == 0 {
		return 0, nil
	}
	var userKeys []int64
	for _, m := range ms { // input order, for the activity log
		if !added[memberKey{m.typ, m.key}] {
			continue
		}
		userKey, userID := int64(0), ""
		if m.typ == 0 {
			userKey, userID = m.key, m.id
			userKeys = append(userKeys, m.key)
		}
		t.record("group.members.add", "Group", g.ID, g.Key, userKey, userID, "member="+m.id)
		t.changeMember(m.typ, m.key)
	}
	touched, err := t.touch(ctx, g.Key, bumpGroup, userKeys)
	if err != nil {
		return 0, err
	}
	if len(touched) < len(userKeys) {
		// A user deleted since it was resolved: no membership for it.
		for _, m := range ms {
			if m.typ == 0 && added[memberKey{0, m.key}] && !touched[m.key] {
				return 0, noMember(m.id)
			}
		}
	}
	return len(added), nil
}

func collectMembers(rows pgx.Rows) (map[memberKey]bool, error) {
	defer rows.Close()
	out := map[memberKey]bool{}
	for rows.Next() {
		var m memberKey
		if err := rows.Scan(&m.typ, &m.key); err != nil {
			return nil, err
		}
		out[m] = true
	}
	return out, mapErr(rows.Err())
}

// touch bumps the versions of the users whose memberships changed (in key
// order, so concurrent writers lock them in one order) and, with
// bumpGroup, of the group. It returns the users it found: the row lock it
// takes keeps each from being deleted until the commit.
func (t *txn) touch(ctx context.Context, groupKey int64, bumpGroup bool, userKeys []int64) (map[int64]bool, error) {
	found := make(map[int64]bool, len(userKeys))
	if len(userKeys) > 0 {
		sort.Slice(userKeys, func(i, j int) bool { return userKeys[i] < userKeys[j] })
		rows, err := t.query(ctx, `UPDATE users SET version = version + 1, last_modified = $1 WHERE key = ANY($2) RETURNING key`,
			t.now, userKeys)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k int64
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, err
			}
			found[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, mapErr(err)
		}
	}
	if bumpGroup {
		_, err := t.exec(ctx, `UPDATE groups SET version = version + 1, last_modified = $1 WHERE key = $2`, t.now, groupKey)
		return found, err
	}
	return found, nil
}

// AddMembers adds members by id.
func (t *txn) AddMembers(ctx context.Context, groupID string, refs []store.MemberRef) (int, error) {
	g, err := t.GetGroup(ctx, groupID, false)
	if err != nil {
		return 0, err
	}
	ms, err := t.resolveMembers(ctx, g, refs)
	if err != nil {
		return 0, err
	}
	return t.insertMembers(ctx, g, ms, true)
}

// RemoveMembers removes members by id; absent ones are ignored.
func (t *txn) RemoveMembers(ctx context.Context, groupID string, ids []string) (int, error) {
	g, err := t.GetGroup(ctx, groupID, false)
	if err != nil {
		return 0, err
	}
	var valid []string
	for _, id := range ids {
		if storable(id) {
			valid = append(valid, id)
		}
	}
	users, err := t.keysOf(ctx, "users", valid, "")
	if err != nil {
		return 0, err
	}
	groups, err := t.keysOf(ctx, "groups", valid, "")
	if err != nil {
		return 0, err
	}
	var ms []resolvedMember
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if key, ok := users[id]; ok {
			ms = append(ms, resolvedMember{0, key, id})
		} else if key, ok := groups[id]; ok {
			ms = append(ms, resolvedMember{1, key, id})
		}
	}
	return t.deleteMembers(ctx, g, ms, true)
}

// deleteMembers removes resolved members in one statement and records
// each removal in the order of ms.
func (t *txn) deleteMembers(ctx context.Context, g *store.Group, ms []resolvedMember, bumpGroup bool) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	types, keys := memberArrays(ms)
	rows, err := t.query(ctx, `DELETE FROM memberships WHERE group_key = $1
 AND (member_type, member_key) IN (SELECT t, k FROM unnest($2::smallint[], $3::bigint[]) AS m(t, k))
 RETURNING member_type, member_key`, g.Key, types, keys)
	if err != nil {
		return 0, err
	}
	removed, err := collectMembers(rows)
	if err != nil || len(removed) == 0 {
		return 0, err
	}
	var userKeys []int64
	for _, m := range ms {
		if !removed[memberKey{m.typ, m.key}] {
			continue
		}
		userKey, userID := int64(0), ""
		if m.typ == 0 {
			userKey, userID = m.key, m.id
			userKeys = append(userKeys, m.key)
		}
		t.record("group.members.remove", "Group", g.ID, g.Key, userKey, userID, "member="+m.id)
		t.changeMember(m.typ, m.key)
	}
	if _, err := t.touch(ctx, g.Key, bumpGroup, userKeys); err != nil {
		return 0, err
	}
	return len(removed), nil
}

// SetMembers makes the membership exactly refs. The members to drop are
// found by the database, not by reading the group's member list here.
func (t *txn) SetMembers(ctx context.Context, groupID string, refs []store.MemberRef) error {
	g, err := t.GetGroup(ctx, groupID, false)
	if err != nil {
		return err
	}
	want, err := t.resolveMembers(ctx, g, refs)
	if err != nil {
		return err
	}
	types, keys := memberArrays(want)
	rows, err := t.query(ctx, `SELECT m.member_type, m.member_key, coalesce(mu.id, mg.id, '')
FROM memberships m
LEFT JOIN users mu ON m.member_type = 0 AND mu.key = m.member_key
LEFT JOIN groups mg ON m.member_type = 1 AND mg.key = m.member_key
WHERE m.group_key = $1 AND (m.member_type, m.member_key) NOT IN (SELECT t, k FROM unnest($2::smallint[], $3::bigint[]) AS w(t, k))
ORDER BY m.member_type, m.member_key`, g.Key, types, keys)
	if err != nil {
		return err
	}
	var drop []resolvedMember
	for rows.Next() {
		var m resolvedMember
		if err := rows.Scan(&m.typ, &m.key, &m.id); err != nil {
			rows.Close()
			return err
		}
		drop = append(drop, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return mapErr(err)
	}
	removed, err := t.deleteMembers(ctx, g, drop, true)
	if err != nil {
		return err
	}
	_, err = t.insertMembers(ctx, g, want, removed == 0)
	return err
}

// ClearMembers removes every member.
func (t *txn) ClearMembers(ctx context.Context, groupID string) error {
	return t.SetMembers(ctx, groupID, nil)
}
