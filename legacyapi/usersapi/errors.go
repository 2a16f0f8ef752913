package usersapi

import (
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/store"
)

// failure is the error body: the documented "error" key and the real
// product's "message" key carry the same text.
type failure struct {
	Success bool              `json:"success"`
	Error   string            `json:"error"`
	Message string            `json:"message"`
	Details map[string]string `json:"details,omitempty"`
	Errors  []string          `json:"errors,omitempty"`
}

func fail(w http.ResponseWriter, status int, msg string) {
	httpjson.Write(w, status, failure{Error: msg, Message: msg})
}

// The documented and observed messages.
const (
	msgNoToken      = "No token provided"
	msgBadToken     = "Invalid or expired token"
	msgForbidden    = "Insufficient permissions"
	msgNotFound     = "User not found"
	msgValidation   = "Validation failed"
	msgInternal     = "Internal server error"
	msgMalformed    = "Invalid JSON body"
	msgTooLarge     = "Request body too large"
	msgDirectory    = "Authentication service unavailable"
	msgBadLogin     = "Invalid credentials"
	msgDirPassword  = "Password is managed by the user's directory and cannot be changed here"
	msgInactive     = "Account is inactive"
	msgLocked       = "Too many failed login attempts; try again later"
	msgEmailExists  = "Email already exists"
	msgUserExists   = "Username already exists"
	msgSelfDelete   = "Cannot delete your own account"
	msgSelfStatus   = "Cannot change your own status"
	msgBadRefresh   = "Invalid or expired refresh token"
	msgDeleted      = "User deleted successfully"
	msgPasswordDone = "Password updated successfully"
)

// invalid is a set of failed fields, one message each (the documented
// 422 "details" map); the real product's "errors" list carries the same.
type invalid map[string]string

func (v invalid) Error() string { return msgValidation }

func (v invalid) write(w http.ResponseWriter) {
	msgs := make([]string, 0, len(v))
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		msgs = append(msgs, v[k])
	}
	httpjson.Write(w, http.StatusUnprocessableEntity, failure{Error: msgValidation, Message: msgValidation, Details: v, Errors: msgs})
}

// add records the first failure of a field.
func (v invalid) add(field, msg string) {
	if _, ok := v[field]; !ok {
		v[field] = msg
	}
}

// refusal is a business-rule refusal with its own status.
type refusal struct {
	status int
	msg    string
}

func (e *refusal) Error() string { return e.msg }

func (s *server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "usersapi: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	fail(w, http.StatusInternalServerError, msgInternal)
}

// failed renders an error from a handler or a write transaction: the
// dialect's own refusals as they are, the store's error kinds in the
// product's words, anything else as a logged 500. Every handler answers its
// errors through it.
func (s *server) failed(w http.ResponseWriter, r *http.Request, err error) {
	var inv invalid
	var ref *refusal
	switch {
	case errors.As(err, &inv):
		inv.write(w)
	case errors.As(err, &ref):
		fail(w, ref.status, ref.msg)
	case store.KindOf(err) == store.KindNotFound:
		fail(w, http.StatusNotFound, msgNotFound)
	case store.KindOf(err) == store.KindForbidden:
		// The privilege rules every door shares (store.CheckChange).
		fail(w, http.StatusForbidden, msgForbidden)
	case store.KindOf(err) == store.KindConflict:
		msg := msgUserExists
		if store.FieldOf(err) == "emails" {
			msg = msgEmailExists
		}
		fail(w, http.StatusConflict, msg)
	case store.KindOf(err) == store.KindInvalid:
		invalid{store.FieldOf(err): err.Error()}.write(w)
	case store.KindOf(err) == store.KindUnavailable:
		w.Header().Set("Retry-After", "1")
		fail(w, http.StatusServiceUnavailable, "Service temporarily unavailable")
	case store.KindOf(err) == store.KindInsufficientStorage:
		fail(w, http.StatusInsufficientStorage, "Insufficient storage")
	default:
		s.internal(w, r, err)
	}
}

// asEmailConflict reports the store's userName conflict as a taken e-mail
// when the name is the e-mail being set: a user created without a username
// is named by its address, and the client is told about the field it sent.
func asEmailConflict(err error, userName, email string) error {
	if store.KindOf(err) == store.KindConflict && store.FieldOf(err) == "userName" &&
		email != "" && strings.EqualFold(userName, email) {
		return &refusal{http.StatusConflict, msgEmailExists}
	}
	return err
}

// loginFailed answers a login that auth.Sessions.Login (or finding its
// user) refused, in the product's words.
func (s *server) loginFailed(w http.ResponseWriter, r *http.Request, userName string, err error) {
	switch {
	case errors.Is(err, auth.ErrBadLogin):
		fail(w, http.StatusUnauthorized, msgBadLogin)
	case errors.Is(err, auth.ErrLocked):
		fail(w, http.StatusTooManyRequests, msgLocked)
	case errors.Is(err, auth.ErrDisabled):
		fail(w, http.StatusForbidden, msgInactive)
	case errors.Is(err, auth.ErrPasswordCheck):
		s.log.WarnContext(r.Context(), "usersapi: password check failed", "user", userName, "err", err)
		fail(w, http.StatusServiceUnavailable, msgDirectory)
	default:
		s.failed(w, r, err)
	}
}

func (s *server) routeNotFound(w http.ResponseWriter, r *http.Request) {
	fail(w, http.StatusNotFound, "Route "+r.URL.RequestURI()+" not found")
}
