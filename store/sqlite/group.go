package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/scimbridge/scimbridge/store"
)

const groupCols = `g.key, g.id, g.display_name, ` + groupExternalID + ` AS ` + externalIDAlias + `, g.created, g.last_modified, g.version,
 g.source, g.source_id, g.source_dn`

func scanGroup(s scanner) (*store.Group, error) {
	var (
		g                      store.Group
		ext, src, srcID, srcDN sql.NullString
		created, modified      int64
	)
	if err := s.Scan(&g.Key, &g.ID, &g.DisplayName, &ext, &created, &modified, &g.Meta.Version, &src, &srcID, &srcDN); err != nil {
		return nil, err
	}
	g.ExternalID = ext.String
	g.Source = store.Source{Name: src.String, ID: srcID.String, DN: srcDN.String}
	g.Meta.Created, g.Meta.LastModified = fromMicros(created), fromMicros(modified)
	return &g, nil
}

func (r *reader) getGroup(ctx context.Context, withMembers bool, where string, args ...any) (*store.Group, error) {
	rows, done, err := r.query(lookup(ctx), `SELECT `+groupCols+groupFrom+` WHERE `+where, withDomain(ctx, args)...)
	if err != nil {
		return nil, err
	}
	defer done()
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, store.Errorf(store.KindNotFound, "group not found")
	}
	g, err := scanGroup(rows)
	if err != nil {
		return nil, err
	}
	rows.Close()
	if withMembers {
		if g.Members, err = r.GroupMembers(ctx, g.Key, 0, -1); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// GetGroup returns the group with the given SCIM id.
func (r *reader) GetGroup(ctx context.Context, id string, withMembers bool) (*store.Group, error) {
	return r.getGroup(ctx, withMembers, `g.id = ?`, id)
}

// GetGroupByKey returns the group with the given integer key.
func (r *reader) GetGroupByKey(ctx context.Context, key int64, withMembers bool) (*store.Group, error) {
	return r.getGroup(ctx, withMembers, `g.key = ?`, key)
}

// GetGroupBySource returns the group synced from source with that identity.
func (r *reader) GetGroupBySource(ctx context.Context, source, sourceID string) (*store.Group, error) {
	return r.getGroup(ctx, false, `g.source = ? AND g.source_id = ?`, source, sourceID)
}

const membersSQL = `SELECT m.member_type, m.member_key, coalesce(mu.id, mg.id),
 coalesce(nullif(mu.display_name, ''), mu.user_name, mg.display_name)
FROM memberships m
LEFT JOIN users mu ON m.member_type = 0 AND mu.key = m.member_key
LEFT JOIN groups mg ON m.member_type = 1 AND mg.key = m.member_key
WHERE m.group_key = ? ORDER BY m.member_type, m.member_key LIMIT ? OFFSET ?`

// GroupMembers pages through a group's members (limit < 0: all).
func (r *reader) GroupMembers(ctx context.Context, groupKey int64, offset, limit int) ([]store.Member, error) {
	rows, done, err := r.query(ctx, membersSQL, groupKey, limit, offset)
	if err != nil {
		return nil, err
	}
	defer done()
	defer rows.Close()
	members := []store.Member{}
	for rows.Next() {
		var m store.Member
		var typ int
		var id, display sql.NullString
		if err := rows.Scan(&typ, &m.Key, &id, &display); err != nil {
			return nil, err
		}
		m.Type, m.ID, m.Display = memberType(typ), id.String, display.String
		members = append(members, m)
	}
	return members, rows.Err()
}

// HasMember reports whether the group directly holds the member.
func (r *reader) HasMember(ctx context.Context, groupKey int64, t store.MemberType, memberKey int64) (bool, error) {
	var n int
	err := r.queryRow(lookup(ctx), []any{&n}, `SELECT count(*) FROM memberships WHERE group_key = ? AND member_type = ? AND member_key = ?`,
		groupKey, memberTypeCode(t), memberKey)
	return n > 0, err
}

func memberType(code int) store.MemberType {
	if code == 1 {
		return store.MemberGroup
	}
	return store.MemberUser
}

func memberTypeCode(t store.MemberType) int {
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
	page.Total, err = r.total(ctx, groupTable, q, sel, len(page.Groups))
	return page, err
}

// insertGroupSQL inserts one group; its key is the rowid (see
// insertUserSQL).
const insertGroupSQL = `INSERT INTO groups (id, display_name, created, last_modified, version,
 source, source_id, source_dn) VALUES (?, ?, ?, ?, 1, ?, ?, ?)`

// CreateGroup stores a new group and its members.
func (t *txn) CreateGroup(ctx context.Context, g *store.Group) error {
	if err := store.NormaliseGroup(g); err != nil {
		return err
	}
	if g.ID == "" {
		g.ID = newID()
	}
	g.Meta = store.Meta{Created: t.now, LastModified: t.now, Version: 1}
	res, err := t.exec(ctx, insertGroupSQL,
		g.ID, g.DisplayName, micros(t.now), micros(t.now),
		nullStr(g.Source.Name), nullStr(g.Source.ID), nullStr(g.Source.DN))
	if err != nil {
		return mapErr(err)
	}
	if g.Key, err = res.LastInsertId(); err != nil {
		return err
	}
	if err := t.addExternalID(ctx, externalGroup, g.Key, g.ExternalID); err != nil {
		return err
	}
	if err := t.record(ctx, "group.create", "Group", g.ID, g.Key, 0, "", "displayName="+g.DisplayName); err != nil {
		return err
	}
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
	_, err = t.exec(ctx, `UPDATE groups SET display_name = ?, last_modified = ?, version = ?,
 source = ?, source_id = ?, source_dn = ? WHERE key = ?`,
		g.DisplayName, micros(t.now), g.Meta.Version,
		nullStr(g.Source.Name), nullStr(g.Source.ID), nullStr(g.Source.DN), g.Key)
	if err != nil {
		return nil, mapErr(err)
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
	return &g, t.record(ctx, "group.update", "Group", g.ID, g.Key, 0, "", detail)
}

// DeleteGroup removes a group; its memberships go with it.
func (t *txn) DeleteGroup(ctx context.Context, id string) error {
	g, err := t.GetGroup(ctx, id, false)
	if err != nil {
		return err
	}
	// Members lose a group: their representation changes.
	if _, err := t.exec(ctx, `UPDATE users SET version = version + 1, last_modified = ?
 WHERE key IN (SELECT member_key FROM memberships WHERE group_key = ? AND member_type = 0)`, micros(t.now), g.Key); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM memberships WHERE member_type = 1 AND member_key = ?`,
		`DELETE FROM memberships WHERE group_key = ?`,
		`DELETE FROM groups WHERE key = ?`,
	} {
		if _, err := t.exec(ctx, q, g.Key); err != nil {
			return err
		}
	}
	return t.record(ctx, "group.delete", "Group", g.ID, g.Key, 0, "", "displayName="+g.DisplayName)
}

type resolvedMember struct {
	typ int
	key int64
	id  string
}

// resolveMembers finds each member's type and key; unknown ids are invalid.
// The ids are looked up in bulk (bulkRows to a statement), each first in
// the table its type hint names, then in the other; the first member (in
// the order given) that does not resolve is the error, as if they had
// been looked up one by one.
func (t *txn) resolveMembers(ctx context.Context, g *store.Group, refs []store.MemberRef) ([]resolvedMember, error) {
	var ids []string
	hint := make(map[string]store.MemberType, len(refs))
	for _, ref := range refs {
		if _, dup := hint[ref.ID]; !dup {
			hint[ref.ID] = ref.Type
			ids = append(ids, ref.ID)
		}
	}
	// The type is a hint: it picks which table to look in first, and a
	// hint the id contradicts is corrected, not an error.
	var first [2][]string
	for _, id := range ids {
		typ := 0
		if hint[id] == store.MemberGroup {
			typ = 1
		}
		first[typ] = append(first[typ], id)
	}
	found := make(map[string]resolvedMember, len(ids))
	for typ := range 2 {
		if err := t.memberKeys(ctx, typ, first[typ], found); err != nil {
			return nil, err
		}
	}
	for typ := range 2 {
		var missing []string
		for _, id := range first[typ] {
			if _, ok := found[id]; !ok {
				missing = append(missing, id)
			}
		}
		if err := t.memberKeys(ctx, 1-typ, missing, found); err != nil {
			return nil, err
		}
	}
	out := make([]resolvedMember, 0, len(ids))
	for _, id := range ids {
		m, ok := found[id]
		if !ok {
			return nil, store.FieldErrorf(store.KindInvalid, "members", "member %q does not exist", id)
		}
		if m.typ == 1 && m.key == g.Key {
			return nil, store.FieldErrorf(store.KindInvalid, "members", "a group cannot be a member of itself")
		}
		out = append(out, m)
	}
	return out, nil
}

// memberKeys finds the keys of ids among users (typ 0) or groups (1).
func (t *txn) memberKeys(ctx context.Context, typ int, ids []string, found map[string]resolvedMember) error {
	table := [2]string{"users", "groups"}[typ]
	return chunks(len(ids), func(start, end int) error {
		args := make([]any, 0, end-start)
		for _, id := range ids[start:end] {
			args = append(args, id)
		}
		rows, done, err := t.query(ctx, `SELECT id, key FROM `+table+` WHERE id IN (`+rowsOf("?", end-start)+`)`, args...)
		if err != nil {
			return err
		}
		defer done()
		defer rows.Close()
		for rows.Next() {
			var m resolvedMember
			if err := rows.Scan(&m.id, &m.key); err != nil {
				return err
			}
			m.typ = typ
			found[m.id] = m
		}
		return rows.Err()
	})
}

// insertNewMembers fills a group that had no members, as insertMembers
// would (every member is new): the memberships and their activity entries
// in statements of up to bulkRows rows.
func (t *txn) insertNewMembers(ctx context.Context, g *store.Group, ms []resolvedMember) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	err := chunks(len(ms), func(start, end int) error {
		args := make([]any, 0, 3*(end-start))
		for _, m := range ms[start:end] {
			args = append(args, g.Key, m.typ, m.key)
		}
		_, err := t.exec(ctx, `INSERT INTO memberships (group_key, member_type, member_key) VALUES `+rowsOf(`(?, ?, ?)`, end-start), args...)
		return err
	})
	if err != nil {
		return 0, err
	}
	var userKeys []int64
	err = chunks(len(ms), func(start, end int) error {
		args := make([]any, 0, 11*(end-start))
		for _, m := range ms[start:end] {
			userKey, userID := int64(0), ""
			if m.typ == 0 {
				userKey, userID = m.key, m.id
				userKeys = append(userKeys, m.key)
			}
			args = append(args, micros(t.now), t.actor.Door, t.actor.Principal, t.actor.Address, "group.members.add", "Group", g.ID,
				g.Key, userKey, userID, "member="+m.id)
		}
		_, err := t.exec(ctx, `INSERT INTO activity (`+activityInsertCols+`) VALUES `+rowsOf(activityInsertRow, end-start), args...)
		return err
	})
	if err != nil {
		return 0, err
	}
	if err := t.touchUsers(ctx, userKeys); err != nil {
		return 0, err
	}
	return len(ms), t.touchGroup(ctx, g.Key)
}

// insertMembers adds resolved members, skipping present ones, and bumps
// the versions of the group and of the users whose groups changed.
func (t *txn) insertMembers(ctx context.Context, g *store.Group, ms []resolvedMember, bumpGroup bool) (int, error) {
	added := 0
	var userKeys []int64
	for _, m := range ms {
		res, err := t.exec(ctx, `INSERT OR IGNORE INTO memberships (group_key, member_type, member_key) VALUES (?, ?, ?)`, g.Key, m.typ, m.key)
		if err != nil {
			return 0, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue
		}
		added++
		userKey, userID := int64(0), ""
		if m.typ == 0 {
			userKey, userID = m.key, m.id
			userKeys = append(userKeys, m.key)
		}
		if err := t.record(ctx, "group.members.add", "Group", g.ID, g.Key, userKey, userID, "member="+m.id); err != nil {
			return 0, err
		}
	}
	if added == 0 {
		return 0, nil
	}
	if err := t.touchUsers(ctx, userKeys); err != nil {
		return 0, err
	}
	if bumpGroup {
		return added, t.touchGroup(ctx, g.Key)
	}
	return added, nil
}

func (t *txn) touchGroup(ctx context.Context, key int64) error {
	_, err := t.exec(ctx, `UPDATE groups SET version = version + 1, last_modified = ? WHERE key = ?`, micros(t.now), key)
	return err
}

// touchUsers bumps the version of users whose memberships changed.
func (t *txn) touchUsers(ctx context.Context, keys []int64) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := t.exec(ctx, `UPDATE users SET version = version + 1, last_modified = ? WHERE key IN (SELECT value FROM json_each(?))`,
		micros(t.now), jsonInts(keys))
	return err
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
	removed := 0
	var userKeys []int64
	for _, id := range ids {
		// Resolve the id first and delete by primary key: an OR of both
		// member types in one DELETE makes SQLite scan the whole group.
		typ, key := 0, int64(0)
		err := t.queryRow(ctx, []any{&key}, `SELECT key FROM users WHERE id = ?`, id)
		if errors.Is(err, sql.ErrNoRows) {
			typ = 1
			err = t.queryRow(ctx, []any{&key}, `SELECT key FROM groups WHERE id = ?`, id)
		}
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return 0, err
		}
		res, err := t.exec(ctx, `DELETE FROM memberships WHERE group_key = ? AND member_type = ? AND member_key = ?`, g.Key, typ, key)
		if err != nil {
			return 0, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue
		}
		removed++
		userKey, userID := int64(0), ""
		if typ == 0 {
			userKey, userID = key, id
			userKeys = append(userKeys, key)
		}
		if err := t.record(ctx, "group.members.remove", "Group", g.ID, g.Key, userKey, userID, "member="+id); err != nil {
			return 0, err
		}
	}
	if removed == 0 {
		return 0, nil
	}
	if err := t.touchUsers(ctx, userKeys); err != nil {
		return 0, err
	}
	return removed, t.touchGroup(ctx, g.Key)
}

// SetMembers makes the membership exactly refs.
func (t *txn) SetMembers(ctx context.Context, groupID string, refs []store.MemberRef) error {
	g, err := t.GetGroup(ctx, groupID, false)
	if err != nil {
		return err
	}
	want, err := t.resolveMembers(ctx, g, refs)
	if err != nil {
		return err
	}
	current, err := t.GroupMembers(ctx, g.Key, 0, -1)
	if err != nil {
		return err
	}
	keep := make(map[[2]int64]bool, len(want))
	for _, m := range want {
		keep[[2]int64{int64(m.typ), m.key}] = true
	}
	var drop []string
	for _, m := range current {
		if !keep[[2]int64{int64(memberTypeCode(m.Type)), m.Key}] {
			drop = append(drop, m.ID)
		}
	}
	if len(current) == 0 {
		_, err = t.insertNewMembers(ctx, g, want)
		return err
	}
	removed, err := t.RemoveMembers(ctx, groupID, drop)
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
