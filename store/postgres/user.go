package postgres

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"

	"github.com/scimbridge/scimbridge/store"
)

// userCols selects a user, its externalId in the domain bound at
// placeholder domain.
func userCols(domain string) string {
	return `u.key, u.id, u.user_name, ` + externalIDExpr(externalUser, "u", domain) + `, u.display_name, u.active, u.created,
 u.last_modified, u.version, u.password_hash, u.source, u.source_id, u.source_dn, u.doc`
}

// userGroupsCol reads a user's direct groups in the same statement as the
// user, as a JSON array of [id, key, displayName]: one query per read.
const userGroupsCol = `(SELECT coalesce(json_agg(json_build_array(g.id, g.key, g.display_name)), '[]')
 FROM memberships m JOIN groups g ON g.key = m.group_key WHERE m.member_type = 0 AND m.member_key = u.key)`

// userColsWithGroups selects a user and its direct groups.
func userColsWithGroups(domain string) string { return userCols(domain) + `, ` + userGroupsCol }

// scanUser reads a row of userCols, or of userColsWithGroups when
// withGroups is set.
func scanUser(row pgx.Row, withGroups bool) (*store.User, error) {
	var (
		u                                   store.User
		ext, display, pw, src, srcID, srcDN *string
		created, modified                   time.Time
		doc, groups                         []byte
	)
	dest := []any{&u.Key, &u.ID, &u.UserName, &ext, &display, &u.Active, &created, &modified,
		&u.Meta.Version, &pw, &src, &srcID, &srcDN, &doc}
	if withGroups {
		dest = append(dest, &groups)
	}
	if err := row.Scan(dest...); err != nil {
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
	u.ExternalID, u.DisplayName, u.PasswordHash = str(ext), str(display), str(pw)
	u.Source = store.Source{Name: str(src), ID: str(srcID), DN: str(srcDN)}
	u.Meta.Created, u.Meta.LastModified = created.UTC(), modified.UTC()
	return &u, nil
}

// getUser reads the user where finds, with its externalId in the
// context's domain (bound after where's own arguments).
func (r *reader) getUser(ctx context.Context, where string, arg ...any) (*store.User, error) {
	sql := `SELECT ` + userColsWithGroups("$"+itoa(len(arg)+1)) + ` FROM users u WHERE ` + where
	if r.tx != nil {
		sql += ` FOR NO KEY UPDATE OF u`
	}
	u, err := scanUser(r.q.QueryRow(ctx, sql, append(arg, store.DomainOf(ctx))...), true)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.Errorf(store.KindNotFound, "user not found")
	}
	if err != nil {
		return nil, mapErr(err)
	}
	if err := r.addIndirect(ctx, []*store.User{u}); err != nil {
		return nil, err
	}
	return u, nil
}

func notFoundUser() error { return store.Errorf(store.KindNotFound, "user not found") }

// GetUser returns the user with the given SCIM id.
func (r *reader) GetUser(ctx context.Context, id string) (*store.User, error) {
	if !storable(id) {
		return nil, notFoundUser()
	}
	return r.getUser(ctx, `u.id = $1`, id)
}

// GetUserByKey returns the user with the given integer key.
func (r *reader) GetUserByKey(ctx context.Context, key int64) (*store.User, error) {
	return r.getUser(ctx, `u.key = $1`, key)
}

// GetUserByUserName finds the user whose userName equals userName under
// store.UserNameKey: one lookup of a unique key. Only when that user is
// missing or its name is not userName exactly is a name parked by the
// migration (backfill.go) looked for, and preferred if it matches exactly.
func (r *reader) GetUserByUserName(ctx context.Context, userName string) (*store.User, error) {
	if !storable(userName) {
		return nil, notFoundUser()
	}
	key := store.UserNameKey(userName)
	if !storable(key) {
		return nil, notFoundUser()
	}
	u, err := r.getUser(ctx, `u.user_name_key = $1`, key)
	if err != nil && !store.IsNotFound(err) || err == nil && u.UserName == userName {
		return u, err
	}
	lo, hi := parkedRange(key)
	parked, perr := r.getUser(ctx, `u.user_name_key > $1 AND u.user_name_key < $2 AND u.user_name = $3`, lo, hi, userName)
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
	if !storable(source) || !storable(sourceID) {
		return nil, notFoundUser()
	}
	return r.getUser(ctx, `u.source = $1 AND u.source_id = $2`, source, sourceID)
}

