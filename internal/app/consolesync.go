package app

import (
	"github.com/scimbridge/scimbridge/admin"
	"github.com/scimbridge/scimbridge/ldapsync"
)

// consoleSyncStatus adapts the syncer's status for the admin console,
// which, being a door, does not know the ldapsync door.
func consoleSyncStatus(status func() []ldapsync.SourceStatus) func() []admin.SyncSource {
	return func() []admin.SyncSource {
		all := status()
		out := make([]admin.SyncSource, len(all))
		for i, s := range all {
			out[i] = admin.SyncSource{Name: s.Name, Running: s.Running, LastSuccess: s.LastSuccess,
				LastFullSync: s.LastFullSync, NextRun: s.NextRun, LastError: s.LastError,
				ConsecutiveFailures: s.ConsecutiveFailures}
			if r := s.LastRun; r != nil {
				run := &admin.SyncRun{Source: r.Source, Mode: r.Mode, Reason: r.Reason, Started: r.Started,
					Duration: r.Duration, ReadUsers: r.ReadUsers, ReadGroups: r.ReadGroups,
					Users: syncCounts(r.Users), Groups: syncCounts(r.Groups), MembershipChanges: r.MembershipChanges,
					UnresolvedMembers: r.Unresolved, Failed: r.Failed, Error: r.Error}
				for _, e := range r.Errors {
					run.EntryErrors = append(run.EntryErrors, admin.SyncEntryError{DN: e.DN, Error: e.Error})
				}
				out[i].LastRun = run
			}
		}
		return out
	}
}

func syncCounts(c ldapsync.Counts) admin.SyncCounts {
	return admin.SyncCounts{Created: c.Created, Updated: c.Updated, Linked: c.Linked, Deactivated: c.Deactivated,
		Deleted: c.Deleted, Unchanged: c.Unchanged}
}
