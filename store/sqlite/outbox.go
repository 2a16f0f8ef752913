package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// The outbox's rows are written by triggers (outboxTriggers, created while
// the outbox is on; its tables are migrations/0011_outbox.sql) in the
// transaction of each change; this file also reads them back and keeps the
// readers' bookkeeping (acks, failed attempts, dead entries).

const outboxCols = `seq, at, door, principal, address, action, resource_type, resource_id, resource_key, detail,
 before, after, member, attempts, next_attempt, last_error, dead`

// ListOutbox returns entries in sequence order.
func (r *reader) ListOutbox(ctx context.Context, q store.OutboxQuery) ([]store.OutboxEntry, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	where := `seq > ?`
	if q.Dead {
		where += ` AND dead = 1`
	}
	rows, done, err := r.query(ctx, `SELECT `+outboxCols+` FROM outbox WHERE `+where+` ORDER BY seq LIMIT ?`, q.AfterSeq, limit)
	if err != nil {
		return nil, err
	}
	defer done()
	defer rows.Close()
	var out []store.OutboxEntry
	for rows.Next() {
		e, err := scanOutbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

func scanOutbox(s scanner) (*store.OutboxEntry, error) {
	var (
		e                     store.OutboxEntry
		at, next              int64
		before, after, member sql.NullString
	)
	if err := s.Scan(&e.Seq, &at, &e.Actor.Door, &e.Actor.Principal, &e.Actor.Address, &e.Action, &e.ResourceType,
		&e.ResourceID, &e.ResourceKey, &e.Detail, &before, &after, &member, &e.Attempts, &next, &e.LastError, &e.Dead); err != nil {
		return nil, err
	}
	e.At, e.NextAttempt = fromMicros(at), fromMicros(next)
	if err := e.DecodeSnapshots(nullable(before), nullable(after), nullable(member)); err != nil {
		return nil, fmt.Errorf("sqlite: outbox entry %d: %w", e.Seq, err)
	}
	return &e, nil
}

// nullable is v as a pointer: nil for NULL.
func nullable(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	return &v.String
}

// OutboxStats counts the outbox.
func (r *reader) OutboxStats(ctx context.Context) (store.OutboxStats, error) {
	var st store.OutboxStats
	var oldest sql.NullInt64
	if err := r.queryRow(ctx, []any{&st.Enabled}, `SELECT enabled FROM outbox_state`); err != nil {
		return st, err
	}
	if err := r.queryRow(ctx, []any{&st.Pending, &oldest, &st.Dead},
		`SELECT coalesce(sum(dead = 0), 0), min(CASE WHEN dead = 0 THEN at END), coalesce(sum(dead), 0) FROM outbox`); err != nil {
		return st, err
	}
	st.Oldest = fromMicros(oldest.Int64)
	err := r.queryRow(ctx, []any{&st.LastErrorSeq, &st.LastError},
		`SELECT seq, last_error FROM outbox WHERE last_failed > 0 ORDER BY last_failed DESC, seq DESC LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return st, err
}

// SetOutbox turns recording on or off: it creates the triggers that
// record, or drops them. A store without write-back thus has none: a
// trigger is compiled into every statement it watches, and these would
// cost every write transaction a fifth of its time even while idle.
func (t *txn) SetOutbox(ctx context.Context, enabled bool) error {
	for _, tr := range outboxTriggers {
		q := `DROP TRIGGER IF EXISTS ` + tr.name
		if enabled {
			q = `CREATE TRIGGER IF NOT EXISTS ` + tr.name + ` ` + tr.body
		}
		if _, err := t.tx.ExecContext(context.WithoutCancel(ctx), q); err != nil {
			return fmt.Errorf("sqlite: outbox trigger %s: %w", tr.name, err)
		}
	}
	_, err := t.exec(ctx, `UPDATE outbox_state SET enabled = ?`, enabled)
	return err
}

// userSnap renders a users row (of OLD, NEW or an alias) as the JSON
// snapshot decodeUserSnap reads.
// Its externalId is ext, an SQL expression (see snapExternalID).
func userSnap(r, ext string) string {
	return `json_object('key', ` + r + `.key, 'id', ` + r + `.id, 'user_name', ` + r + `.user_name, 'external_id', ` + ext +
		`, 'display_name', ` + r + `.display_name, 'active', ` + r + `.active, 'source', ` + r +
		`.source, 'source_id', ` + r + `.source_id, 'source_dn', ` + r + `.source_dn, 'doc', json(` + r + `.doc))`
}

// groupSnap renders a groups row as the snapshot decodeGroupSnap reads.
func groupSnap(r, ext string) string {
	return `json_object('key', ` + r + `.key, 'id', ` + r + `.id, 'display_name', ` + r + `.display_name, 'external_id', ` + ext +
		`, 'source', ` + r + `.source, 'source_id', ` + r + `.source_id, 'source_dn', ` + r + `.source_dn)`
}

// snapExternalID selects the externalId of the users or groups row r
// (code externalUser or externalGroup) that a snapshot carries: the one of
// the default provisioning domain, the domain a directory belongs to.
// Values other domains' clients set are theirs and are not written back.
func snapExternalID(code int, r string) string {
	return fmt.Sprintf(`(SELECT x.external_id FROM external_ids x WHERE x.resource_type = %d AND x.resource_key = %s.key AND x.domain = '%s')`,
		code, r, store.DefaultDomain)
}

// externalIDBefore makes the triggers that keep a resource as it was
// before its default-domain externalId changed (migration 0010 moved
// externalIds out of the users and groups rows, so no row trigger sees
// it). The store writes an externalId after the row, so when the row
// changed too its trigger has kept the resource already, with the old
// value: these then leave it be (OR IGNORE). A create's snapshot they make
// is not taken as a before (outbox_collect).
func externalIDBefore() []struct{ name, body string } {
	var out []struct{ name, body string }
	for _, rt := range []struct {
		code        int
		typ, table  string
		snap        func(r, ext string) string
		event, prev string
	}{
		{externalUser, "User", "users", userSnap, "INSERT", "NULL"},
		{externalUser, "User", "users", userSnap, "UPDATE", "OLD.external_id"},
		{externalUser, "User", "users", userSnap, "DELETE", "OLD.external_id"},
		{externalGroup, "Group", "groups", groupSnap, "INSERT", "NULL"},
		{externalGroup, "Group", "groups", groupSnap, "UPDATE", "OLD.external_id"},
		{externalGroup, "Group", "groups", groupSnap, "DELETE", "OLD.external_id"},
	} {
		row := "NEW"
		if rt.event == "DELETE" {
			row = "OLD"
		}
		out = append(out, struct{ name, body string }{
			name: fmt.Sprintf("outbox_%s_external_id_%s", strings.ToLower(rt.typ), strings.ToLower(rt.event)),
			body: fmt.Sprintf(`AFTER %s ON external_ids
WHEN %s.resource_type = %d AND %s.domain = '%s'
BEGIN INSERT OR IGNORE INTO outbox_before SELECT '%s', r.key, %s FROM %s r WHERE r.key = %s.resource_key; END`,
				rt.event, row, rt.code, row, store.DefaultDomain, rt.typ, rt.snap("r", rt.prev), rt.table, row),
		})
	}
	return out
}

// memberSnap renders a membership's member as decodeMemberSnap reads it.
func memberSnap(typ, r, name, active string) string {
	return `json_object('type', '` + typ + `', 'id', ` + r + `.id, 'key', ` + r + `.key, 'name', ` + r + `.` + name +
		`, 'active', ` + active + `, 'source', ` + r + `.source, 'source_id', ` + r + `.source_id, 'source_dn', ` + r + `.source_dn)`
}

// outboxTriggers record the outbox while it is on. The row triggers keep
// a resource as it was before an update or a delete (version bumps, which
// change no attribute, are left out); the activity entry every change
// records right after its rows names the door and the action, so its
// trigger makes the outbox row. A membership entry names the member by id
// in its detail ("member=<id>") and, for a user, by key in user_key. The
// sync's own changes (door ldapsync) make none.
var outboxTriggers = append([]struct{ name, body string }{
	{"outbox_user_updated", `AFTER UPDATE ON users
WHEN OLD.doc IS NOT NEW.doc OR OLD.user_name IS NOT NEW.user_name OR OLD.active IS NOT NEW.active
  OR OLD.password_hash IS NOT NEW.password_hash OR OLD.source IS NOT NEW.source OR OLD.source_id IS NOT NEW.source_id
  OR OLD.source_dn IS NOT NEW.source_dn
BEGIN INSERT OR REPLACE INTO outbox_before VALUES ('User', OLD.key, ` + userSnap("OLD", snapExternalID(externalUser, "OLD")) + `); END`},
	{"outbox_user_deleted", `AFTER DELETE ON users
BEGIN INSERT OR REPLACE INTO outbox_before VALUES ('User', OLD.key, ` + userSnap("OLD", snapExternalID(externalUser, "OLD")) + `); END`},
	{"outbox_group_updated", `AFTER UPDATE ON groups
WHEN OLD.display_name IS NOT NEW.display_name OR OLD.source IS NOT NEW.source
  OR OLD.source_id IS NOT NEW.source_id OR OLD.source_dn IS NOT NEW.source_dn
BEGIN INSERT OR REPLACE INTO outbox_before VALUES ('Group', OLD.key, ` + groupSnap("OLD", snapExternalID(externalGroup, "OLD")) + `); END`},
	{"outbox_group_deleted", `AFTER DELETE ON groups
BEGIN INSERT OR REPLACE INTO outbox_before VALUES ('Group', OLD.key, ` + groupSnap("OLD", snapExternalID(externalGroup, "OLD")) + `); END`},
	{"outbox_collect", `AFTER INSERT ON activity
WHEN NEW.resource_type IN ('User', 'Group')
BEGIN
  INSERT INTO outbox (at, door, principal, address, action, resource_type, resource_id, resource_key, detail,
    before, after, member)
  SELECT NEW.at, NEW.door, NEW.principal, NEW.address, NEW.action, NEW.resource_type, NEW.resource_id,
    NEW.resource_key, NEW.detail,
    CASE WHEN NEW.action IN ('user.create', 'group.create') THEN NULL
      ELSE (SELECT snap FROM outbox_before WHERE resource_type = NEW.resource_type AND resource_key = NEW.resource_key)
    END,
    CASE
      WHEN NEW.action IN ('group.members.add', 'group.members.remove') THEN NULL
      WHEN NEW.resource_type = 'User' THEN (SELECT ` + userSnap("u", snapExternalID(externalUser, "u")) + ` FROM users u WHERE u.key = NEW.resource_key)
      ELSE (SELECT ` + groupSnap("g", snapExternalID(externalGroup, "g")) + ` FROM groups g WHERE g.key = NEW.resource_key)
    END,
    CASE
      WHEN NEW.action NOT IN ('group.members.add', 'group.members.remove') THEN NULL
      WHEN NEW.user_key <> 0 THEN (SELECT ` + memberSnap("User", "u", "user_name", "u.active") + ` FROM users u WHERE u.key = NEW.user_key)
      ELSE (SELECT ` + memberSnap("Group", "g", "display_name", "1") + ` FROM groups g
        WHERE g.id = substr(NEW.detail, length('member=') + 1))
    END
  WHERE NEW.door <> 'ldapsync' AND NEW.action IN ('user.create', 'user.update', 'user.activate', 'user.deactivate',
    'user.delete', 'password.change', 'group.create', 'group.update', 'group.delete', 'group.members.add',
    'group.members.remove');
  DELETE FROM outbox_before WHERE resource_type = NEW.resource_type AND resource_key = NEW.resource_key;
END`},
}, externalIDBefore()...)

// AckOutbox deletes delivered entries.
func (t *txn) AckOutbox(ctx context.Context, seqs ...int64) error {
	if len(seqs) == 0 {
		return nil
	}
	_, err := t.exec(ctx, `DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each(?))`, jsonInts(seqs))
	return err
}

// DeferOutbox records a failed attempt.
func (t *txn) DeferOutbox(ctx context.Context, seq int64, lastError string, next time.Time, dead bool) error {
	res, err := t.exec(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = ?, last_failed = ?, next_attempt = ?,
 dead = ? WHERE seq = ?`, lastError, micros(t.now), micros(next), dead, seq)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.Errorf(store.KindNotFound, "outbox entry %d not found", seq)
	}
	return nil
}

// RetryOutbox revives dead entries.
func (t *txn) RetryOutbox(ctx context.Context, seqs ...int64) (int, error) {
	q := `UPDATE outbox SET dead = 0, attempts = 0, next_attempt = 0 WHERE dead = 1`
	var args []any
	if len(seqs) > 0 {
		q += ` AND seq IN (SELECT value FROM json_each(?))`
		args = append(args, jsonInts(seqs))
	}
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
