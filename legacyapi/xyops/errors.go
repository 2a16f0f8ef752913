package xyops

import (
	"errors"
	"net/http"

	"github.com/scimbridge/scimbridge/store"
)

// apiError is a failure in the xyOps envelope.
type apiError struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Description }

func fail(code, description string) *apiError { return &apiError{Code: code, Description: description} }

// statusOf maps an error code to the HTTP status versioned URLs answer with.
func statusOf(code string) int {
	switch code {
	case "api":
		return http.StatusBadRequest
	case "access", "session":
		return http.StatusForbidden
	case "rate":
		return http.StatusTooManyRequests
	case "busy":
		return http.StatusServiceUnavailable
	case "storage":
		return http.StatusInsufficientStorage
	case "notfound":
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// internal logs an unexpected error and answers without its details.
func (s *server) internal(c *call, err error) {
	s.log.ErrorContext(c.r.Context(), "request failed", "path", c.r.URL.Path, "err", err)
	c.send(fail("internal", "Internal server error."))
}

// failed answers an error in xyOps' envelope: the dialect's own *apiError
// as it is, the store's error kinds in pixl-server-user's words, anything
// else logged and answered "internal". The admin calls (admin_*) speak of
// the user their username parameter names; the self-service calls pass the
// store's message on. Every call answers its errors through it.
func (s *server) failed(c *call, err error) {
	var e *apiError
	if errors.As(err, &e) {
		c.send(e)
		return
	}
	kind := store.KindOf(err)
	switch {
	case kind == store.KindInternal:
		s.internal(c, err)
	case kind == store.KindUnavailable:
		c.w.Header().Set("Retry-After", "1")
		c.send(fail("busy", "Service temporarily unavailable, please retry."))
	case kind == store.KindInsufficientStorage:
		c.send(fail("storage", "Insufficient storage."))
	case kind == store.KindInvalid:
		c.send(fail("api", "Invalid parameter: "+err.Error()))
	case kind == store.KindForbidden:
		// The privilege rules every door shares (store.CheckChange).
		c.send(fail("access", "Access denied: "+err.Error()))
	case c.adminCall && kind == store.KindConflict && store.FieldOf(err) == "emails":
		c.send(fail("api", "Invalid parameter: the e-mail address is already used by another account: "+c.strOr("email")))
	case c.adminCall && kind == store.KindConflict:
		c.send(fail("user_exists", "User already exists: "+c.strOr("username")))
	case c.adminCall && kind == store.KindNotFound:
		c.send(fail("user", "User not found: "+c.strOr("username")))
	case c.adminCall:
		s.internal(c, err)
	case kind == store.KindConflict:
		c.send(fail("api", "Invalid parameter: "+err.Error()))
	default:
		c.send(fail("user", err.Error()))
	}
}
