package ldapsync

import (
	"context"
	"errors"
	"fmt"

	"github.com/scimbridge/scimbridge/store"
)

// entryError marks an error that concerns one directory entry: the entry is
// skipped and reported, and the run goes on.
type entryError struct{ err error }

func (e *entryError) Error() string { return e.err.Error() }
func (e *entryError) Unwrap() error { return e.err }

func isEntryError(err error) bool {
	var ee *entryError
	if errors.As(err, &ee) {
		return true
	}
	return store.KindOf(err) != store.KindInternal
}

// errRetryBatch rolls a batch back so it can run again without a bad entry.
var errRetryBatch = errors.New("ldapsync: retry batch without a failed entry")

// applier writes a run's changes to the store, a batch per transaction.
type applier struct {
	s    *Syncer
	src  *source
	rep  *Report
	opts RunOptions
	full bool
	// dryTx, in a dry run, is the one transaction everything runs in; it is
	// rolled back at the end.
	dryTx store.Tx
	// userGone says whether a user's entry vanished, when the run can tell
	// (a full run, an incremental run's keys-only read: every identity in
	// scope, or the deletions since its cookie), to allow taking over a
	// userName whose old entry vanished; nil when it cannot.
	userGone func(sourceID string) bool
	// groupIDs maps a group's normalised DN to its SCIM id. Groups are few,
	// so they are kept in memory for resolving members and memberOf.
	groupIDs map[string]string
	// idx knows this source's users by identity and DN.
	idx *userIndex
	// mayLink is false when no stored user can be linked: every user in the
	// store is this source's and none vanished. It spares an initial import
	// two lookups per user.
	mayLink bool
	// sourcedUsers counts the source's users before the run (full runs).
	sourcedUsers int
	// pendingManagers maps a user's identity to its manager's DN when the
	// manager was not synced yet.
	pendingManagers map[string]string
	// creds holds the credentials bound to each user key as credTx read
	// them (see credentialsOf in linking.go).
	credTx store.Tx
	creds  map[int64][]store.Credential
}

// newApplier prepares the writes of a run that read f.
func (s *Syncer) newApplier(src *source, opts RunOptions, rep *Report, f *fetched) *applier {
	a := &applier{s: s, src: src, rep: rep, opts: opts, full: rep.Mode == "full",
		groupIDs: map[string]string{}, pendingManagers: map[string]string{}}
	if f.users.findsDeletions() {
		a.userGone = f.users.gone()
	}
	a.idx = newUserIndex(src.cfg.Name, a.fingerprint)
	return a
}

// prepare loads what the writes look up (the identity index, the source's
// groups) and finds what vanished, before anything is written.
func (a *applier) prepare(ctx context.Context, f *fetched) (*vanished, error) {
	if err := a.loadIndex(ctx, f); err != nil {
		return nil, err
	}
	if err := a.loadGroupIDs(ctx); err != nil {
		return nil, err
	}
	gone, err := a.checkVanished(ctx, f)
	if err != nil {
		return nil, err
	}
	if err := a.decideLinking(ctx, gone); err != nil {
		return nil, err
	}
	// What vanished is known now. The identities read serve only linking
	// from here (taking over a user whose entry vanished); a run that links
	// nothing (an import) lets them go before the index fills up: 16 MB
	// or more at 1,000,000 users, twice that in peak heap.
	f.groups.seen = nil
	if !a.mayLink {
		f.users.seen, a.userGone = nil, nil
	}
	return gone, nil
}

// loadIndex loads the whole identity index for large runs; small
// incremental runs look up what they touch.
func (a *applier) loadIndex(ctx context.Context, f *fetched) error {
	switch {
	case a.full:
		// About as many users as the directory has: the stored ones, and
		// those the run creates.
		a.idx.reserve(f.users.spool.n)
		return a.idx.loadWithFingerprints(ctx, a.s.st)
	case f.users.spool.n > 1000 || f.groups.spool.n > 20:
		return a.idx.load(ctx, a.s.st)
	}
	return nil
}

