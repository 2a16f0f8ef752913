package postgres

import (
	"context"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// The outbox (store/outbox.go) is not in this backend's schema yet: the
// SQLite backend writes it with triggers, and the same triggers are still
// to be written here. Until then the outbox reads as empty and off, and
// turning it on fails, so a configuration with directory write-back on
// this backend is refused at start rather than silently recording nothing.

// errNoOutbox is what turning the outbox on, or changing it, answers.
var errNoOutbox = store.Errorf(store.KindInvalid, "postgres: the write-back outbox is not available on this backend yet")

// ListOutbox returns nothing: no entry is ever recorded.
func (r *reader) ListOutbox(context.Context, store.OutboxQuery) ([]store.OutboxEntry, error) {
	return nil, nil
}

// OutboxStats reports an empty outbox that is off.
func (r *reader) OutboxStats(context.Context) (store.OutboxStats, error) {
	return store.OutboxStats{}, nil
}

// SetOutbox accepts turning the outbox off (it is) and refuses turning it on.
func (t *txn) SetOutbox(_ context.Context, enabled bool) error {
	if enabled {
		return errNoOutbox
	}
	return nil
}

// AckOutbox refuses: there is no entry to acknowledge.
func (t *txn) AckOutbox(_ context.Context, seqs ...int64) error {
	if len(seqs) == 0 {
		return nil
	}
	return errNoOutbox
}

// DeferOutbox refuses: there is no entry to defer.
func (t *txn) DeferOutbox(context.Context, int64, string, time.Time, bool) error {
	return errNoOutbox
}

// RetryOutbox revives nothing.
func (t *txn) RetryOutbox(context.Context, ...int64) (int, error) {
	return 0, nil
}
