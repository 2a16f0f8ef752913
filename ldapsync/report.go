package ldapsync

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// RunOptions change how one run behaves.
type RunOptions struct {
	// Full forces a full sync (with deletion detection) instead of an
	// incremental one.
	Full bool
	// DryRun does everything inside a transaction that is rolled back, so
	// the report says what would change and nothing is written.
	DryRun bool
	// Force runs even when more users and groups would be removed than the
	// source's max_deletes allows.
	Force bool
	// OnChange, when set, is told about every change after it is committed
	// (or, in a dry run, as it is found).
	OnChange func(Change)
	// scheduled marks the scheduler's own runs.
	scheduled bool
}

// Change is one change a run made (or would make).
type Change struct {
	Action string `json:"action"` // create, update, link, activate, deactivate, delete, members
	Type   string `json:"type"`   // User or Group
	Name   string `json:"name"`   // userName or displayName
	DN     string `json:"dn,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Counts are the changes a run made to one resource type.
type Counts struct {
	Created     int `json:"created"`
	Updated     int `json:"updated"`
	Linked      int `json:"linked"`
	Deactivated int `json:"deactivated"`
	Deleted     int `json:"deleted"`
	Unchanged   int `json:"unchanged"`
}

// EntryError is a directory entry that was skipped.
type EntryError struct {
	DN    string `json:"dn"`
	Error string `json:"error"`
}

// maxReportedErrors bounds the entry errors a report keeps; Failed counts
// them all.
const maxReportedErrors = 100

// Report says what one run did.
type Report struct {
	Source string `json:"source"`
	// Mode is "full" or "incremental"; Reason says why a full run was chosen.
	Mode     string        `json:"mode"`
	Reason   string        `json:"reason,omitempty"`
	DryRun   bool          `json:"dryRun,omitempty"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"durationSeconds"`
	// ReadSeconds and WriteSeconds split the duration between reading the
	// directory and writing the store.
	ReadSeconds  float64 `json:"readSeconds"`
	WriteSeconds float64 `json:"writeSeconds"`
	// Read is how many user and group entries came from the directory.
	ReadUsers  int    `json:"readUsers"`
	ReadGroups int    `json:"readGroups"`
	Users      Counts `json:"users"`
	Groups     Counts `json:"groups"`
	// MembershipChanges counts groups whose members changed.
	MembershipChanges int `json:"membershipChanges"`
	// Unresolved counts member references to entries the sync does not
	// know (outside the user and group searches).
	Unresolved int `json:"unresolvedMembers"`
	// Referrals counts search continuation references that were not followed.
	Referrals int          `json:"referrals,omitempty"`
	Failed    int          `json:"failed"`
	Errors    []EntryError `json:"errors,omitempty"`
	// DuplicateEmails counts the failed entries whose e-mail address
	// another user holds (the store's e-mail uniqueness, or linking).
	DuplicateEmails int `json:"duplicateEmails,omitempty"`
	// Error is why the run failed as a whole (the store is then untouched).
	Error     string `json:"error,omitempty"`
	Watermark string `json:"watermark,omitempty"`
}

// onlyFailures fails a run whose every entry failed: it applied nothing
// and found nothing unchanged, so its success would hide that the
// directory (or its mapping) is broken, as 1,021 AD entries all without
// an objectGUID would.
func (r *Report) onlyFailures() error {
	done := r.Users.Created + r.Users.Updated + r.Users.Linked + r.Users.Deactivated + r.Users.Deleted + r.Users.Unchanged +
		r.Groups.Created + r.Groups.Updated + r.Groups.Linked + r.Groups.Deleted + r.Groups.Unchanged + r.MembershipChanges
	if r.Failed == 0 || done > 0 {
		return nil
	}
	first := ""
	if len(r.Errors) > 0 {
		first = fmt.Sprintf(" (the first: %s: %s)", r.Errors[0].DN, r.Errors[0].Error)
	}
	return fmt.Errorf("every entry failed: %d skipped, none applied%s", r.Failed, first)
}

func (r *Report) fail(dn string, err error) {
	r.Failed++
	msg := entryReason(err)
	if strings.HasPrefix(msg, duplicateEmail) {
		r.DuplicateEmails++
	}
	if len(r.Errors) < maxReportedErrors {
		r.Errors = append(r.Errors, EntryError{DN: dn, Error: msg})
	}
}

// duplicateEmail opens the reason of an entry whose e-mail address
// another user holds.
const duplicateEmail = "duplicate e-mail: "

// entryReason says why the store refused an entry, naming the rule when
// the store names the field: its message alone ("already taken") would not
// say which of the entry's values is at fault.
func entryReason(err error) string {
	if store.KindOf(err) != store.KindConflict {
		return err.Error()
	}
	switch store.FieldOf(err) {
	case "emails":
		return duplicateEmail + "an e-mail address of this entry belongs to another user (" + err.Error() + ")"
	case "userName":
		return "duplicate userName: another user has it (" + err.Error() + ")"
	case "externalId":
		return "duplicate externalId: another user has it (" + err.Error() + ")"
	}
	return err.Error()
}

func (r *Report) count(c Change) {
	n := &r.Users
	if c.Type == "Group" {
		n = &r.Groups
	}
	switch c.Action {
	case "create":
		n.Created++
	case "update", "activate":
		n.Updated++
	case "link":
		n.Linked++
	case "deactivate":
		n.Deactivated++
	case "delete":
		n.Deleted++
	case "members":
		r.MembershipChanges++
	case "unchanged":
		n.Unchanged++
	}
}

// Summary is a one-line account of the run.
func (r *Report) Summary() string {
	prefix := ""
	if r.DryRun {
		prefix = "dry run (nothing written): "
	}
	s := fmt.Sprintf("%s%s %s sync in %.2fs (read %.2fs, write %.2fs): read %d users, %d groups; users: %d created, %d updated, %d linked, %d deactivated, %d deleted, %d unchanged; groups: %d created, %d updated, %d linked, %d deleted, %d membership changes; %d failed",
		prefix, r.Source, r.Mode, r.Duration.Seconds(), r.ReadSeconds, r.WriteSeconds, r.ReadUsers, r.ReadGroups,
		r.Users.Created, r.Users.Updated, r.Users.Linked, r.Users.Deactivated, r.Users.Deleted, r.Users.Unchanged,
		r.Groups.Created, r.Groups.Updated, r.Groups.Linked, r.Groups.Deleted, r.MembershipChanges, r.Failed)
	if r.DuplicateEmails > 0 {
		s += fmt.Sprintf(" (%d duplicate e-mail)", r.DuplicateEmails)
	}
	if r.Unresolved > 0 {
		s += fmt.Sprintf(", %d unresolved member references", r.Unresolved)
	}
	if r.Error != "" {
		s += "; error: " + r.Error
	}
	return s
}

// progress returns a function that logs a long phase's progress at most
// every progressEvery (five seconds).
func (s *Syncer) progress(source, phase string) func(n int) {
	last := time.Now()
	return func(n int) {
		if time.Since(last) >= s.progressEvery {
			last = time.Now()
			s.log.Info("ldapsync: progress", slog.String("source", source), slog.String("phase", phase), slog.Int("entries", n))
		}
	}
}
