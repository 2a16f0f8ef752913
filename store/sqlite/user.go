package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"

	"github.com/scimbridge/scimbridge/store"
)

const userCols = `u.key, u.id, u.user_name, ` + userExternalID + ` AS ` + externalIDAlias + `, u.display_name, u.active, u.created,
 u.last_modified, u.version, u.password_hash, u.source, u.source_id, u.source_dn, u.doc`

// userGroupsCol reads a user's direct groups in the same statement as the
// user, as a JSON array of [id, key, displayName]: one query per read.
const userGroupsCol = `(SELECT json_group_array(json_array(g.id, g.key, g.display_name))
 FROM memberships m JOIN groups g ON g.key = m.group_key WHERE m.member_type = 0 AND m.member_key = u.key)`

// userColsWithGroups selects a user and its direct groups.
const userColsWithGroups = userCols + `, ` + userGroupsCol

type scanner interface{ Scan(dest ...any) error }

// scanUser reads a row of userCols, or of userColsWithGroups when
// withGroups is set.
func scanUser(s scanner, withGroups bool) (*store.User, error) {
	var (
		u                                   store.User
		ext, display, pw, src, srcID, srcDN sql.NullString
		created, modified                   int64
		doc, groups                         []byte
	)
	dest := []any{&u.Key, &u.ID, &u.UserName, &ext, &display, &u.Active, &created, &modified,
		&u.Meta.Version, &pw, &src, &srcID, &srcDN, &doc}
	if withGroups {
		dest = append(dest, &groups)
	}
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	if len(groups) > 2 { // "[]" when none
		var rows [][3]any
		if err := json.Unmarshal(groups, &rows); err != nil {
			return nil, err
		}
		for _, g := range rows {
			id, _ := g[0].(string)
			key, _ := g[1].(float64)
			display, _ := g[2].(string)
			u.Groups = append(u.Groups, store.GroupRef{ID: id, Key: int64(key), Display: display, Direct: true})
		}
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
	ctx = lookup(ctx)
	rows, done, err := r.query(ctx, `SELECT `+userColsWithGroups+userFrom+` WHERE `+where, withDomain(ctx, arg)...)
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
	u, err := scanUser(rows, true)
	if err != nil {
		return nil, err
	}
	rows.Close()
	if err := r.addIndirect(ctx, []*store.User{u}); err != nil {
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

// GetUserByUserName finds the user whose userName equals userName under
// store.UserNameKey: one indexed lookup of a unique key. Only when that user
// is missing or its name is not userName exactly is a name parked by the
// migration (backfill.go) looked for, and preferred if it matches exactly.
func (r *reader) GetUserByUserName(ctx context.Context, userName string) (*store.User, error) {
	key := store.UserNameKey(userName)
	u, err := r.getUser(ctx, `u.user_name_key = ?`, key)
	if err != nil && !store.IsNotFound(err) || err == nil && u.UserName == userName {
		return u, err
	}
	lo, hi := parkedRange(key)
	parked, perr := r.getUser(ctx, `u.user_name_key > ? AND u.user_name_key < ? AND u.user_name = ? COLLATE BINARY`, lo, hi, userName)
	switch {
	case perr == nil:
		return parked, nil
	case !store.IsNotFound(perr):
		return nil, perr
	}
	return u, err
}

// GetUserBySource returns the user synced from source with that identity.
func (r *reader) GetUserBySource(ctx context.Context, source, sourceID string) (*store.User, error) {
	return r.getUser(ctx, `u.source = ? AND u.source_id = ?`, source, sourceID)
}

const parentGroups = `SELECT m.member_key, g.id, g.key, g.display_name FROM memberships m
 JOIN groups g ON g.key = m.group_key
 WHERE m.member_type = 1 AND m.member_key IN (SELECT value FROM json_each(?))`

// addIndirect adds, to users whose direct groups are loaded, the groups
// above those groups, when nested groups exist at all.
func (r *reader) addIndirect(ctx context.Context, users []*store.User) error {
	grouped := false
	for _, u := range users {
		grouped = grouped || len(u.Groups) > 0
	}
	if !grouped {
		return nil
	}
	var nested int
	if err := r.queryRow(ctx, []any{&nested}, `SELECT n FROM counts WHERE name = 'nested'`); err != nil {
		return err
	}
	if nested == 0 {
		return nil
	}
	return r.fillIndirect(ctx, users)
}

// fillIndirect adds the groups that contain the users' groups, transitively,
// walked breadth-first (cycles stop the walk).
func (r *reader) fillIndirect(ctx context.Context, users []*store.User) error {
	parents := map[int64][]store.GroupRef{} // group key → groups directly containing it
	var frontier []int64
	seen := map[int64]bool{}
	for _, u := range users {
		for _, g := range u.Groups {
			if !seen[g.Key] {
				seen[g.Key] = true
				frontier = append(frontier, g.Key)
			}
		}
	}
	for len(frontier) > 0 {
		rows, done, err := r.query(ctx, parentGroups, jsonInts(frontier))
		if err != nil {
			return err
		}
		frontier = frontier[:0]
		for rows.Next() {
			var child int64
			var g store.GroupRef
			if err := rows.Scan(&child, &g.ID, &g.Key, &g.Display); err != nil {
				rows.Close()
				done()
				return err
			}
			parents[child] = append(parents[child], g)
			if !seen[g.Key] {
				seen[g.Key] = true
				frontier = append(frontier, g.Key)
			}
		}
		err = rows.Err()
		rows.Close()
		done()
		if err != nil {
			return err
		}
	}
	for _, u := range users {
		have := map[int64]bool{}
		queue := make([]int64, 0, len(u.Groups))
		for _, g := range u.Groups {
			have[g.Key] = true
			queue = append(queue, g.Key)
		}
		for len(queue) > 0 {
			k := queue[0]
			queue = queue[1:]
			for _, p := range parents[k] {
				if !have[p.Key] {
					have[p.Key] = true
					u.Groups = append(u.Groups, p)
					queue = append(queue, p.Key)
				}
			}
		}
	}
	return nil
}

// jsonInts renders keys as a JSON array, bound as one parameter and read
// with json_each: one statement text whatever the number of keys.
func jsonInts(keys []int64) string {
	b := make([]byte, 0, 8*len(keys)+2)
	b = append(b, '[')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, k, 10)
	}
	return string(append(b, ']'))
}

// ListUsers runs a query over users.
func (r *reader) ListUsers(ctx context.Context, q store.Query) (*store.UserPage, error) {
	cols := userCols
	if q.Related {
		cols = userColsWithGroups
	}
	sel, err := buildSelect(userTable, cols, q, store.DomainOf(ctx))
	if err != nil {
		return nil, err
	}
	page := &store.UserPage{}
	if q.Limit > 0 {
		page.Users, page.NextCursor, err = scanPage(ctx, r, userTable, q, sel,
			func(s scanner) (*store.User, error) { return scanUser(s, q.Related) },
			func(u *store.User) int64 { return u.Key })
		if err != nil {
			return nil, err
		}
		if q.Related {
			if err := r.addIndirect(ctx, page.Users); err != nil {
				return nil, err
			}
		}
	}
	page.Total, err = r.total(ctx, userTable, q, sel, len(page.Users))
	return page, err
}

// scanPage runs a page query and, for cursor queries, cuts the extra row
// that tells whether more follow and encodes the next cursor.
func scanPage[T any](ctx context.Context, r *reader, t *table, q store.Query, sel *selectSQL,
	scan func(scanner) (T, error), keyOf func(T) int64) ([]T, string, error) {
	rows, done, err := r.query(ctx, sel.sql, sel.args...)
	if err != nil {
		return nil, "", err
	}
	defer done()
	defer rows.Close()
	var out []T
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, item)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	rows.Close()
	if !q.UseCursor {
		if len(out) > q.Limit { // the SQL limit is rounded up
			out = out[:q.Limit]
		}
		return out, "", nil
	}
	if len(out) <= q.Limit {
		return out, "", nil
	}
	out = out[:q.Limit]
	last := keyOf(out[len(out)-1])
	v, err := r.sortValue(ctx, t, q, last)
	if err != nil {
		return nil, "", err
	}
	return out, store.EncodeCursor(t.name, store.DomainOf(ctx), q, last, v), nil
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

// insertUserSQL inserts one user. The new key is the insert's rowid
// (LastInsertId): RETURNING would give it too, but SQLite collects a
// RETURNING statement's rows in a temporary B-tree that it opens and drops
// on every insert (TestInsertsOpenNoTemporaryTable).
const insertUserSQL = `INSERT INTO users (` + userInsertCols + `) VALUES ` + userInsertRow

// CreateUser stores a new user.
func (t *txn) CreateUser(ctx context.Context, u *store.User) error {
	doc, err := t.newUser(u)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, insertUserSQL, t.userInsertArgs(nil, u, doc)...)
	if err != nil {
		return mapErr(err)
	}
	if u.Key, err = res.LastInsertId(); err != nil {
		return err
	}
	// After the insert, so that a taken userName is the conflict reported
	// when both are taken (the write rolls back either way).
	if err := t.checkEmails(ctx, u.Key, t.policy.EmailsToCheck(nil, u)); err != nil {
		return err
	}
	// A new key has no externalId rows (keys are never reused): only a
	// given one is written.
	if err := t.addExternalID(ctx, externalUser, u.Key, u.ExternalID); err != nil {
		return err
	}
	if err := t.writeEmails(ctx, u, false); err != nil {
		return err
	}
	return t.record(ctx, "user.create", "User", u.ID, u.Key, u.Key, u.ID, "userName="+u.UserName)
}

