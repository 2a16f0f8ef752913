package xstudio

import (
	"bytes"
	"io"
	"net/http"

	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/legacyapi"
)

// Door is the XStudio dialect as the composition root mounts it.
type Door struct{ legacyapi.Door[Config] }

// New returns the dialect's door.
func New(cfg Config, deps legacyapi.Deps) *Door {
	return &Door{legacyapi.NewDoor(Dialect, cfg, deps, Mount)}
}

// RateKey is the session (or token) a request carries.
func (d *Door) RateKey(r *http.Request) string {
	return legacyapi.Credential(r, nil, []string{sessionCookie})
}

// IsLogin reports whether the request calls the authenticate command,
// read exactly as the dialect reads it: from the path, the query or a form
// body. It parses a copy, so the dialect still reads the body (and reports
// its errors) itself.
func (d *Door) IsLogin(r *http.Request) bool {
	probe := r.Clone(r.Context())
	if r.Method == http.MethodPost && r.Body != nil && r.ContentLength != 0 {
		limit := d.Deps().BodyLimit()
		head, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		r.Body = readCloser{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
		if err != nil || int64(len(head)) > limit {
			return false // the dialect refuses the body without checking a password
		}
		probe.Body = io.NopCloser(bytes.NewReader(head))
	}
	c := &call{r: probe}
	if err := c.parse(d.Deps().BodyLimit()); err != nil {
		return false
	}
	return c.command() == "authenticate"
}

type readCloser struct {
	io.Reader
	io.Closer
}

// Refuse answers a request turned away at the edge as XStudio answers every
// command: HTTP 200 with a failure envelope (Retry-After is set).
func (d *Door) Refuse(w http.ResponseWriter, _ *http.Request, status int) {
	httpjson.Write(w, http.StatusOK, map[string]any{"result": "failure", "message": legacyapi.RefusalMessage(status)})
}