const parentGroups = `SELECT m.member_key, g.id, g.key, g.display_name FROM memberships m
 JOIN groups g ON g.key = m.group_key
 WHERE m.member_type = 1 AND m.member_key = ANY($1)`

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
	var nested bool
	if err := r.queryRow(ctx, []any{&nested}, `SELECT EXISTS (SELECT 1 FROM memberships WHERE member_type = 1)`); err != nil {
		return err
	}
	if !nested {
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
		rows, err := r.query(ctx, parentGroups, frontier)
		if err != nil {
			return err
		}
		var next []int64
		for rows.Next() {
			var child int64
			var g store.GroupRef
			if err := rows.Scan(&child, &g.ID, &g.Key, &g.Display); err != nil {
				rows.Close()
				return err
			}
			parents[child] = append(parents[child], g)
			if !seen[g.Key] {
				seen[g.Key] = true
				next = append(next, g.Key)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return mapErr(err)
		}
		frontier = next
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
			func(row pgx.Row) (*store.User, error) { return scanUser(row, q.Related) },
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
	page.Total, err = r.total(ctx, q, sel, len(page.Users))
	return page, err
}

// scanPage runs a page query and, for cursor queries, cuts the extra row
// that tells whether more follow and encodes the next cursor.
func scanPage[T any](ctx context.Context, r *reader, t *table, q store.Query, sel *selectSQL,
	scan func(pgx.Row) (T, error), keyOf func(T) int64) ([]T, string, error) {
	rows, err := r.query(ctx, sel.sql, sel.args...)
	if err != nil {
		return nil, "", err
	}
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
		return nil, "", mapErr(err)
	}
	rows.Close()
	if !q.UseCursor || len(out) <= q.Limit {
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
func (r *reader) total(ctx context.Context, q store.Query, sel *selectSQL, got int) (int, error) {
	if !q.UseCursor && q.Limit > 0 && q.Offset == 0 && got < q.Limit {
		return got, nil
	}
	var n int
	if q.Filter == nil {
		err := r.queryRow(ctx, []any{&n}, `SELECT sum(n) FROM counts WHERE name = $1`, sel.table)
		return n, err
	}
	err := r.queryRow(ctx, []any{&n}, sel.countSQL, sel.countArgs...)
	return n, err
}

// emailRows renders a user's e-mails as the arrays insertEmails unnests.
func emailRows(u *store.User) (pos []int32, values []string, types []*string, primary []bool) {
	for i, e := range u.Emails {
		if e.Value == "" {
			continue
		}
		pos = append(pos, int32(i))
		values = append(values, e.Value)
		types = append(types, nullStr(e.Type))
		primary = append(primary, e.Primary)
	}
	return
}

const insertEmails = `INSERT INTO user_emails (user_key, pos, value, type, is_primary)
 SELECT k, p, v, t, pr FROM u, unnest($2::int[], $3::text[], $4::text[], $5::bool[]) AS e(p, v, t, pr)`

// CreateUser stores a new user.
func (t *txn) CreateUser(ctx context.Context, u *store.User) error {
	if err := store.NormaliseUser(u); err != nil {
		return err
	}
	if u.ID == "" {
		u.ID = newID()
	}
	u.Meta = store.Meta{Created: t.now, LastModified: t.now, Version: 1}
	u.Groups = nil
	doc, err := json.Marshal(u)
	if err != nil {
		return err
	}
	pos, values, types, primary := emailRows(u)
	// The user, its e-mails and its externalId in one statement (one
	// round trip).
	err = t.guarded(ctx, []any{&u.Key}, `WITH u AS (
 INSERT INTO users (id, user_name, user_name_key, display_name, active, created, last_modified, version,
  password_hash, source, source_id, source_dn, doc)
 VALUES ($1, $6, $7, $8, $9, $10, $10, 1, $11, $12, $13, $14, $15) RETURNING key AS k),
 e AS (`+insertEmails+`),
 x AS (INSERT INTO external_ids (resource_type, resource_key, domain, external_id)
  SELECT 0, k, $16, $17 FROM u WHERE $17::text <> '')
SELECT k FROM u`,
		u.ID, pos, values, types, primary,
		u.UserName, store.UserNameKey(u.UserName), nullStr(u.DisplayName), u.Active, t.now,
		nullStr(u.PasswordHash), nullStr(u.Source.Name), nullStr(u.Source.ID), nullStr(u.Source.DN), string(doc),
		store.DomainOf(ctx), u.ExternalID)
	if err != nil {
		return err
	}
	// After the insert, so that a taken userName is the conflict reported
	// when both are taken (the write rolls back either way).
	if err := t.checkEmails(ctx, u.Key, t.policy.EmailsToCheck(nil, u)); err != nil {
		return err
	}
	t.record("user.create", "User", u.ID, u.Key, u.Key, u.ID, "userName="+u.UserName)
	t.change(ctx, nil, userSnap(u, doc))
	return nil
}

// UpdateUser applies fn to the stored user, locked until the commit. A
// change that alters nothing stores nothing: no new version, no activity
// entry.
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
	// The key column changes only with the name's key: a user parked by
	// the migration stays parked until it is renamed.
	var nameKey *string
	if k := store.UserNameKey(u.UserName); k != store.UserNameKey(old.UserName) {
		nameKey = &k
	}
	u.Meta.Version = old.Meta.Version + 1
	u.Meta.LastModified = t.now
	sql := `UPDATE users SET user_name = $2, user_name_key = coalesce($3, user_name_key), display_name = $4, active = $5,
 last_modified = $6, version = $7, password_hash = $8, source = $9, source_id = $10, source_dn = $11, doc = $12 WHERE key = $1`
	args := []any{u.Key, u.UserName, nameKey, nullStr(u.DisplayName), u.Active, t.now, u.Meta.Version,
		nullStr(u.PasswordHash), nullStr(u.Source.Name), nullStr(u.Source.ID), nullStr(u.Source.DN), string(doc)}
	if nameKey != nil || u.Source != old.Source {
		// Only these can break a uniqueness rule.
		err = t.guarded(ctx, nil, sql, args...)
	} else {
		_, err = t.exec(ctx, sql, args...)
	}
	if err != nil {
		return nil, err
	}
	if err := t.checkEmails(ctx, u.Key, t.policy.EmailsToCheck(old, u)); err != nil {
		return nil, err
	}
	if u.ExternalID != old.ExternalID {
		if err := t.setExternalID(ctx, externalUser, u.Key, u.ExternalID); err != nil {
			return nil, err
		}
	}
	if !equalValues(old.Emails, u.Emails) {
		pos, values, types, primary := emailRows(u)
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM user_emails WHERE user_key = $1`, u.Key)
		b.Queue(`INSERT INTO user_emails (user_key, pos, value, type, is_primary)
 SELECT $1, p, v, t, pr FROM unnest($2::int[], $3::text[], $4::text[], $5::bool[]) AS e(p, v, t, pr)`,
			u.Key, pos, values, types, primary)
		if err := t.pg.SendBatch(ctx, b).Close(); err != nil {
			return nil, mapErr(err)
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
	t.record(action, "User", u.ID, u.Key, u.Key, u.ID, "changed: "+strings.Join(changed, ", "))
	after := userSnap(u, doc)
	t.change(ctx, userSnap(old, oldDoc), after)
	if u.PasswordHash != old.PasswordHash {
		t.record(store.ActionPasswordChange, "User", u.ID, u.Key, u.Key, u.ID, t.actor.Door)
		// As in store/sqlite, where the change's entry took the before.
		t.change(ctx, nil, after)
		if _, err := t.EndSessions(ctx, u.Key, store.KeptSession(ctx)); err != nil {
			return nil, err
		}
	}
	return u, nil
}

func equalValues(a, b []store.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// DeleteUser removes a user, its memberships and its credentials.
func (t *txn) DeleteUser(ctx context.Context, id string) error {
	if !storable(id) {
		return notFoundUser()
	}
	// The user as the outbox keeps it, with the default domain's
	// externalId: the rows of every domain go with the user.
	u, err := scanUser(t.q.QueryRow(ctx, `SELECT `+userCols("$2")+` FROM users u WHERE u.id = $1 FOR UPDATE`, id, store.DefaultDomain), false)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFoundUser()
	}
	if err != nil {
		return mapErr(err)
	}
	doc, err := json.Marshal(u)
	if err != nil {
		return err
	}
	key, userName := u.Key, u.UserName
	// The groups that lose a member change too.
	if _, err := t.exec(ctx, `WITH g AS (
 UPDATE groups SET version = version + 1, last_modified = $2
 WHERE key IN (SELECT group_key FROM memberships WHERE member_type = 0 AND member_key = $1)),
 m AS (DELETE FROM memberships WHERE member_type = 0 AND member_key = $1),
 c AS (DELETE FROM credentials WHERE user_key = $1)
DELETE FROM users WHERE key = $1`, key, t.now); err != nil {
		return err
	}
	t.record("user.delete", "User", id, key, key, id, "userName="+userName)
	t.keep(outboxChange{before: userSnap(u, doc), memberType: -1})
	return nil
}

// checkEmails refuses an e-mail address that a user other than the one
// with key self holds (unique by policy, not by an index). Each address is
// first locked with a transaction-scoped advisory lock, in one order:
// two writers of one address, on any nodes, take turns, and the second's
// check (a statement begun after the first committed) sees the first's
// address.
func (t *txn) checkEmails(ctx context.Context, self int64, emails []string) error {
	if len(emails) == 0 {
		return nil
	}
	keys := make([]string, len(emails))
	locks := make([]int64, len(emails))
	for i, e := range emails {
		keys[i] = store.EmailKey(e)
		locks[i] = lockKey("email:" + keys[i])
	}
	slices.Sort(locks)
	b := &pgx.Batch{}
	b.Queue(`SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::bigint[]) WITH ORDINALITY AS l(k, n)`, locks)
	b.Queue(`SELECT n FROM unnest($1::text[]) WITH ORDINALITY AS e(v, n)
 WHERE EXISTS (SELECT 1 FROM user_emails m WHERE lower(m.value) = (e.v COLLATE "C") AND m.user_key <> $2) ORDER BY n LIMIT 1`, keys, self)
	br := t.pg.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return mapErr(err)
	}
	var n int
	err := br.QueryRow().Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return mapErr(br.Close())
	}
	if err != nil {
		return mapErr(err)
	}
	return store.EmailConflict(emails[n-1])
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

// CreateUsers creates users as CreateUser creates each, in a savepoint:
// all of them, or none, the first one refused named by an
// *store.ItemError. (Each CreateUser is one round trip; a batch of them
// costs what the same creates cost one by one in the transaction.)
func (t *txn) CreateUsers(ctx context.Context, users []*store.User) error {
	if len(users) == 0 {
		return nil
	}
	if _, err := t.pg.Exec(ctx, `SAVEPOINT create_users`); err != nil {
		return mapErr(err)
	}
	pending := len(t.pending)
	for i, u := range users {
		if err := t.CreateUser(ctx, u); err != nil {
			// The activity entries of the users before it go with them.
			t.pending = t.pending[:pending]
			if _, rerr := t.pg.Exec(ctx, `ROLLBACK TO SAVEPOINT create_users`); rerr != nil {
				return mapErr(rerr)
			}
			return &store.ItemError{Index: i, Err: mapErr(err)}
		}
	}
	_, err := t.pg.Exec(ctx, `RELEASE SAVEPOINT create_users`)
	return mapErr(err)
}
