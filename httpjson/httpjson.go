// Package httpjson is the JSON-over-HTTP mechanics every door shares:
// writing a JSON answer, reading a size-limited body, the client's address
// (with one trusted-proxy rule), the bearer token and integer query
// parameters. It knows no door and no wire format beyond JSON.
package httpjson

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	json "github.com/goccy/go-json"
)

// ContentType is the media type Write sends.
const ContentType = "application/json"

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Write writes v as JSON with the given status and Content-Type
// application/json. A nil v writes only the status.
func Write(w http.ResponseWriter, status int, v any) {
	_ = WriteAs(w, status, ContentType, v)
}

// WriteAs writes v as JSON with the given status and media type. It encodes
// into a buffer first, so that an encoding failure is returned (and can
// still become an error answer) before anything is sent.
func WriteAs(w http.ResponseWriter, status int, contentType string, v any) error {
	if v == nil {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		return nil
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	// Once the status is out, a failed write (the client left) cannot be
	// answered with an error any more.
	_, _ = w.Write(buf.Bytes())
	return nil
}

// Body reading errors, for each door to render in its own format.
var (
	ErrBodyTooLarge = errors.New("request body too large")
	ErrMalformed    = errors.New("malformed JSON body")
)

// ReadBody reads a request body of at most limit bytes. It returns
// ErrBodyTooLarge past the limit; a nil body reads as empty.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, ErrBodyTooLarge
	}
	return body, err
}

// Decode reads a JSON body of at most limit bytes into v: ErrBodyTooLarge
// past the limit, ErrMalformed for anything that is not JSON of v's shape.
func Decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body, err := ReadBody(w, r, limit)
	if errors.Is(err, ErrBodyTooLarge) {
		return err
	}
	if err != nil {
		return ErrMalformed
	}
	// The standard decoder, not the fast encoder's twin: it is the one
	// fuzzed against hostile input.
	if err := stdjson.Unmarshal(body, v); err != nil {
		return ErrMalformed
	}
	return nil
}

// IntParam parses a query parameter as an int, returning def when absent
// and ok=false when present but not a number.
func IntParam(r *http.Request, name string, def int) (int, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// BearerToken returns the token of an "Authorization: Bearer …" header
// (the scheme in any case), or "".
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
