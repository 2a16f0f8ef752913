package pterodactyl

import (
	"net/http"
	"strconv"

	"github.com/scimbridge/scimbridge/httpjson"
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