// newUser normalises a user to create and gives it its id and meta; it
// returns the document to store.
func (t *txn) newUser(u *store.User) ([]byte, error) {
	if err := store.NormaliseUser(u); err != nil {
		return nil, err
	}
	if u.ID == "" {
		u.ID = newID()
	}
	u.Meta = store.Meta{Created: t.now, LastModified: t.now, Version: 1}
	u.Groups = nil
	return json.Marshal(u)
}

// The columns of a new users row, one row's placeholders, and its values.
const (
	userInsertCols = `id, user_name, user_name_key, display_name, active,
 created, last_modified, version, password_hash, source, source_id, source_dn, doc`
	userInsertRow = `(?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)`
)

func (t *txn) userInsertArgs(args []any, u *store.User, doc []byte) []any {
	return append(args, u.ID, u.UserName, store.UserNameKey(u.UserName), nullStr(u.DisplayName), u.Active, micros(t.now), micros(t.now),
		nullStr(u.PasswordHash), nullStr(u.Source.Name), nullStr(u.Source.ID), nullStr(u.Source.DN), doc)
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
	if err := store.NormaliseUserUpdate(old, u); err != nil {
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
	if bytes.Equal(doc, oldDoc) && u.PasswordHash == old.PasswordHash && u.Source == old.Source && u.ExternalID == old.ExternalID {
		return old, nil
	}
	u.Meta.Version = old.Meta.Version + 1
	u.Meta.LastModified = t.now
	// Only the columns that change are set: SQLite rewrites the entries of
	// every index on a column in the SET list, changed or not, and most
	// updates (a deactivation) change no indexed column but last_modified.
	set := []string{"last_modified = ?", "version = ?", "doc = ?"}
	args := []any{micros(t.now), u.Meta.Version, doc}
	if u.UserName != old.UserName {
		set, args = append(set, "user_name = ?"), append(args, u.UserName)
	}
	// The key column changes only with the name's key: a user parked by
	// the migration stays parked until it is renamed.
	if k := store.UserNameKey(u.UserName); k != store.UserNameKey(old.UserName) {
		set, args = append(set, "user_name_key = ?"), append(args, k)
	}
	if u.DisplayName != old.DisplayName {
		set, args = append(set, "display_name = ?"), append(args, nullStr(u.DisplayName))
	}
	if u.Active != old.Active {
		set, args = append(set, "active = ?"), append(args, u.Active)
	}
	if u.PasswordHash != old.PasswordHash {
		set, args = append(set, "password_hash = ?"), append(args, nullStr(u.PasswordHash))
	}
	if u.Source != old.Source {
		set = append(set, "source = ?", "source_id = ?", "source_dn = ?")
		args = append(args, nullStr(u.Source.Name), nullStr(u.Source.ID), nullStr(u.Source.DN))
	}
	_, err = t.exec(ctx, `UPDATE users SET `+strings.Join(set, ", ")+` WHERE key = ?`, append(args, u.Key)...)
	if err != nil {
		return nil, mapErr(err)
	}
	if err := t.checkEmails(ctx, u.Key, t.policy.EmailsToCheck(old, u)); err != nil {
		return nil, err
	}
	if u.ExternalID != old.ExternalID {
		if err := t.setExternalID(ctx, externalUser, u.Key, u.ExternalID); err != nil {
			return nil, err
		}
	}
	// Most updates (a deactivation, a new title) leave the addresses as
	// they are: their rows and index entries stay untouched too.
	if !sameEmailRows(old.Emails, u.Emails) {
		if err := t.writeEmails(ctx, u, true); err != nil {
			return nil, err
		}
	}
	changed := changedFields(oldDoc, doc)
	if u.ExternalID != old.ExternalID {
		changed = append(changed, "externalId")
	}
	if u.PasswordHash != old.PasswordHash {
		changed = append(changed, "password")
	}
	action := "user.update"
	if old.Active != u.Active {
		action = map[bool]string{true: "user.activate", false: "user.deactivate"}[u.Active]
	}
	if err := t.record(ctx, action, "User", u.ID, u.Key, u.Key, u.ID, "changed: "+strings.Join(changed, ", ")); err != nil {
		return nil, err
	}
	if u.PasswordHash != old.PasswordHash {
		if err := t.record(ctx, store.ActionPasswordChange, "User", u.ID, u.Key, u.Key, u.ID, t.actor.Door); err != nil {
			return nil, err
		}
		// A session proves the old password: it ends with it, in every door.
		if _, err := t.EndSessions(ctx, u.Key, store.KeptSession(ctx)); err != nil {
			return nil, err
		}
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
	return t.record(ctx, "user.delete", "User", id, key, key, id, "userName="+userName)
}

// checkEmails refuses an e-mail address that a user other than the one
// with key self holds (the userName key is a UNIQUE index; addresses are
// unique only by policy). The store has one writer, so nothing can slip in
// between this check and the write.
func (t *txn) checkEmails(ctx context.Context, self int64, emails []string) error {
	for _, e := range emails {
		var taken bool
		if err := t.queryRow(ctx, []any{&taken}, `SELECT EXISTS (SELECT 1 FROM user_emails WHERE value = ? AND user_key <> ?)`, e, self); err != nil {
			return err
		}
		if taken {
			return store.EmailConflict(e)
		}
	}
	return nil
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

// sameEmailRows reports whether two users' e-mail addresses make the same
// user_emails rows (writeEmails).
func sameEmailRows(a, b []store.Value) bool {
	return slices.EqualFunc(a, b, func(x, y store.Value) bool {
		return x.Value == y.Value && x.Type == y.Type && x.Primary == y.Primary
	})
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
