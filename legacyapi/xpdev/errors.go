package xpdev

import (
	"errors"
	"net/http"

	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/store"
)

type message struct {
	Message string `json:"message"`
}

func fail(w http.ResponseWriter, status int, msg string) {
	httpjson.Write(w, status, message{Message: msg})
}

// The vendor's messages.
const (
	msgDenied      = "Permission denied"
	msgNotFound    = "User not found"
	msgUserExists  = "Username already exists"
	msgEmailExists = "Email already exists"
)

func (s *server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "xpdev: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	fail(w, http.StatusInternalServerError, "Internal server error")
}

// badRequest is a refusal with its own status and message: a bad field,
// a rule of the dialect's (e-mail uniqueness), a forbidden role.
type badRequest struct {
	status int
	msg    string
}

func (e *badRequest) Error() string { return e.msg }

// failed answers an error of a handler or a write transaction: the
// dialect's own refusals as they are, the store's error kinds in the
// vendor's words, anything else as a logged 500.
func (s *server) failed(w http.ResponseWriter, r *http.Request, err error) {
	var bad *badRequest
	if errors.As(err, &bad) {
		fail(w, bad.status, bad.msg)
		return
	}
	switch store.KindOf(err) {
	case store.KindNotFound:
		fail(w, http.StatusNotFound, msgNotFound)
	case store.KindForbidden:
		// The privilege rules every door shares (store.CheckChange).
		fail(w, http.StatusForbidden, msgDenied)
	case store.KindConflict:
		if store.FieldOf(err) == "emails" {
			fail(w, http.StatusConflict, msgEmailExists)
			return
		}
		fail(w, http.StatusConflict, msgUserExists)
	case store.KindInvalid:
		fail(w, http.StatusBadRequest, err.Error())
	case store.KindUnavailable:
		w.Header().Set("Retry-After", "1")
		fail(w, http.StatusServiceUnavailable, "Service unavailable")
	case store.KindInsufficientStorage:
		fail(w, http.StatusInsufficientStorage, "Insufficient storage")
	default:
		s.internal(w, r, err)
	}
}