// loadGroupIDs reads the source's synced groups by DN.
func (a *applier) loadGroupIDs(ctx context.Context) error {
	cfg := a.src.cfg
	if cfg.Groups.BaseDN == "" {
		return nil
	}
	return a.s.st.EachSourced(ctx, "Group", cfg.Name, func(ref store.SourcedRef) error {
		a.groupIDs[normDN(ref.DN)] = ref.ID
		return nil
	})
}

// checkVanished finds what vanished when the read can tell, and refuses a
// run that would remove more than max_deletes unless forced.
func (a *applier) checkVanished(ctx context.Context, f *fetched) (*vanished, error) {
	if !f.users.findsDeletions() && !f.groups.findsDeletions() {
		return nil, nil
	}
	gone, err := a.findVanished(ctx, f)
	if err != nil {
		return nil, err
	}
	// One bad run (a wrong filter, an empty OU) must not empty the store.
	cfg := a.src.cfg
	if n := len(gone.users) + len(gone.groups); cfg.MaxDeletes >= 0 && n > cfg.MaxDeletes && !a.opts.Force {
		return nil, fmt.Errorf("refusing to remove %d users and %d groups that vanished from the directory (more than max_deletes %d); check the source, then run with --full --force",
			len(gone.users), len(gone.groups), cfg.MaxDeletes)
	}
	return gone, nil
}

// decideLinking turns off linking when every stored user is this source's
// (as a full run's check counted) and none vanished: nothing to link, and
// no lookups for it.
func (a *applier) decideLinking(ctx context.Context, gone *vanished) error {
	all, err := a.s.st.ListUsers(ctx, store.Query{Limit: 0})
	if err != nil {
		return err
	}
	a.mayLink = !a.full || all.Total > a.sourcedUsers || (gone != nil && len(gone.users) > 0)
	return nil
}

// apply writes the run in order: groups, users, managers, group members,
// then what vanished.
func (a *applier) apply(ctx context.Context, f *fetched, gone *vanished) error {
	if err := a.applyGroups(ctx, f); err != nil {
		return err
	}
	if err := a.applyUsers(ctx, f); err != nil {
		return err
	}
	if err := a.applyManagers(ctx); err != nil {
		return err
	}
	if err := a.applyMembers(ctx, f); err != nil {
		return err
	}
	if gone != nil {
		return a.applyVanished(ctx, gone)
	}
	return nil
}

