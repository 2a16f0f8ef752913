// Package store is the heart of scimbridge: the user and group domain, the
// Store interface every door reads and writes through, a backend-neutral query
// language, and the error kinds each door maps to its own wire format.
//
// It knows nothing of HTTP or LDAP. Rules that hold for every door (userName
// uniqueness, e-mail normalisation, removing a deleted user from its groups,
// versioning, the activity log) live here and in the backends, once.
package store

import (
	"context"
	"time"
)

// Provisioning domains (RFC 7643 §3.1: "the service provider MUST always
// interpret the externalId as scoped to the provisioning domain"). Each
// client credential belongs to one domain; a resource keeps one externalId
// per domain, and reads, writes and filters on externalId see the domain of
// the context only. Two identity providers can so provision the same people,
// each matching them by its own externalId. externalId is not unique: the
// client that sets it controls it.

// DefaultDomain is the domain of a context that names none: the configured
// SCIM token, tokens created without a domain, and every other door
// (the legacy APIs' external_id, directory sync).
const DefaultDomain = "default"

// MaxDomainLen bounds a provisioning domain's name.
const MaxDomainLen = 64

type domainKey struct{}

// WithDomain returns a context whose reads and writes of externalId concern
// the provisioning domain named; "" is DefaultDomain.
func WithDomain(ctx context.Context, domain string) context.Context {
	if domain == "" || domain == DefaultDomain {
		if ctx.Value(domainKey{}) == nil {
			return ctx
		}
		domain = DefaultDomain
	}
	return context.WithValue(ctx, domainKey{}, domain)
}

// DomainOf returns the provisioning domain of ctx (DefaultDomain if none).
func DomainOf(ctx context.Context) string {
	if d, ok := ctx.Value(domainKey{}).(string); ok {
		return d
	}
	return DefaultDomain
}

