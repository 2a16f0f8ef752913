package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/scimbridge/scimbridge/store"
)

const userCols = `u.key, u.id, u.user_name, u.external_id, u.display_name, u.active, u.created,
 u.last_modified, u.version, u.password_hash, u.source, u.source_id, u.source_dn, u.doc`

type scanner interface{ Scan(dest ...any) error }

func scanUser(s scanner) (*store.User, error) {
	var (
		u                                   store.User
		ext, display, pw, src, srcID, srcDN sql.NullString
		created, modified                   int64
		doc                                 []byte
	)
	if err := s.Scan(&u.Key, &u.ID, &u.UserName, &ext, &display, &u.Active, &created, &modified,
		&u.Meta.Version, &pw, &src, &srcID, &srcDN, &doc); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(doc, &u); err != nil {
		return nil, err
	}
	// Columns are authoritative over the document copy.
	u.ExternalID, u.DisplayName, u.PasswordHash = ext.String, display.String, pw.String
	u.Source = store.Source{Name: src.String, ID: srcID.String, DN: srcDN.String}
	u.Meta.Created, u.Meta.LastModified = fromMicros(created), fromMicros(modified)
	return &u, nil
}

func (r *reader) getUser(ctx context.Context, where string, arg ...any) (*store.User, error) {
	rows, done, err := r.query(ctx, `SELECT `+userCols+` FROM users u WHERE `+where, arg...)
	if err != nil {
		return nil, err
	}
	defer done()
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, store.Errorf(store.KindNotFound, "user not found")
	}
	u, err := scanUser(rows)
	if err != nil {
		return nil, err
	}
	rows.Close()
	if err := r.fillGroups(ctx, []*store.User{u}); err != nil {
		return nil, err
	}
	return u, nil
}

// GetUser returns the user with the given SCIM id.
func (r *reader) GetUser(ctx context.Context, id string) (*store.User, error) {
	return r.getUser(ctx, `u.id = ?`, id)
}

// GetUserByKey returns the user with the given integer key.
func (r *reader) GetUserByKey(ctx context.Context, key int64) (*store.User, error) {
	return r.getUser(ctx, `u.key = ?`, key)
}

// GetUserByUserName matches userName case-insensitively.
func (r *reader) GetUserByUserName(ctx context.Context, userName string) (*store.User, error) {
	return r.getUser(ctx, `u.user_name = ?`, userName)
}

// GetUserBySource returns the user synced from source with that identity.
func (r *reader) GetUserBySource(ctx context.Context, source, sourceID string) (*store.User, error) {
	return r.getUser(ctx, `u.source = ? AND u.source_id = ?`, source, sourceID)
}

// groupsOfUsers walks memberships upwards so nested groups show as indirect.
const groupsOfUsers = `WITH RECURSIVE anc(user_key, group_key, direct) AS (
  SELECT m.member_key, m.group_key, 1 FROM memberships m
   WHERE m.member_type = 0 AND m.member_key IN (SELECT value FROM json_each(?))
  UNION
  SELECT anc.user_key, m.group_key, 0 FROM memberships m JOIN anc
   ON m.member_type = 1 AND m.member_key = anc.group_key
)
SELECT anc.user_key, g.id, g.key, g.display_name, max(anc.direct)
FROM anc JOIN groups g ON g.key = anc.group_key
GROUP BY anc.user_key, g.key ORDER BY anc.user_key, g.key`

// fillGroups sets Groups on each user with one query.
func (r *reader) fillGroups(ctx context.Context, users []*store.User) error {
	if len(users) == 0 {
		return nil
	}
	byKey := make(map[int64]*store.User, len(users))
	keys := make([]byte, 0, 8*len(users))
	keys = append(keys, '[')
	for i, u := range users {
		u.Groups = nil
		byKey[u.Key] = u
		if i > 0 {
			keys = append(keys, ',')
		}
		keys = strconv.AppendInt(keys, u.Key, 10)
	}
	keys = append(keys, ']')
	rows, done, err := r.query(ctx, groupsOfUsers, string(keys))
	if err != nil {
		return err
	}
	defer done()
	defer rows.Close()
	for rows.Next() {
		var userKey int64
		var g store.GroupRef
		if err := rows.Scan(&userKey, &g.ID, &g.Key, &g.Display, &g.Direct); err != nil {
			return err
		}
		if u := byKey[userKey]; u != nil {
			u.Groups = append(u.Groups, g)
		}
	}
	return rows.Err()
}

