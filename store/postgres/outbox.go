package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	json "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"

	"github.com/scimbridge/scimbridge/store"
)

// The outbox (store/outbox.go; its tables are migrations/0010_outbox.sql)
// is written here, not by triggers as in store/sqlite: this backend
// inserts a transaction's activity entries together before the commit,
// so a trigger on them would see every change of a resource at the end
// of the transaction, not as it was after each. Each change instead keeps
// its resource as it had it in hand before and after (snapshot), and
// flushActivity inserts the rows with the activity, in the same transaction.
//
// Whether the outbox is on is read at that flush, after taking the outbox
// advisory lock shared; SetOutbox takes it exclusively. A change therefore
// either commits before the outbox is turned on or reads it on, on any
// node: none commits unrecorded after recording began.
//
// Delivery (ldapsync) runs on one node at a time, under the advisory lock
// TryLock gives it. Acks and defers are safe without it all the same: an
// ack waits for a concurrent defer of its entry and then deletes it (it
// was delivered); a defer skips an entry another transaction holds (FOR
// UPDATE SKIP LOCKED): that one's ack or defer settles the attempt, which
// is counted once.

const outboxCols = `seq, at, door, principal, address, action, resource_type, resource_id, resource_key, detail,
 before, after, member, attempts, next_attempt, last_error, dead`

// outboxChange is what the outbox keeps of one change until the flush.
type outboxChange struct {
	before, after *snap
	// memberType is 0 (user) or 1 (group) for a membership change, whose
	// member is memberKey; -1 otherwise.
	memberType int16
	memberKey  int64
	// domainExt: the snapshots' externalIds are of a domain other than
	// the default, and the flush replaces them with the default's.
	domainExt bool
}

// snap is a resource as the outbox records it, in the one format of
// every backend (store.OutboxSnapshot).
type snap = store.OutboxSnapshot

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// userSnap keeps user u, whose stored document is doc.
func userSnap(u *store.User, doc []byte) *snap {
	return &snap{Key: u.Key, ID: u.ID, UserName: u.UserName, ExternalID: nullStr(u.ExternalID),
		DisplayName: nullStr(u.DisplayName), Active: boolInt(u.Active), Source: nullStr(u.Source.Name),
		SourceID: nullStr(u.Source.ID), SourceDN: nullStr(u.Source.DN), Doc: doc}
}

// groupSnap keeps group g: copies, not pointers into g, which the caller
// may change before the flush.
func groupSnap(g *store.Group) *snap {
	display := g.DisplayName
	return &snap{Key: g.Key, ID: g.ID, ExternalID: nullStr(g.ExternalID), DisplayName: &display,
		Source: nullStr(g.Source.Name), SourceID: nullStr(g.Source.ID), SourceDN: nullStr(g.Source.DN)}
}

// change attaches the outbox's record of a change to the activity entry
// just recorded for it. The snapshots carry externalIds of ctx's domain.
func (t *txn) change(ctx context.Context, before, after *snap) {
	t.keep(outboxChange{before: before, after: after, memberType: -1,
		domainExt: store.DomainOf(ctx) != store.DefaultDomain})
}

// changeMember attaches the record of a membership change of member key
// (type 0 user, 1 group).
func (t *txn) changeMember(typ int16, key int64) {
	t.keep(outboxChange{memberType: typ, memberKey: key})
}

// keep attaches box to the activity entry just recorded; the directory
// sync's own changes are not kept.
func (t *txn) keep(box outboxChange) {
	if t.actor.Door == "ldapsync" || len(t.pending) == 0 {
		return
	}
	t.pending[len(t.pending)-1].box = &box
}

// outboxLock is the advisory lock between recording (shared) and turning
// the outbox on or off (exclusive).
var outboxLock = lockKey("outbox")

