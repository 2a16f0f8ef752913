package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/scimbridge/scimbridge/store"
)

// Error is a SCIM error response (RFC 7644 §3.12).
type Error struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *Error) Error() string { return e.Detail }

func errorf(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

func badRequest(scimType, format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, scimType, format, args...)
}

// The scimType values of RFC 7644 §3.12 (and RFC 9865's invalidCursor).
const (
	typeInvalidFilter = "invalidFilter"
	typeTooMany       = "tooMany"
	typeUniqueness    = "uniqueness"
	typeMutability    = "mutability"
	typeInvalidSyntax = "invalidSyntax"
	typeInvalidPath   = "invalidPath"
	typeNoTarget      = "noTarget"
	typeInvalidValue  = "invalidValue"
	typeInvalidVers   = "invalidVers"
	typeSensitive     = "sensitive"
	typeInvalidCursor = "invalidCursor"
)

const errorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"

// statusClientClosed is nginx's 499: the client closed the connection
// before the answer; logged and counted apart from server errors.
const statusClientClosed = 499

type errorBody struct {
	Schemas  []string `json:"schemas"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
	Status   string   `json:"status"`
}

// WriteError writes e as a SCIM error body.
func WriteError(w http.ResponseWriter, e *Error) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Del("ETag")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(errorBody{
		Schemas: []string{errorSchema}, ScimType: e.ScimType, Detail: e.Detail, Status: strconv.Itoa(e.Status),
	})
}

// asError maps any error to a SCIM error; unexpected ones are logged in
// full and shown to the client only as "internal error".
func asError(log *slog.Logger, r *http.Request, err error) *Error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	switch store.KindOf(err) {
	case store.KindNotFound:
		return errorf(http.StatusNotFound, "", "%s", err.Error())
	case store.KindConflict:
		return errorf(http.StatusConflict, typeUniqueness, "%s", err.Error())
	case store.KindInvalid:
		switch store.FieldOf(err) {
		case "filter":
			return badRequest(typeInvalidFilter, "%s", err.Error())
		case "cursor":
			return badRequest(typeInvalidCursor, "%s", err.Error())
		}
		return badRequest(typeInvalidValue, "%s", err.Error())
	case store.KindPreconditionFailed:
		return errorf(http.StatusPreconditionFailed, "", "%s", err.Error())
	case store.KindUnauthorized:
		return errorf(http.StatusUnauthorized, "", "%s", err.Error())
	case store.KindForbidden:
		return errorf(http.StatusForbidden, "", "%s", err.Error())
	case store.KindInsufficientStorage:
		// RFC 7644 §3.12 lists 507 with no scimType. The store logs it once.
		return errorf(http.StatusInsufficientStorage, "", "%s", err.Error())
	case store.KindUnavailable:
		return errorf(http.StatusServiceUnavailable, "", "%s", err.Error())
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away: nothing is wrong with the server.
		log.DebugContext(r.Context(), "scim: client closed the request", "method", r.Method, "path", r.URL.Path)
		return errorf(statusClientClosed, "", "request cancelled by the client")
	}
	log.ErrorContext(r.Context(), "scim: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	return errorf(http.StatusInternalServerError, "", "internal error")
}