// ListUsers runs a query over users.
func (r *reader) ListUsers(ctx context.Context, q store.Query) (*store.UserPage, error) {
	sel, err := buildSelect(userTable, q)
	if err != nil {
		return nil, err
	}
	page := &store.UserPage{}
	if q.Limit > 0 {
		rows, done, err := r.query(ctx, sel.sql, sel.args...)
		if err != nil {
			return nil, err
		}
		defer done()
		defer rows.Close()
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return nil, err
			}
			page.Users = append(page.Users, u)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		rows.Close()
		if q.UseCursor && len(page.Users) > q.Limit {
			page.Users = page.Users[:q.Limit]
			last := page.Users[len(page.Users)-1]
			v, err := r.sortValue(ctx, userTable, q, last.Key)
			if err != nil {
				return nil, err
			}
			page.NextCursor = encodeCursor(userTable, q, last.Key, v)
		}
		if q.Related {
			if err := r.fillGroups(ctx, page.Users); err != nil {
				return nil, err
			}
		}
	}
	page.Total, err = r.total(ctx, userTable, q, sel, len(page.Users))
	return page, err
}

// total counts the query's matches, avoiding the count where the page
// already tells it.
func (r *reader) total(ctx context.Context, t *table, q store.Query, sel *selectSQL, got int) (int, error) {
	if !q.UseCursor && q.Limit > 0 && q.Offset == 0 && got < q.Limit {
		return got, nil
	}
	var n int
	if q.Filter == nil {
		err := r.queryRow(ctx, []any{&n}, `SELECT n FROM counts WHERE name = ?`, t.name)
		return n, err
	}
	err := r.queryRow(ctx, []any{&n}, sel.countSQL, sel.countArgs...)
	return n, err
}

// CreateUser stores a new user.
func (t *txn) CreateUser(ctx context.Context, u *store.User) error {
	if err := normaliseUser(u); err != nil {
		return err
	}
	if u.ID == "" {
		u.ID = uuid.NewString()
	}
	u.Meta = store.Meta{Created: t.now, LastModified: t.now, Version: 1}
	u.Groups = nil
	doc, err := json.Marshal(u)
	if err != nil {
		return err
	}
	var key int64
	err = t.queryRow(ctx, []any{&key}, `INSERT INTO users (id, user_name, external_id, display_name, active,
 created, last_modified, version, password_hash, source, source_id, source_dn, doc)
 VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?) RETURNING key`,
		u.ID, u.UserName, nullStr(u.ExternalID), nullStr(u.DisplayName), u.Active, micros(t.now), micros(t.now),
		nullStr(u.PasswordHash), nullStr(u.Source.Name), nullStr(u.Source.ID), nullStr(u.Source.DN), doc)
	if err != nil {
		return mapErr(err)
	}
	u.Key = key
	if err := t.writeEmails(ctx, u, false); err != nil {
		return err
	}
	return t.record(ctx, "user.create", "User", u.ID, u.Key, u.Key, "userName="+u.UserName)
}

// UpdateUser applies fn to the stored user. A change that alters nothing
// stores nothing: no new version, no activity entry.
func (t *txn) UpdateUser(ctx context.Context, id string, fn func(u *store.User) error) (*store.User, error) {
	old, err := t.GetUser(ctx, id)
	if err != nil {
		return nil, err
	}
	u := cloneUser(old)
	if err := fn(u); err != nil {
		return nil, err
	}
	u.Key, u.ID, u.Meta, u.Groups = old.Key, old.ID, old.Meta, old.Groups
	if err := normaliseUser(u); err != nil {
		return nil, err
	}
	oldDoc, err := json.Marshal(old)
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(u)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(doc, oldDoc) && u.PasswordHash == old.PasswordHash && u.Source == old.Source {
		return old, nil
	}
	u.Meta.Version = old.Meta.Version + 1
	u.Meta.LastModified = t.now
	_, err = t.exec(ctx, `UPDATE users SET user_name = ?, external_id = ?, display_name = ?, active = ?,
 last_modified = ?, version = ?, password_hash = ?, source = ?, source_id = ?, source_dn = ?, doc = ? WHERE key = ?`,
		u.UserName, nullStr(u.ExternalID), nullStr(u.DisplayName), u.Active, micros(t.now), u.Meta.Version,
		nullStr(u.PasswordHash), nullStr(u.Source.Name), nullStr(u.Source.ID), nullStr(u.Source.DN), doc, u.Key)
	if err != nil {
		return nil, mapErr(err)
	}
	if err := t.writeEmails(ctx, u, true); err != nil {
		return nil, err
	}
	changed := changedFields(oldDoc, doc)
	if u.PasswordHash != old.PasswordHash {
		changed = append(changed, "password")
	}
	action := "user.update"
	if old.Active != u.Active {
		action = map[bool]string{true: "user.activate", false: "user.deactivate"}[u.Active]
	}
	if err := t.record(ctx, action, "User", u.ID, u.Key, u.Key, "changed: "+strings.Join(changed, ", ")); err != nil {
		return nil, err
	}
	return u, nil
}