// dryRun applies the run inside one transaction and rolls it back.
func (a *applier) dryRun(ctx context.Context, f *fetched, gone *vanished) error {
	err := a.s.st.Write(ctx, a.actor(), func(tx store.Tx) error {
		a.dryTx = tx
		if err := a.apply(ctx, f, gone); err != nil {
			return err
		}
		return errDryRun
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	return err
}

// Each phase first tells, outside any transaction, which of a batch's
// items would change the store, and opens a transaction only for those:
// a run that changes nothing opens none (issue 16). The run lock makes
// the sync the only writer of its source's users and groups, so what it
// reads before the transaction still holds inside it; a door's change in
// between is at worst a failed entry, reported and retried next run.

// batchOp writes item i of a batch inside transaction tx.
type batchOp func(ctx context.Context, tx store.Tx, i int) ([]Change, error)

// batchEnd ends each try of a batch's transaction, after its items: it
// writes what they left for it (the users a batch creates, in one store
// call), and names the item that failed, if one did.
type batchEnd struct {
	// reset forgets what a try that rolled back left.
	reset func()
	flush func(ctx context.Context, tx store.Tx) (changes []Change, failed int, err error)
}

// batch runs op for items [0,n) in one transaction. When an item fails with
// an entry error, the batch is rolled back, the item reported, and the
// batch retried without it; any other error aborts the run.
func (a *applier) batch(ctx context.Context, n int, dn func(i int) string, op batchOp) error {
	return a.batchWith(ctx, n, dn, op, nil)
}

// batchWith is batch with end, if not nil, at the end of each try.
func (a *applier) batchWith(ctx context.Context, n int, dn func(i int) string, op batchOp, end *batchEnd) error {
	if n == 0 {
		return nil // no transaction for nothing
	}
	if a.dryTx != nil {
		return a.batchInDryRun(ctx, n, dn, op)
	}
	skip := map[int]bool{}
	for {
		changes, failed, failErr, err := a.tryBatch(ctx, n, skip, op, end)
		if err != nil {
			// The transaction rolled back: so do the ids it handed out.
			a.idx.rollback()
		} else {
			a.idx.commit()
		}
		if errors.Is(err, errRetryBatch) {
			skip[failed] = true
			a.rep.fail(dn(failed), failErr)
			continue
		}
		if err != nil {
			return err
		}
		a.commit(changes)
		return nil
	}
}

// tryBatch runs the items not skipped in one transaction. An entry error
// rolls it back with errRetryBatch, naming the item that failed and why.
func (a *applier) tryBatch(ctx context.Context, n int, skip map[int]bool, op batchOp, end *batchEnd) (changes []Change, failed int, failErr, err error) {
	failed = -1
	err = a.s.st.Write(ctx, a.actor(), func(tx store.Tx) error {
		changes = changes[:0]
		if end != nil {
			end.reset()
		}
		for i := range n {
			if skip[i] {
				continue
			}
			cs, err := op(ctx, tx, i)
			if err != nil {
				if isEntryError(err) {
					failed, failErr = i, err
					return errRetryBatch
				}
				return err
			}
			changes = append(changes, cs...)
		}
		if end == nil {
			return nil
		}
		cs, item, err := end.flush(ctx, tx)
		if err != nil {
			if item >= 0 && isEntryError(err) {
				failed, failErr = item, err
				return errRetryBatch
			}
			return err
		}
		changes = append(changes, cs...)
		return nil
	})
	return changes, failed, failErr, err
}

// batchInDryRun runs a batch inside the dry run's single transaction,
// where a batch cannot be rolled back alone: a failed entry is reported
// and the rest goes on.
func (a *applier) batchInDryRun(ctx context.Context, n int, dn func(i int) string, op batchOp) error {
	for i := range n {
		cs, err := op(ctx, a.dryTx, i)
		if err != nil {
			if !isEntryError(err) {
				return err
			}
			a.rep.fail(dn(i), err)
			continue
		}
		a.idx.commit()
		a.commit(cs)
	}
	return nil
}

// batches runs op for items [0,n) in batches of batch_size, one
// transaction each (see batch).
func (a *applier) batches(ctx context.Context, n int, dn func(i int) string, op batchOp) error {
	size := a.src.cfg.BatchSize
	for start := 0; start < n; start += size {
		err := a.batch(ctx, min(size, n-start), func(i int) string { return dn(start + i) },
			func(ctx context.Context, tx store.Tx, i int) ([]Change, error) { return op(ctx, tx, start+i) })
		if err != nil {
			return err
		}
	}
	return nil
}

// eachSpooled calls fn with the spooled records, batch_size at a time,
// logging the phase's progress.
func (a *applier) eachSpooled(sp *spool, phase string, fn func(batch []*record) error) error {
	prog := a.s.progress(a.src.cfg.Name, phase)
	done := 0
	return sp.each(a.src.cfg.BatchSize, func(batch []*record) error {
		done += len(batch)
		prog(done)
		return fn(batch)
	})
}

func (a *applier) commit(changes []Change) {
	for _, c := range changes {
		a.rep.count(c)
		if a.opts.OnChange != nil && c.Action != "unchanged" {
			a.opts.OnChange(c)
		}
	}
}

// reader reads the store as this run sees it: inside a dry run's
// transaction, its own writes included.
func (a *applier) reader() store.Reader {
	if a.dryTx != nil {
		return a.dryTx
	}
	return a.s.st
}

func (a *applier) actor() store.Actor {
	return store.Actor{Door: "ldapsync", Principal: a.src.cfg.Name}
}
