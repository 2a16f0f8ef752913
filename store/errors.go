package store

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that each door can map it to its own status
// code and body in one place.
type Kind int

// The error kinds. KindInternal covers everything unexpected: doors log it in
// full and show the client only "internal error".
const (
	KindInternal Kind = iota
	KindNotFound
	KindConflict
	KindInvalid
	KindPreconditionFailed
	KindUnauthorized
	KindForbidden
	// KindUnavailable: the store cannot write for a reason outside the
	// request (its file was removed or replaced, is read-only, or fails
	// I/O). Doors answer 503.
	KindUnavailable
	// KindInsufficientStorage: the disk (or the database's size limit) is
	// full. SCIM answers 507 (RFC 7644 §3.12); other doors their nearest.
	KindInsufficientStorage
)

func (k Kind) String() string {
	switch k {
	case KindNotFound:
		return "not found"
	case KindConflict:
		return "conflict"
	case KindInvalid:
		return "invalid"
	case KindPreconditionFailed:
		return "precondition failed"
	case KindUnauthorized:
		return "unauthorized"
	case KindForbidden:
		return "forbidden"
	case KindUnavailable:
		return "unavailable"
	case KindInsufficientStorage:
		return "insufficient storage"
	}
	return "internal"
}

// Error is an error with a kind and a message that is safe to show a client.
// Field names the offending attribute, when there is one (e.g. "userName").
type Error struct {
	Kind    Kind
	Field   string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error of the given kind.
func Errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an *Error of the given kind about one field.
func FieldErrorf(kind Kind, field, format string, args ...any) error {
	return &Error{Kind: kind, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ItemError is the error of a call that writes many items at once
// (Tx.CreateUsers): item Index (of the slice given) was refused with Err,
// which is what the one-item call (CreateUser) returns for it; the items
// before it would have been accepted. KindOf and FieldOf see Err.
type ItemError struct {
	Index int
	Err   error
}

func (e *ItemError) Error() string { return fmt.Sprintf("item %d: %v", e.Index, e.Err) }
func (e *ItemError) Unwrap() error { return e.Err }

// KindOf returns the kind of err, KindInternal for errors that are not *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsNotFound reports whether err is a NotFound error.
func IsNotFound(err error) bool { return KindOf(err) == KindNotFound }

// FieldOf returns the field an error concerns, or "".
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
