package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimbridge/scimbridge/store"
)

// activityRow is an entry waiting in its transaction for flushActivity.
type activityRow struct {
	action, resourceType, resourceID string
	resourceKey, userKey             int64
	userID, detail                   string
	// box is the outbox's record of the change (outbox.go); nil for an
	// entry the outbox does not record.
	box *outboxChange
}

// record appends an activity entry to the transaction's pending ones; they
// are inserted together, in order, before the commit: a write of 10,000
// members costs one insert, not 10,000 round trips. userID is the SCIM id
// of the user userKey names: kept on the entry, it finds the user's
// history after the user is gone.
func (t *txn) record(action, resourceType, resourceID string, resourceKey, userKey int64, userID, detail string) {
	t.pending = append(t.pending, activityRow{action, resourceType, resourceID, resourceKey, userKey, userID, detail, nil})
}

// copyThreshold is the number of entries past which flushActivity uses COPY.
const copyThreshold = 32

// flushActivity inserts the pending entries, and their outbox rows when
// the outbox is on (read in the same round trip as a small insert).
func (t *txn) flushActivity(ctx context.Context) error {
	if len(t.pending) == 0 {
		return nil
	}
	boxed := false
	for _, a := range t.pending {
		boxed = boxed || a.box != nil
	}
	var on bool
	n := len(t.pending)
	if n > copyThreshold {
		// COPY streams rows without a statement per row; identities are
		// assigned in stream order.
		_, err := t.pg.CopyFrom(ctx, pgx.Identifier{"activity"},
			[]string{"at", "door", "principal", "address", "action", "resource_type", "resource_id", "resource_key", "user_key", "user_id", "detail"},
			pgx.CopyFromSlice(n, func(i int) ([]any, error) {
				a := t.pending[i]
				return []any{t.now, t.actor.Door, t.actor.Principal, t.actor.Address, a.action, a.resourceType, a.resourceID,
					a.resourceKey, a.userKey, a.userID, a.detail}, nil
			}))
		if err != nil {
			return mapErr(err)
		}
		if boxed {
			if on, err = t.outboxEnabled(ctx, nil); err != nil {
				return err
			}
		}
	} else {
		actions, types, ids, details := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		resKeys, userKeys, userIDs := make([]int64, n), make([]int64, n), make([]string, n)
		for i, a := range t.pending {
			actions[i], types[i], ids[i], details[i] = a.action, a.resourceType, a.resourceID, a.detail
			resKeys[i], userKeys[i], userIDs[i] = a.resourceKey, a.userKey, a.userID
		}
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO activity (at, door, principal, address, action, resource_type, resource_id,
 resource_key, user_key, user_id, detail)
 SELECT $1, $2, $3, $4, a, rt, ri, rk, uk, ui, d
 FROM unnest($5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::text[], $11::text[])
  WITH ORDINALITY AS x(a, rt, ri, rk, uk, ui, d, n)
 ORDER BY n`,
			t.now, t.actor.Door, t.actor.Principal, t.actor.Address, actions, types, ids, resKeys, userKeys, userIDs, details)
		if boxed {
			var err error
			if on, err = t.outboxEnabled(ctx, b); err != nil {
				return err
			}
		} else if err := t.pg.SendBatch(ctx, b).Close(); err != nil {
			return mapErr(err)
		}
	}
	if on {
		if err := t.insertOutbox(ctx, t.pending); err != nil {
			return err
		}
	}
	t.pending = t.pending[:0]
	return nil
}

// Record appends an activity entry that is not a resource change. An entry
// that names its user by key alone gets the user's id.
func (t *txn) Record(ctx context.Context, a store.Activity) error {
	if a.Action == "" {
		return store.Errorf(store.KindInvalid, "activity needs an action")
	}
	if a.UserID == "" && a.UserKey != 0 {
		if a.ResourceType == "User" && a.ResourceKey == a.UserKey && a.ResourceID != "" {
			a.UserID = a.ResourceID
		} else if err := t.queryRow(ctx, []any{&a.UserID}, `SELECT id FROM users WHERE key = $1`, a.UserKey); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
	}
	t.record(a.Action, a.ResourceType, a.ResourceID, a.ResourceKey, a.UserKey, a.UserID, a.Detail)
	return nil
}

// activityWhere is the WHERE clause (with its arguments) of q; not ok when
// a value cannot be stored, so that nothing matches.
func activityWhere(q store.ActivityQuery) (where string, args []any, ok bool) {
	var conds []string
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "?", "$"+itoa(len(args))))
	}
	for _, f := range []struct{ col, v string }{{"user_id", q.UserID}, {"resource_id", q.ResourceID}, {"door", q.Door}, {"action", q.Action}, {"address", q.Address}} {
		if f.v == "" {
			continue
		}
		if !storable(f.v) {
			return "", nil, false
		}
		// The literals repeat partial indexes' conditions, which the
		// planner cannot infer from a parameter in a generic plan.
		switch {
		case f.col == "user_id":
			add("user_id = ? AND user_id <> ''", f.v)
		case f.col == "action" && f.v == store.ActionLoginFailure:
			conds = append(conds, "action = '"+store.ActionLoginFailure+"'")
		default:
			add(f.col+" = ?", f.v)
		}
	}
	if !q.Since.IsZero() {
		add("at >= ?", q.Since)
	}
	if !q.Until.IsZero() {
		add("at < ?", q.Until)
	}
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return where, args, true
}

// ListActivity returns matching entries (newest first unless Ascending) and
// how many match in all.
func (r *reader) ListActivity(ctx context.Context, q store.ActivityQuery) ([]store.Activity, int, error) {
	if r.tx != nil {
		// The transaction's own entries count too.
		if err := r.tx.flushActivity(ctx); err != nil {
			return nil, 0, err
		}
	}
	where, args, ok := activityWhere(q)
	if !ok {
		return nil, 0, nil
	}
	var total int
	if err := r.queryRow(ctx, []any{&total}, "SELECT count(*) FROM activity"+where, args...); err != nil {
		return nil, 0, err
	}
	order := " ORDER BY seq DESC"
	if q.Ascending {
		order = " ORDER BY seq ASC"
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	n := len(args)
	rows, err := r.query(ctx, `SELECT seq, at, door, principal, address, action, resource_type, resource_id,
 resource_key, user_key, user_id, detail FROM activity`+where+order+" LIMIT $"+itoa(n+1)+" OFFSET $"+itoa(n+2),
		append(args, limit, q.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []store.Activity
	for rows.Next() {
		var a store.Activity
		var at time.Time
		if err := rows.Scan(&a.Seq, &at, &a.Actor.Door, &a.Actor.Principal, &a.Actor.Address, &a.Action,
			&a.ResourceType, &a.ResourceID, &a.ResourceKey, &a.UserKey, &a.UserID, &a.Detail); err != nil {
			return nil, 0, err
		}
		a.At = at.UTC()
		out = append(out, a)
	}
	return out, total, mapErr(rows.Err())
}