// CheckDomain validates a provisioning domain's name: 1 to MaxDomainLen
// ASCII letters, digits, '.', '_' or '-'.
func CheckDomain(name string) error {
	if name == "" || len(name) > MaxDomainLen {
		return FieldErrorf(KindInvalid, "domain", "a provisioning domain has 1 to %d characters", MaxDomainLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return FieldErrorf(KindInvalid, "domain", "provisioning domain %q: only letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}

// Meta is the bookkeeping every resource carries.
type Meta struct {
	Created      time.Time `json:"-"`
	LastModified time.Time `json:"-"`
	// Version increases by one on every change; doors derive ETags from it.
	Version int64 `json:"-"`
}

// Name is a person's name (RFC 7643 §4.1.1).
type Name struct {
	Formatted       string `json:"formatted,omitempty"`
	FamilyName      string `json:"familyName,omitempty"`
	GivenName       string `json:"givenName,omitempty"`
	MiddleName      string `json:"middleName,omitempty"`
	HonorificPrefix string `json:"honorificPrefix,omitempty"`
	HonorificSuffix string `json:"honorificSuffix,omitempty"`
}

// IsZero reports whether no part of the name is set.
func (n Name) IsZero() bool { return n == Name{} }

// Value is one entry of a multi-valued attribute (emails, phoneNumbers, roles…).
type Value struct {
	Value   string `json:"value,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
	// Primary marks the value to prefer (RFC 7643 §2.4).
	Primary bool `json:"primary,omitempty"`
	// NotPrimary records a "primary": false that a client sent, so that it
	// comes back as sent; with neither flag set the client said nothing.
	// Primary wins when both are set.
	NotPrimary bool `json:"notPrimary,omitempty"`
}

// Address is a postal address (RFC 7643 §4.1.2).
type Address struct {
	Formatted     string `json:"formatted,omitempty"`
	StreetAddress string `json:"streetAddress,omitempty"`
	Locality      string `json:"locality,omitempty"`
	Region        string `json:"region,omitempty"`
	PostalCode    string `json:"postalCode,omitempty"`
	Country       string `json:"country,omitempty"`
	Type          string `json:"type,omitempty"`
	// Primary and NotPrimary are as for Value.
	Primary    bool `json:"primary,omitempty"`
	NotPrimary bool `json:"notPrimary,omitempty"`
}

// Manager references a user's manager (enterprise extension).
type Manager struct {
	Value       string `json:"value,omitempty"`
	Ref         string `json:"$ref,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// Enterprise holds the Enterprise User extension (RFC 7643 §4.3).
type Enterprise struct {
	EmployeeNumber string   `json:"employeeNumber,omitempty"`
	CostCenter     string   `json:"costCenter,omitempty"`
	Organization   string   `json:"organization,omitempty"`
	Division       string   `json:"division,omitempty"`
	Department     string   `json:"department,omitempty"`
	Manager        *Manager `json:"manager,omitempty"`
}

// IsZero reports whether no enterprise attribute is set.
func (e *Enterprise) IsZero() bool {
	return e == nil || (e.EmployeeNumber == "" && e.CostCenter == "" && e.Organization == "" &&
		e.Division == "" && e.Department == "" && (e.Manager == nil || *e.Manager == Manager{}))
}

// Source links a resource to the directory it was synced from. ID is the
// directory's stable identity (entryUUID, objectGUID), never a DN, so renames
// and moves stay updates.
type Source struct {
	Name string `json:"name,omitempty"`
	ID   string `json:"id,omitempty"`
	// DN is informational: the entry's last known distinguished name.
	DN string `json:"dn,omitempty"`
}

// GroupRef is a user's membership as seen from the user.
type GroupRef struct {
	ID      string
	Key     int64
	Display string
	// Direct is false for memberships inherited through a nested group.
	Direct bool
}

// User is the stored user: a SCIM User plus what the other doors need. The
// JSON form is the backend's document encoding, not a wire format.
type User struct {
	Key int64  `json:"-"` // stable integer key, exposed by the legacy APIs
	ID  string `json:"-"` // SCIM id (UUID)
	// ExternalID is the externalId in the provisioning domain of the
	// context it was read or written with (see WithDomain); the other
	// domains' values are untouched by a write of it.
	ExternalID string `json:"-"`
	UserName   string `json:"userName"`

	Name              Name   `json:"name,omitzero"`
	DisplayName       string `json:"displayName,omitempty"`
	NickName          string `json:"nickName,omitempty"`
	ProfileURL        string `json:"profileUrl,omitempty"`
	Title             string `json:"title,omitempty"`
	UserType          string `json:"userType,omitempty"`
	PreferredLanguage string `json:"preferredLanguage,omitempty"`
	Locale            string `json:"locale,omitempty"`
	Timezone          string `json:"timezone,omitempty"`
	Active            bool   `json:"active"`
	// ActiveRemoved records that a SCIM client removed active (PATCH
	// remove): the user is not active, and SCIM answers without the
	// attribute. It means nothing while Active is true.
	ActiveRemoved bool `json:"activeRemoved,omitempty"`

	Emails           []Value   `json:"emails,omitempty"`
	PhoneNumbers     []Value   `json:"phoneNumbers,omitempty"`
	IMs              []Value   `json:"ims,omitempty"`
	Photos           []Value   `json:"photos,omitempty"`
	Addresses        []Address `json:"addresses,omitempty"`
	Entitlements     []Value   `json:"entitlements,omitempty"`
	Roles            []Value   `json:"roles,omitempty"`
	X509Certificates []Value   `json:"x509Certificates,omitempty"`

	Enterprise *Enterprise `json:"enterprise,omitempty"`

	// PasswordHash is a slow salted hash (see package secret); never the password.
	PasswordHash string `json:"-"`
	// NewPassword is a password a door received in clear and just hashed
	// into PasswordHash, handed on for a directory that wants it
	// (write-back seals it before anything of it is stored). Backends never
	// store it, and it never prints.
	NewPassword Secret `json:"-"`
	Source      Source `json:"-"`
	// SourcePasswordChanged is the directory entry's password-change time
	// (OpenLDAP pwdChangedTime, AD pwdLastSet) as the last sync read it, in
	// the directory's own form. The sync owns it like Source: when it moves,
	// the password changed in the directory, and the sync ends the user's
	// sessions. It lives in the document, so it needs no column.
	SourcePasswordChanged string `json:"sourcePasswordChanged,omitempty"`

	// Groups is read-only and filled on reads: the user's memberships.
	Groups []GroupRef `json:"-"`
	Meta   Meta       `json:"-"`
}

// Secret is a value that must not reach a log or an answer: it prints as
// "[redacted]" (in %v, %+v and %#v, including inside a struct).
type Secret string

func (Secret) String() string   { return "[redacted]" }
func (Secret) GoString() string { return `"[redacted]"` }

// MarshalText keeps it out of encoded documents too.
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// PrimaryEmail returns the primary e-mail, else the first, else "".
func (u *User) PrimaryEmail() string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) > 0 {
		return u.Emails[0].Value
	}
	return ""
}

// MemberType tells users and groups apart inside a group.
type MemberType string

// The member types a group can hold.
const (
	MemberUser  MemberType = "User"
	MemberGroup MemberType = "Group"
)

// Member is one member of a group.
type Member struct {
	Type    MemberType
	ID      string // SCIM id of the user or group
	Key     int64
	Display string
}

// Group is the stored group.
type Group struct {
	Key int64
	ID  string
	// ExternalID is the externalId in the context's provisioning domain,
	// as for users.
	ExternalID  string
	DisplayName string
	// Members is nil when the read did not ask for members.
	Members []Member
	Source  Source
	Meta    Meta
}

// Actor says who made a change and through which door; it is recorded in
// the activity log.
type Actor struct {
	Door      string // "scim", "ldapsync", "pterodactyl", …
	Principal string // a token name, user name or sync source; never a secret
	Address   string // client address, when there is one
}

// ActionPasswordChange is recorded (besides the update itself) whenever a
// user's password changes, through any door: login lockouts count failures
// since the last one. The same change ends the user's sessions and refresh
// tokens (EndsWithPassword).
const ActionPasswordChange = "password.change"

// ActionLoginFailure is recorded for every failed password check of a
// login or a current-password check, with the client's address: the
// lockout counts them per account and per address.
const ActionLoginFailure = "login.failure"

// Activity is one entry of the append-only activity log.
type Activity struct {
	Seq          int64
	At           time.Time
	Actor        Actor
	Action       string // e.g. "user.create", "group.members.add"
	ResourceType string // "User" or "Group"
	ResourceID   string
	ResourceKey  int64
	// UserKey is the user the entry concerns (the resource, or the member
	// added/removed); 0 when none.
	UserKey int64
	// UserID is the SCIM id of that user, "" when none. Record fills it in
	// from UserKey or a User ResourceID when it is empty. Keys are never
	// reused and ids never change, so either finds the user's history after
	// the user is deleted.
	UserID string
	Detail string
}

// Credential is a stored secret-bearing credential: a SCIM token, a legacy API
// key or a login session. Only the SHA-256 of the secret is kept.
type Credential struct {
	ID         int64
	Kind       string // "scim-token", "pterodactyl-key", "session:xyops", …
	Name       string
	UserKey    int64  // 0 when not bound to a user
	Identifier string // a public, non-secret part (key prefix, session id hash…)
	SecretHash string // hex SHA-256 of the secret
	Scopes     []string
	Data       string // door-specific JSON (csrf token hash, permissions…)
	Created    time.Time
	Expires    time.Time // zero: never
	LastUsed   time.Time
}

// Object is a door- or subsystem-specific record kept in the store: sync
// watermarks, XStudio profiles and folders, password-reset tickets. Kind
// namespaces it ("ldapsync.state", "xstudio.profile").
type Object struct {
	Kind    string
	Name    string
	Doc     []byte // JSON
	Version int64
	Updated time.Time
}

// Store is the interface every backend implements. Reads take a snapshot;
// writes happen in Write, one transaction per call.
type Store interface {
	Reader

	// Write runs fn in one transaction on behalf of actor: everything fn
	// does commits together or not at all. Each change fn makes bumps the
	// resource's version and appends an activity entry.
	Write(ctx context.Context, actor Actor, fn func(tx Tx) error) error

	// Ping reports whether the store is open, migrated and able to write.
	// While writes fail for a reason outside any request (a full disk, a
	// read-only, removed or replaced database file) it returns an error of
	// kind KindUnavailable or KindInsufficientStorage, and nil again once
	// writes succeed.
	Ping(ctx context.Context) error
	Close() error
}

// Reader is the read side, shared by Store and Tx.
type Reader interface {
	GetUser(ctx context.Context, id string) (*User, error)
	GetUserByKey(ctx context.Context, key int64) (*User, error)
	// GetUserByUserName matches userName case-insensitively.
	GetUserByUserName(ctx context.Context, userName string) (*User, error)
	GetUserBySource(ctx context.Context, source, sourceID string) (*User, error)
	// GetUserBySourceDN finds a synced user by its last known DN
	// (case-insensitively), for resolving directory member references.
	GetUserBySourceDN(ctx context.Context, source, dn string) (*User, error)
	// ListUsers returns a page of users; with q.Related each one's Groups.
	ListUsers(ctx context.Context, q Query) (*UserPage, error)

	GetGroup(ctx context.Context, id string, withMembers bool) (*Group, error)
	GetGroupByKey(ctx context.Context, key int64, withMembers bool) (*Group, error)
	GetGroupBySource(ctx context.Context, source, sourceID string) (*Group, error)
	GetGroupBySourceDN(ctx context.Context, source, dn string) (*Group, error)
	// EachSourced calls fn for every user (resourceType "User") or group
	// ("Group") synced from source, streaming, in key order.
	EachSourced(ctx context.Context, resourceType, source string, fn func(ref SourcedRef) error) error
	ListGroups(ctx context.Context, q Query) (*GroupPage, error)
	// GroupMembers pages through a group's members in a stable order.
	GroupMembers(ctx context.Context, groupKey int64, offset, limit int) ([]Member, error)
	// HasMember reports whether the group directly contains the member.
	HasMember(ctx context.Context, groupKey int64, t MemberType, memberKey int64) (bool, error)

	ListActivity(ctx context.Context, q ActivityQuery) ([]Activity, int, error)

	// FindCredential looks a credential up by the hash of its secret; an
	// expired one is NotFound.
	FindCredential(ctx context.Context, kind, secretHash string) (*Credential, error)
	ListCredentials(ctx context.Context, kind string) ([]Credential, error)

	GetObject(ctx context.Context, kind, name string) (*Object, error)
	ListObjects(ctx context.Context, kind string) ([]Object, error)

	OutboxReader
}

// Tx is one write transaction. Its reads see its own writes.
type Tx interface {
	Reader

	// CreateUser assigns Key, ID (if empty) and Meta, and stores u.
	CreateUser(ctx context.Context, u *User) error
	// CreateUsers creates users as CreateUser creates each, in order, with
	// the same rules, checks, activity entries and outbox rows, faster for
	// many (a directory import): all of them, or none. When one is
	// refused, the error is an *ItemError naming the first, with the error
	// CreateUser gives for it, and the transaction is as it was before the
	// call (the users given may have been normalised and given ids).
	CreateUsers(ctx context.Context, users []*User) error
	// UpdateUser reads the user, lets fn change it and stores the result.
	// Key, ID, Meta and Groups changes made by fn are ignored.
	UpdateUser(ctx context.Context, id string, fn func(u *User) error) (*User, error)
	// DeleteUser removes the user and its memberships.
	DeleteUser(ctx context.Context, id string) error

	CreateGroup(ctx context.Context, g *Group) error
	// UpdateGroup changes a group's own attributes; Members set by fn are
	// ignored (use the membership calls, which never load all members).
	UpdateGroup(ctx context.Context, id string, fn func(g *Group) error) (*Group, error)
	DeleteGroup(ctx context.Context, id string) error
	// AddMembers adds members by SCIM id; ones already present are kept.
	// An unknown id is an Invalid error. It returns how many were added.
	AddMembers(ctx context.Context, groupID string, members []MemberRef) (int, error)
	// RemoveMembers removes members by SCIM id; absent ones are ignored.
	RemoveMembers(ctx context.Context, groupID string, memberIDs []string) (int, error)
	// SetMembers makes the membership exactly members.
	SetMembers(ctx context.Context, groupID string, members []MemberRef) error
	// ClearMembers removes every member.
	ClearMembers(ctx context.Context, groupID string) error

	// Record appends an activity entry that is not a resource change (a
	// login, a password reset request). Changes record themselves.
	Record(ctx context.Context, a Activity) error

	CreateCredential(ctx context.Context, c *Credential) error
	UpdateCredential(ctx context.Context, c *Credential) error
	DeleteCredential(ctx context.Context, id int64) error
	// EndSessions deletes the user's login sessions and refresh tokens
	// (every kind EndsWithPassword names) except the credential keep (0:
	// none), and returns how many it deleted: "log out everywhere".
	// UpdateUser does it itself when the password changes, keeping
	// KeptSession(ctx).
	EndSessions(ctx context.Context, userKey, keep int64) (int, error)

	// PutObject creates or replaces an object. If ifVersion is not 0 and the
	// stored version differs, it is a PreconditionFailed error.
	PutObject(ctx context.Context, o *Object, ifVersion int64) error
	DeleteObject(ctx context.Context, kind, name string) error

	OutboxWriter
}

// SourcedRef is a synced resource as EachSourced reports it.
type SourcedRef struct {
	Key      int64
	ID       string
	SourceID string
	DN       string
	Active   bool // users only
}

// MemberRef names a member to add: a user or group by SCIM id. Type may be
// empty, in which case the backend finds which it is.
type MemberRef struct {
	ID   string
	Type MemberType
}

// UserPage is one page of a user listing.
type UserPage struct {
	Users []*User
	Total int
	// NextCursor is set for cursor queries when more results follow.
	NextCursor string
}

// GroupPage is one page of a group listing.
type GroupPage struct {
	Groups     []*Group
	Total      int
	NextCursor string
}

// ActivityQuery selects activity entries, newest first.
type ActivityQuery struct {
	// UserID is the SCIM id of the user concerned ("": any). Every entry
	// about a user carries it, also after the user is deleted, and keys are
	// never reused: it finds what the user's key finds, on one index.
	UserID     string
	ResourceID string
	Door       string
	Action     string
	// Address is the client address of the actor; "": any.
	Address      string
	Since, Until time.Time
	Offset       int
	Limit        int
	// Oldest first instead of newest first.
	Ascending bool
}
