package admin

import (
	"context"
	"slices"
	"sync"
	"time"
)

// SyncSource is a directory source's sync status as the console shows it.
// The composition root fills it from the syncer, which this door does not
// know.
type SyncSource struct {
	Name                string
	Running             bool
	LastRun             *SyncRun // nil: never run
	LastSuccess         time.Time
	LastFullSync        time.Time
	NextRun             time.Time
	LastError           string
	ConsecutiveFailures int
}

// State is "running", "failing", "ok" or "never-run".
func (s SyncSource) State() string {
	switch {
	case s.Running:
		return "running"
	case s.ConsecutiveFailures > 0:
		return "failing"
	case s.LastRun != nil:
		return "ok"
	}
	return "never-run"
}

// SyncRun is what one sync run did.
type SyncRun struct {
	Source string
	// Mode is "full" or "incremental"; Reason says why a full run was chosen.
	Mode, Reason      string
	Started           time.Time
	Duration          time.Duration
	ReadUsers         int
	ReadGroups        int
	Users, Groups     SyncCounts
	MembershipChanges int
	UnresolvedMembers int
	Failed            int // entries skipped as bad
	EntryErrors       []SyncEntryError
	Error             string // why the run failed as a whole; "" on success
}

// SyncCounts are a run's changes to one resource type.
type SyncCounts struct {
	Created, Updated, Linked, Deactivated, Deleted, Unchanged int
}

// Changed is every change counted.
func (c SyncCounts) Changed() int {
	return c.Created + c.Updated + c.Linked + c.Deactivated + c.Deleted
}

// SyncEntryError is a directory entry a run skipped.
type SyncEntryError struct{ DN, Error string }

// maxRuns bounds the sync runs the console remembers.
const maxRuns = 500

// runHistory remembers the sync runs this process has seen, for the
// console's chart: the syncer keeps only each source's last run, so the
// console notes every new last run it sees (on every page it renders and,
// with WatchSync, every few seconds).
type runHistory struct {
	mu   sync.Mutex
	runs []SyncRun            // oldest first
	last map[string]time.Time // source → start of the last run noted
}

func (h *runHistory) note(sources []SyncSource) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last == nil {
		h.last = map[string]time.Time{}
	}
	for _, s := range sources {
		if s.LastRun == nil || h.last[s.Name].Equal(s.LastRun.Started) {
			continue
		}
		h.last[s.Name] = s.LastRun.Started
		h.runs = append(h.runs, *s.LastRun)
		if len(h.runs) > maxRuns {
			h.runs = append(h.runs[:0], h.runs[len(h.runs)-maxRuns:]...)
		}
	}
}

// since returns the runs noted that started at or after t, oldest first.
func (h *runHistory) since(t time.Time) []SyncRun {
	h.mu.Lock()
	var out []SyncRun
	for _, r := range h.runs {
		if !r.Started.Before(t) {
			out = append(out, r)
		}
	}
	h.mu.Unlock()
	// Sources are noted in turn, so runs can be noted out of order.
	slices.SortStableFunc(out, func(x, y SyncRun) int { return x.Started.Compare(y.Started) })
	return out
}

// syncSources returns the sources' status and notes their runs.
func (a *API) syncSources() []SyncSource {
	if a.syncStatus == nil {
		return nil
	}
	s := a.syncStatus()
	a.runs.note(s)
	return s
}

// WatchSync notes the sources' sync runs every interval until ctx ends, so
// that the console's chart shows runs that happened while nobody looked.
func (a *API) WatchSync(ctx context.Context, every time.Duration) {
	if a.syncStatus == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		a.syncSources()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
