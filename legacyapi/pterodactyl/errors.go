package pterodactyl

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/store"
)

// apiError is one entry of the panel's error list (spec §6). Status is the
// HTTP status as a string; Meta appears on validation errors only.
type apiError struct {
	Code   string     `json:"code"`
	Status string     `json:"status"`
	Detail string     `json:"detail"`
	Meta   *errorMeta `json:"meta,omitempty"`
}

type errorMeta struct {
	SourceField string `json:"source_field"`
	Rule        string `json:"rule"`
}

type errorBody struct {
	Errors []apiError `json:"errors"`
}

func writeError(w http.ResponseWriter, status int, code, detail string) {
	httpjson.Write(w, status, errorBody{Errors: []apiError{{Code: code, Status: strconv.Itoa(status), Detail: detail}}})
}

func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "NotFoundHttpException", "The requested resource could not be found on the server.")
}

func unauthenticated(w http.ResponseWriter) {
	writeError(w, http.StatusUnauthorized, "AuthenticationException", "Unauthenticated.")
}

func forbidden(w http.ResponseWriter, detail string) {
	writeError(w, http.StatusForbidden, "AccessDeniedHttpException", detail)
}

const (
	detailUnauthorized = "This action is unauthorized."
	detailNotAdmin     = "This account does not have permission to access the API."
)

// internalError logs err in full and tells the client only that something
// went wrong, as the panel does outside debug mode.
func (s *server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "pterodactyl: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "HttpException",
		"An unexpected error was encountered while processing this request, please try again.")
}

// validationFailed writes the 422 list: one entry per failed rule.
func validationFailed(w http.ResponseWriter, errs []fieldError) {
	body := errorBody{Errors: make([]apiError, 0, len(errs))}
	for _, e := range errs {
		body.Errors = append(body.Errors, apiError{
			Code: "ValidationException", Status: "422", Detail: e.detail,
			Meta: &errorMeta{SourceField: e.field, Rule: e.rule},
		})
	}
	httpjson.Write(w, http.StatusUnprocessableEntity, body)
}

// invalid carries failed rules out of a write transaction (rolling it
// back): the validator's list, and the store's conflict when the store
// refused the write.
type invalid struct {
	errs     []fieldError
	conflict error
}

func (e *invalid) Error() string { return "validation failed" }

// refused passes on the error of a store write; the store's conflict (a
// taken username or external_id) becomes the 422 list of the rules.
func refused(err error, errs []fieldError) error {
	if store.KindOf(err) == store.KindConflict {
		return &invalid{errs: errs, conflict: err}
	}
	return err
}

// display is a business-rule refusal (the panel's DisplayException, 400).
type display struct{ msg string }

func (e *display) Error() string { return e.msg }

// failed answers an error of a handler or a write transaction: the 422
// list, a DisplayException, the store's error kinds as the panel words
// them, anything else as a logged 500. Every handler answers its errors
// through it.
func (s *server) failed(w http.ResponseWriter, r *http.Request, err error) {
	var inv *invalid
	var disp *display
	switch {
	case errors.As(err, &inv):
		errs, err := inv.complete(r.Context(), s.deps.Store)
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		validationFailed(w, errs)
	case errors.As(err, &disp):
		writeError(w, http.StatusBadRequest, "DisplayException", disp.msg)
	case store.KindOf(err) == store.KindNotFound:
		notFound(w)
	case store.KindOf(err) == store.KindForbidden:
		// The privilege rules every door shares (store.CheckChange).
		forbidden(w, err.Error())
	case store.KindOf(err) == store.KindConflict:
		validationFailed(w, []fieldError{uniqueError(panelField(err))})
	case store.KindOf(err) == store.KindInvalid:
		validationFailed(w, []fieldError{{field: store.FieldOf(err), rule: "invalid", detail: err.Error()}})
	case store.KindOf(err) == store.KindUnavailable:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailableHttpException", "Service Unavailable")
	case store.KindOf(err) == store.KindInsufficientStorage:
		writeError(w, http.StatusInsufficientStorage, "HttpException", "Insufficient Storage")
	default:
		s.internalError(w, r, err)
	}
}

// panelField names the panel field of the store's conflict.
func panelField(err error) string {
	if field := map[string]string{"userName": "username", "externalId": "external_id"}[store.FieldOf(err)]; field != "" {
		return field
	}
	return "username"
}

// complete is the 422 list the panel gives: every failed rule, and of the
// unique rules the store keeps those that hold, at their fields' places.
// The store's conflict names one; the others are looked up in rd (after
// the transaction, which has been rolled back), since the panel lists every
// failed rule at once.
func (e *invalid) complete(ctx context.Context, rd store.Reader) ([]fieldError, error) {
	named := ""
	if e.conflict != nil {
		named = panelField(e.conflict)
	}
	out := make([]fieldError, 0, len(e.errs)+1)
	found := false
	for _, fe := range e.errs {
		taken := true
		switch {
		case fe.taken == nil:
		case fe.field == named:
			found = true
		default:
			var err error
			if taken, err = fe.taken(ctx, rd); err != nil {
				return nil, err
			}
		}
		if taken {
			fe.taken = nil
			out = append(out, fe)
		}
	}
	if named != "" && !found {
		out = append(out, uniqueError(named))
	}
	return out, nil
}