// DeleteUser removes a user, its memberships and its credentials.
func (t *txn) DeleteUser(ctx context.Context, id string) error {
	var key int64
	var userName string
	if err := t.queryRow(ctx, []any{&key, &userName}, `SELECT key, user_name FROM users WHERE id = ?`, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return store.Errorf(store.KindNotFound, "user not found")
		}
		return err
	}
	// The groups that lose a member change too.
	if _, err := t.exec(ctx, `UPDATE groups SET version = version + 1, last_modified = ?
 WHERE key IN (SELECT group_key FROM memberships WHERE member_type = 0 AND member_key = ?)`, micros(t.now), key); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM memberships WHERE member_type = 0 AND member_key = ?`,
		`DELETE FROM credentials WHERE user_key = ?`,
		`DELETE FROM users WHERE key = ?`,
	} {
		if _, err := t.exec(ctx, q, key); err != nil {
			return err
		}
	}
	return t.record(ctx, "user.delete", "User", id, key, key, "userName="+userName)
}

func (t *txn) writeEmails(ctx context.Context, u *store.User, replace bool) error {
	if replace {
		if _, err := t.exec(ctx, `DELETE FROM user_emails WHERE user_key = ?`, u.Key); err != nil {
			return err
		}
	}
	for i, e := range u.Emails {
		if e.Value == "" {
			continue
		}
		if _, err := t.exec(ctx, `INSERT INTO user_emails (user_key, pos, value, type, is_primary) VALUES (?, ?, ?, ?, ?)`,
			u.Key, i, e.Value, nullStr(e.Type), e.Primary); err != nil {
			return err
		}
	}
	return nil
}

// normaliseUser applies the rules every door shares.
func normaliseUser(u *store.User) error {
	u.UserName = strings.TrimSpace(u.UserName)
	if u.UserName == "" {
		return store.FieldErrorf(store.KindInvalid, "userName", "userName is required")
	}
	for i := range u.Emails {
		u.Emails[i].Value = strings.TrimSpace(u.Emails[i].Value)
	}
	for name, vs := range map[string][]store.Value{
		"emails": u.Emails, "phoneNumbers": u.PhoneNumbers, "ims": u.IMs, "photos": u.Photos,
		"entitlements": u.Entitlements, "roles": u.Roles, "x509Certificates": u.X509Certificates,
	} {
		if countPrimary(vs, func(v store.Value) bool { return v.Primary }) > 1 {
			return store.FieldErrorf(store.KindInvalid, name, "at most one of %s may be primary", name)
		}
	}
	if countPrimary(u.Addresses, func(a store.Address) bool { return a.Primary }) > 1 {
		return store.FieldErrorf(store.KindInvalid, "addresses", "at most one of addresses may be primary")
	}
	if u.Enterprise.IsZero() {
		u.Enterprise = nil
	}
	return nil
}

func countPrimary[T any](vs []T, primary func(T) bool) int {
	n := 0
	for _, v := range vs {
		if primary(v) {
			n++
		}
	}
	return n
}

func cloneUser(u *store.User) *store.User {
	c := *u
	c.Emails = append([]store.Value(nil), u.Emails...)
	c.PhoneNumbers = append([]store.Value(nil), u.PhoneNumbers...)
	c.IMs = append([]store.Value(nil), u.IMs...)
	c.Photos = append([]store.Value(nil), u.Photos...)
	c.Addresses = append([]store.Address(nil), u.Addresses...)
	c.Entitlements = append([]store.Value(nil), u.Entitlements...)
	c.Roles = append([]store.Value(nil), u.Roles...)
	c.X509Certificates = append([]store.Value(nil), u.X509Certificates...)
	c.Groups = append([]store.GroupRef(nil), u.Groups...)
	if u.Enterprise != nil {
		e := *u.Enterprise
		if e.Manager != nil {
			m := *e.Manager
			e.Manager = &m
		}
		c.Enterprise = &e
	}
	return &c
}

// changedFields names the top-level attributes that differ between two
// documents, for the activity log.
func changedFields(oldDoc, newDoc []byte) []string {
	var a, b map[string]json.RawMessage
	if json.Unmarshal(oldDoc, &a) != nil || json.Unmarshal(newDoc, &b) != nil {
		return nil
	}
	var out []string
	for k, v := range b {
		if !bytes.Equal(a[k], v) {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
