package xstudio

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/store"
)

// failure is an answer in the failure envelope; its text is shown as is.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

func failf(format string, args ...any) error { return &failure{msg: fmt.Sprintf(format, args...)} }

var (
	errNotAuthenticated = failf("not authenticated")
	errRights           = failf("insufficient rights")
)

// tooLargeOr is the failure of a body that would not parse: too large, or
// malformed as msg says.
func tooLargeOr(err error, msg string) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return failf("request body too large")
	}
	return failf("%s", msg)
}

// failed answers a command's error: XStudio answers every command with
// HTTP 200 and a failure envelope. The dialect's own failures are shown as
// they are, the store's error kinds in XStudio's words (a taken name is
// the store's conflict on the field), anything else is logged and
// answered "internal error". Every command answers its errors through it.
func (s *server) failed(w http.ResponseWriter, r *http.Request, err error) {
	var f *failure
	var msg string
	switch kind := store.KindOf(err); {
	case errors.As(err, &f):
		msg = f.msg
	case kind == store.KindForbidden:
		// The privilege rules every door shares (store.CheckChange).
		msg = errRights.Error()
	case kind == store.KindConflict && store.FieldOf(err) == "userName":
		msg = "a user with this name already exists"
	case kind == store.KindConflict && store.FieldOf(err) == "emails":
		msg = "a user with this e-mail address already exists"
	case kind == store.KindConflict && store.FieldOf(err) == "displayName":
		msg = "a team with this name already exists"
	case kind == store.KindUnavailable:
		w.Header().Set("Retry-After", "1")
		msg = "service unavailable"
	case kind == store.KindInsufficientStorage:
		msg = "insufficient storage"
	case kind != store.KindInternal:
		msg = err.Error()
	default:
		s.log.ErrorContext(r.Context(), "command failed", "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"result": "failure", "message": msg})
}
