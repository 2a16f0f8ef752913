package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// txn is one write transaction.
type txn struct {
	reader
	actor store.Actor
	now   time.Time
	// policy is the operator's choice of identity rules (Options.Policy).
	policy store.Policy
}

var _ store.Tx = (*txn)(nil)

// The columns of an activity entry as record writes it, and one row's
// placeholders (bulk.go writes many rows).
const (
	activityInsertCols = `at, door, principal, address, action, resource_type, resource_id,
 resource_key, user_key, user_id, detail`
	activityInsertRow = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// record appends an activity entry. userID is the SCIM id of the user
// userKey names: kept on the entry, it finds the user's history after the
// user is gone.
func (t *txn) record(ctx context.Context, action, resourceType, resourceID string, resourceKey, userKey int64, userID, detail string) error {
	_, err := t.exec(ctx, `INSERT INTO activity (`+activityInsertCols+`) VALUES `+activityInsertRow,
		micros(t.now), t.actor.Door, t.actor.Principal, t.actor.Address, action, resourceType, resourceID,
		resourceKey, userKey, userID, detail)
	return err
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
		} else if err := t.queryRow(ctx, []any{&a.UserID}, `SELECT id FROM users WHERE key = ?`, a.UserKey); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	return t.record(ctx, a.Action, a.ResourceType, a.ResourceID, a.ResourceKey, a.UserKey, a.UserID, a.Detail)
}

// ListActivity returns matching entries (newest first unless Ascending) and
// how many match in all.
func (r *reader) ListActivity(ctx context.Context, q store.ActivityQuery) ([]store.Activity, int, error) {
	where, args := activityWhere(q)
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
	rows, done, err := r.query(ctx, `SELECT seq, at, door, principal, address, action, resource_type, resource_id,
 resource_key, user_key, user_id, detail FROM activity`+where+order+" LIMIT ? OFFSET ?", append(args, limit, q.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	defer rows.Close()
	var out []store.Activity
	for rows.Next() {
		var a store.Activity
		var at int64
		if err := rows.Scan(&a.Seq, &at, &a.Actor.Door, &a.Actor.Principal, &a.Actor.Address, &a.Action,
			&a.ResourceType, &a.ResourceID, &a.ResourceKey, &a.UserKey, &a.UserID, &a.Detail); err != nil {
			return nil, 0, err
		}
		a.At = fromMicros(at)
		out = append(out, a)
	}
	return out, total, rows.Err()
}

// activityWhere is the WHERE clause (with its arguments) of q.
func activityWhere(q store.ActivityQuery) (string, []any) {
	var conds []string
	var args []any
	// The literal terms repeat the partial indexes' conditions, which
	// SQLite cannot infer from a bound parameter: without them a user's
	// history (read by every login's lockout) scans the whole log.
	if q.UserID != "" {
		conds, args = append(conds, "user_id = ? AND user_id <> ''"), append(args, q.UserID)
	}
	if q.ResourceID != "" {
		conds, args = append(conds, "resource_id = ?"), append(args, q.ResourceID)
	}
	if q.Door != "" {
		conds, args = append(conds, "door = ?"), append(args, q.Door)
	}
	if q.Action == store.ActionLoginFailure {
		// A literal, not a parameter: SQLite uses the partial indexes of
		// failed logins (by address, by name) only for a term it can see.
		conds = append(conds, "action = '"+store.ActionLoginFailure+"'")
	} else if q.Action != "" {
		conds, args = append(conds, "action = ?"), append(args, q.Action)
	}
	if q.Address != "" {
		conds, args = append(conds, "address = ?"), append(args, q.Address)
	}
	if !q.Since.IsZero() {
		conds, args = append(conds, "at >= ?"), append(args, micros(q.Since))
	}
	if !q.Until.IsZero() {
		conds, args = append(conds, "at < ?"), append(args, micros(q.Until))
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return where, args
}