// outboxEnabled takes the outbox lock shared and reads whether the outbox
// is on, in a statement of its own so that it reads after the lock is
// held. It sends the statements of b (one, whose result it discards)
// first, in the same round trip; b may be nil.
func (t *txn) outboxEnabled(ctx context.Context, b *pgx.Batch) (bool, error) {
	skip := 0
	if b == nil {
		b = &pgx.Batch{}
	} else {
		skip = b.Len()
	}
	b.Queue(`SELECT pg_advisory_xact_lock_shared($1)`, outboxLock)
	b.Queue(`SELECT enabled FROM outbox_state`)
	br := t.pg.SendBatch(ctx, b)
	var on bool
	var err error
	for i := 0; i <= skip && err == nil; i++ {
		_, err = br.Exec()
	}
	if err == nil {
		err = br.QueryRow().Scan(&on)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return on, mapErr(err)
}

// insertOutbox inserts the outbox rows of rows (pending activity entries,
// in order). A member's snapshot is read here, and so is the default
// domain's externalId of a resource changed in another domain: the
// transaction changes neither between the change and now unless it
// changes the member itself.
func (t *txn) insertOutbox(ctx context.Context, rows []activityRow) error {
	var n int
	for _, a := range rows {
		if a.box != nil {
			n++
		}
	}
	actions, types, ids, details := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	befores, afters := make([]*string, 0, n), make([]*string, 0, n)
	keys, memberKeys := make([]int64, 0, n), make([]int64, 0, n)
	memberTypes, fills := make([]int16, 0, n), make([]bool, 0, n)
	encode := func(s *snap) (*string, error) {
		if s == nil {
			return nil, nil
		}
		b, err := json.Marshal(s)
		v := string(b)
		return &v, err
	}
	for _, a := range rows {
		if a.box == nil {
			continue
		}
		before, err := encode(a.box.before)
		if err != nil {
			return err
		}
		after, err := encode(a.box.after)
		if err != nil {
			return err
		}
		actions, types, ids, details = append(actions, a.action), append(types, a.resourceType), append(ids, a.resourceID), append(details, a.detail)
		befores, afters, keys = append(befores, before), append(afters, after), append(keys, a.resourceKey)
		memberTypes, memberKeys, fills = append(memberTypes, a.box.memberType), append(memberKeys, a.box.memberKey), append(fills, a.box.domainExt)
	}
	defaultExt := `jsonb_build_object('external_id', (SELECT x.external_id FROM external_ids x
   WHERE x.resource_type = CASE rt WHEN 'User' THEN 0 ELSE 1 END AND x.resource_key = rk AND x.domain = '` + store.DefaultDomain + `'))`
	src := `'source', m.source, 'source_id', m.source_id, 'source_dn', m.source_dn`
	_, err := t.exec(ctx, `INSERT INTO outbox (at, door, principal, address, action, resource_type, resource_id, resource_key,
 detail, before, after, member)
 SELECT $1, $2, $3, $4, a, rt, ri, rk, d,
  CASE WHEN fx THEN (b::jsonb || `+defaultExt+`)::text ELSE b END,
  CASE WHEN fx THEN (af::jsonb || `+defaultExt+`)::text ELSE af END,
  CASE mt
   WHEN 0 THEN (SELECT json_build_object('type', 'User', 'id', m.id, 'key', m.key, 'name', m.user_name,
    'active', m.active::int, `+src+`)::text FROM users m WHERE m.key = mk)
   WHEN 1 THEN (SELECT json_build_object('type', 'Group', 'id', m.id, 'key', m.key, 'name', m.display_name,
    'active', 1, `+src+`)::text FROM groups m WHERE m.key = mk)
  END
 FROM unnest($5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::smallint[],
  $13::bigint[], $14::bool[]) WITH ORDINALITY AS x(a, rt, ri, rk, d, b, af, mt, mk, fx, n)
 ORDER BY n`,
		t.now, t.actor.Door, t.actor.Principal, t.actor.Address, actions, types, ids, keys, details, befores, afters,
		memberTypes, memberKeys, fills)
	return err
}

// ListOutbox returns entries in sequence order; inside a transaction, its
// own changes included.
func (r *reader) ListOutbox(ctx context.Context, q store.OutboxQuery) ([]store.OutboxEntry, error) {
	if r.tx != nil {
		if err := r.tx.flushActivity(ctx); err != nil {
			return nil, err
		}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	where := `seq > $1`
	if q.Dead {
		where += ` AND dead`
	}
	rows, err := r.query(ctx, `SELECT `+outboxCols+` FROM outbox WHERE `+where+` ORDER BY seq LIMIT $2`, q.AfterSeq, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.OutboxEntry
	for rows.Next() {
		e, err := scanOutbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, mapErr(rows.Err())
}

func scanOutbox(row pgx.Row) (*store.OutboxEntry, error) {
	var (
		e                     store.OutboxEntry
		at                    time.Time
		next                  *time.Time
		before, after, member *string
	)
	if err := row.Scan(&e.Seq, &at, &e.Actor.Door, &e.Actor.Principal, &e.Actor.Address, &e.Action, &e.ResourceType,
		&e.ResourceID, &e.ResourceKey, &e.Detail, &before, &after, &member, &e.Attempts, &next, &e.LastError, &e.Dead); err != nil {
		return nil, err
	}
	e.At, e.NextAttempt = at.UTC(), utc(next)
	if err := e.DecodeSnapshots(before, after, member); err != nil {
		return nil, fmt.Errorf("postgres: outbox entry %d: %w", e.Seq, err)
	}
	return &e, nil
}

// OutboxStats counts the outbox.
func (r *reader) OutboxStats(ctx context.Context) (store.OutboxStats, error) {
	var st store.OutboxStats
	var oldest *time.Time
	if err := r.queryRow(ctx, []any{&st.Enabled, &st.Pending, &oldest, &st.Dead}, `SELECT (SELECT enabled FROM outbox_state),
 count(*) FILTER (WHERE NOT dead), min(at) FILTER (WHERE NOT dead), count(*) FILTER (WHERE dead) FROM outbox`); err != nil {
		return st, err
	}
	st.Oldest = utc(oldest)
	err := r.queryRow(ctx, []any{&st.LastErrorSeq, &st.LastError},
		`SELECT seq, last_error FROM outbox WHERE last_failed IS NOT NULL ORDER BY last_failed DESC, seq DESC LIMIT 1`)
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	return st, err
}

// SetOutbox turns recording on or off, under the outbox lock held
// exclusively until the commit: transactions recording meanwhile wait.
func (t *txn) SetOutbox(ctx context.Context, enabled bool) error {
	if _, err := t.exec(ctx, `SELECT pg_advisory_xact_lock($1)`, outboxLock); err != nil {
		return err
	}
	_, err := t.exec(ctx, `UPDATE outbox_state SET enabled = $1`, enabled)
	return err
}

// AckOutbox deletes delivered entries. One another transaction is
// deferring is deleted after it commits: it was delivered all the same.
func (t *txn) AckOutbox(ctx context.Context, seqs ...int64) error {
	if len(seqs) == 0 {
		return nil
	}
	_, err := t.exec(ctx, `DELETE FROM outbox WHERE seq = ANY($1)`, seqs)
	return err
}

// DeferOutbox records a failed attempt, unless another transaction holds
// the entry (a delivery on another node settling it): its outcome stands.
func (t *txn) DeferOutbox(ctx context.Context, seq int64, lastError string, next time.Time, dead bool) error {
	var exists bool
	err := t.queryRow(ctx, []any{&exists}, `WITH e AS (SELECT seq FROM outbox WHERE seq = $1 FOR UPDATE SKIP LOCKED),
 u AS (UPDATE outbox o SET attempts = attempts + 1, last_error = $2, last_failed = $3, next_attempt = $4, dead = $5
  FROM e WHERE o.seq = e.seq RETURNING o.seq)
SELECT EXISTS (SELECT 1 FROM u) OR EXISTS (SELECT 1 FROM outbox WHERE seq = $1)`,
		seq, lastError, t.now, nullTime(next), dead)
	if err != nil {
		return err
	}
	if !exists {
		return store.Errorf(store.KindNotFound, "outbox entry %d not found", seq)
	}
	return nil
}

// RetryOutbox revives dead entries.
func (t *txn) RetryOutbox(ctx context.Context, seqs ...int64) (int, error) {
	q := `UPDATE outbox SET dead = false, attempts = 0, next_attempt = NULL WHERE dead`
	var args []any
	if len(seqs) > 0 {
		q += ` AND seq = ANY($1)`
		args = append(args, seqs)
	}
	tag, err := t.exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}
