package store

import (
	"context"
	"time"

	json "github.com/goccy/go-json"
)

// The outbox is the store's record of the changes to deliver elsewhere:
// directory write-back reads it to provision into LDAP and Active
// Directory what any door changed. While it is on, the backend itself adds
// an entry for every change of a user, a group or a membership, in the
// transaction of the change (a change and its entry commit together or not
// at all), whatever the door and whichever call made it. The directory
// sync's own changes (door "ldapsync") are not recorded: they came from a
// directory, and writing them back would echo them.
//
// An entry carries the resource as it was before and after the change, so
// a delivery writes what changed then, whatever happened to the resource
// since. Entries are delivered in order per resource; a reader deletes
// (Acks) what it delivered and defers, with an error and a time for the
// next attempt, what failed. A dead entry waits for an operator
// (RetryOutbox).

// OutboxEntry is one recorded change.
type OutboxEntry struct {
	Seq          int64
	At           time.Time
	Actor        Actor
	Action       string // the activity action: user.create, group.members.add, …
	ResourceType string // "User" or "Group"
	ResourceID   string
	ResourceKey  int64
	Detail       string
	// The resource before and after the change; nil where there is none (a
	// create has no before, a delete no after, a membership change neither).
	// Users come without their groups, groups without their members.
	UserBefore, User   *User
	GroupBefore, Group *Group
	// Member is the member a membership change added or removed.
	Member *OutboxMember

	Attempts    int
	NextAttempt time.Time
	LastError   string
	Dead        bool
}

// Object names the resource an entry is about, for ordering: a
// membership change belongs to its group.
func (e *OutboxEntry) Object() string { return e.ResourceType + "/" + e.ResourceID }

// OutboxMember is the member of a membership change as it was then.
type OutboxMember struct {
	Type     MemberType
	ID       string
	Key      int64
	Name     string // userName or displayName
	Source   Source
	Inactive bool // users only
}

// OutboxQuery selects entries in sequence order.
type OutboxQuery struct {
	AfterSeq int64
	Limit    int // 0: 100
	// Dead selects only dead entries.
	Dead bool
}

// OutboxStats is the outbox at a glance.
type OutboxStats struct {
	// Enabled says whether changes are being recorded.
	Enabled bool
	// Pending counts the entries not delivered and not dead; Oldest is the
	// time of the oldest of them.
	Pending int
	Oldest  time.Time
	Dead    int
	// LastError is the error of the most recent failed attempt still in
	// the outbox, LastErrorSeq its entry.
	LastError    string
	LastErrorSeq int64
}

// OutboxReader reads the outbox; Reader includes it.
type OutboxReader interface {
	ListOutbox(ctx context.Context, q OutboxQuery) ([]OutboxEntry, error)
	OutboxStats(ctx context.Context) (OutboxStats, error)
}

// OutboxWriter changes the outbox; Tx includes it.
type OutboxWriter interface {
	// SetOutbox turns recording on or off. Entries already recorded stay.
	SetOutbox(ctx context.Context, enabled bool) error
	// AckOutbox deletes delivered entries.
	AckOutbox(ctx context.Context, seqs ...int64) error
	// DeferOutbox records a failed attempt: its error, when to try again,
	// and whether the entry is now dead.
	DeferOutbox(ctx context.Context, seq int64, lastError string, next time.Time, dead bool) error
	// RetryOutbox makes dead entries pending again, due at once, with their
	// attempts reset: the given ones, or every dead entry when none is
	// given. It returns how many it revived.
	RetryOutbox(ctx context.Context, seqs ...int64) (int, error)
}

// OutboxSnapshot is a resource as the outbox records it: the columns a
// backend keys and indexes, and the JSON document of the rest. It is one
// format for every backend (SQLite's triggers render it in SQL, PostgreSQL
// encodes this struct), so entries copied by migrate-db read the same.
type OutboxSnapshot struct {
	Key         int64           `json:"key"`
	ID          string          `json:"id"`
	Type        string          `json:"type,omitempty"`
	Name        string          `json:"name,omitempty"`
	UserName    string          `json:"user_name,omitempty"`
	ExternalID  *string         `json:"external_id"`
	DisplayName *string         `json:"display_name"`
	Active      int             `json:"active"`
	Source      *string         `json:"source"`
	SourceID    *string         `json:"source_id"`
	SourceDN    *string         `json:"source_dn"`
	Doc         json.RawMessage `json:"doc,omitempty"`
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s *OutboxSnapshot) source() Source {
	return Source{Name: deref(s.Source), ID: deref(s.SourceID), DN: deref(s.SourceDN)}
}

func decodeSnapshot(v *string) (*OutboxSnapshot, error) {
	if v == nil {
		return nil, nil
	}
	var s OutboxSnapshot
	if err := json.Unmarshal([]byte(*v), &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// DecodeSnapshots fills the entry's resources from the recorded snapshots
// (nil: none): the user or group before and after the change by its
// ResourceType, and the member of a membership change. A user is read the
// way a backend reads its row: the document, then the columns, which are
// authoritative.
func (e *OutboxEntry) DecodeSnapshots(before, after, member *string) error {
	var err error
	switch e.ResourceType {
	case "User":
		if e.UserBefore, err = decodeUserSnapshot(before); err == nil {
			e.User, err = decodeUserSnapshot(after)
		}
	case "Group":
		if e.GroupBefore, err = decodeGroupSnapshot(before); err == nil {
			e.Group, err = decodeGroupSnapshot(after)
		}
	}
	if err != nil {
		return err
	}
	s, err := decodeSnapshot(member)
	if s != nil {
		e.Member = &OutboxMember{Type: MemberType(s.Type), ID: s.ID, Key: s.Key, Name: s.Name,
			Source: s.source(), Inactive: s.Active == 0}
	}
	return err
}

func decodeUserSnapshot(v *string) (*User, error) {
	s, err := decodeSnapshot(v)
	if s == nil || err != nil {
		return nil, err
	}
	u := &User{}
	if len(s.Doc) > 0 {
		if err := json.Unmarshal(s.Doc, u); err != nil {
			return nil, err
		}
	}
	u.Key, u.ID, u.UserName, u.Active = s.Key, s.ID, s.UserName, s.Active != 0
	u.ExternalID, u.DisplayName, u.Source = deref(s.ExternalID), deref(s.DisplayName), s.source()
	return u, nil
}

func decodeGroupSnapshot(v *string) (*Group, error) {
	s, err := decodeSnapshot(v)
	if s == nil || err != nil {
		return nil, err
	}
	return &Group{Key: s.Key, ID: s.ID, DisplayName: deref(s.DisplayName), ExternalID: deref(s.ExternalID),
		Source: s.source()}, nil
}
