package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Bulk (RFC 7644 §3.7). Each operation runs through the same handlers as a
// single request, in its own transaction (bulk is not atomic by the RFC).
// Operations run in an order that resolves "bulkId:" references, forward
// ones included; a cycle fails the operations caught in it.

const (
	bulkRequestSchema  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	bulkResponseSchema = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
)

type bulkOp struct {
	index   int
	method  string
	bulkID  string
	version string
	path    string
	data    any
	refs    []string // bulkIds this operation refers to
}

type bulkResult struct {
	Method   string `json:"method"`
	BulkID   string `json:"bulkId,omitempty"`
	Version  string `json:"version,omitempty"`
	Location string `json:"location,omitempty"`
	Status   string `json:"status"`
	Response any    `json:"response,omitempty"`
}

func (s *Server) bulk(w http.ResponseWriter, r *http.Request) error {
	doc, err := s.readBody(w, r, s.opts.BulkMaxPayload)
	if err != nil {
		var se *Error
		if errors.As(err, &se) && se.Status == http.StatusRequestEntityTooLarge {
			// Name the limit as the ServiceProviderConfig advertises it.
			se.Detail = fmt.Sprintf("bulk request exceeds maxPayloadSize of %d bytes", s.opts.BulkMaxPayload)
		}
		return err
	}
	ops, failOnErrors, perr := s.parseBulk(doc)
	if perr != nil {
		return perr
	}
	results := s.runBulk(r, ops, failOnErrors)
	return writeJSON(w, http.StatusOK, map[string]any{"schemas": []string{bulkResponseSchema}, "Operations": results})
}

func (s *Server) parseBulk(doc map[string]any) ([]*bulkOp, int, *Error) {
	var rawOps []any
	failOnErrors := 0
	schemaOK := false
	for k, v := range doc {
		switch strings.ToLower(k) {
		case "schemas":
			schemaOK = schemaOK || hasSchema(v, bulkRequestSchema)
		case "failonerrors":
			n, err := intField(k, v)
			if err != nil {
				return nil, 0, err
			}
			failOnErrors = *n
		case "operations":
			list, ok := v.([]any)
			if !ok {
				return nil, 0, badRequest(typeInvalidSyntax, "Operations must be an array")
			}
			rawOps = list
		}
	}
	if !schemaOK {
		return nil, 0, badRequest(typeInvalidSyntax, "schemas must contain %s", bulkRequestSchema)
	}
	if len(rawOps) > s.opts.BulkMaxOperations {
		return nil, 0, errorf(http.StatusRequestEntityTooLarge, "", "bulk request has %d operations; maxOperations is %d", len(rawOps), s.opts.BulkMaxOperations)
	}
	ops := make([]*bulkOp, 0, len(rawOps))
	seen := map[string]bool{}
	for i, item := range rawOps {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, 0, badRequest(typeInvalidSyntax, "Operations[%d] must be an object", i)
		}
		op := &bulkOp{index: i}
		for k, v := range m {
			switch strings.ToLower(k) {
			case "method":
				str, _ := v.(string)
				op.method = strings.ToUpper(str)
			case "bulkid":
				op.bulkID, _ = v.(string)
			case "version":
				op.version, _ = v.(string)
			case "path":
				op.path, _ = v.(string)
			case "data":
				op.data = v
			}
		}
		if op.bulkID != "" {
			if seen[op.bulkID] {
				return nil, 0, badRequest(typeInvalidValue, "bulkId %q is used twice", op.bulkID)
			}
			seen[op.bulkID] = true
		}
		op.refs = bulkRefs(op.path, op.data)
		ops = append(ops, op)
	}
	return ops, failOnErrors, nil
}

// bulkRefs finds the "bulkId:x" references in a path and a data document.
func bulkRefs(path string, data any) []string {
	var refs []string
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			if id, ok := strings.CutPrefix(t, "bulkId:"); ok {
				refs = append(refs, id)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		case map[string]any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(data)
	for _, seg := range strings.Split(path, "/") {
		walk(seg)
	}
	return refs
}

// substitute replaces bulkId references by the ids they resolved to.
func substitute(v any, ids map[string]string) any {
	switch t := v.(type) {
	case string:
		if ref, ok := strings.CutPrefix(t, "bulkId:"); ok {
			if id, ok := ids[ref]; ok {
				return id
			}
		}
		return t
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = substitute(x, ids)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = substitute(x, ids)
		}
		return out
	}
	return v
}

func (s *Server) runBulk(r *http.Request, ops []*bulkOp, failOnErrors int) []bulkResult {
	results := make([]*bulkResult, len(ops))
	ids := map[string]string{}   // bulkId → created id
	failed := map[string]bool{}  // bulkIds whose operation failed
	defined := map[string]bool{} // bulkIds some operation creates
	for _, op := range ops {
		if op.bulkID != "" {
			defined[op.bulkID] = true
		}
	}
	errorsSeen := 0
	done := 0
	for done < len(ops) {
		progressed := false
		for _, op := range ops {
			if results[op.index] != nil {
				continue
			}
			ready, reason := true, ""
			for _, ref := range op.refs {
				switch {
				case !defined[ref]:
					ready, reason = false, fmt.Sprintf("bulkId %q is not defined in this request", ref)
				case failed[ref]:
					ready, reason = false, fmt.Sprintf("operation with bulkId %q failed", ref)
				case ids[ref] == "":
					ready = false // not yet run: a forward reference
				}
			}
			if !ready && reason == "" {
				continue
			}
			var res *bulkResult
			if reason != "" {
				res = bulkError(op, badRequest(typeInvalidValue, "%s", reason))
			} else {
				res = s.runBulkOp(r, op, ids)
			}
			results[op.index] = res
			done++
			progressed = true
			if st, _ := strconv.Atoi(res.Status); st >= 400 {
				errorsSeen++
				if op.bulkID != "" {
					failed[op.bulkID] = true
				}
				if failOnErrors > 0 && errorsSeen >= failOnErrors {
					return compact(results)
				}
			}
		}
		if !progressed {
			// What remains waits on itself: a circular reference.
			for _, op := range ops {
				if results[op.index] == nil {
					results[op.index] = bulkError(op, errorf(http.StatusConflict, "", "circular bulkId reference"))
					done++
				}
			}
		}
	}
	return compact(results)
}

func compact(results []*bulkResult) []bulkResult {
	out := make([]bulkResult, 0, len(results))
	for _, r := range results {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out
}

func bulkError(op *bulkOp, e *Error) *bulkResult {
	return &bulkResult{Method: op.method, BulkID: op.bulkID, Status: strconv.Itoa(e.Status), Response: errorBody{
		Schemas: []string{errorSchema}, ScimType: e.ScimType, Detail: e.Detail, Status: strconv.Itoa(e.Status)}}
}

// runBulkOp dispatches one operation through the SCIM routes.
func (s *Server) runBulkOp(r *http.Request, op *bulkOp, ids map[string]string) *bulkResult {
	switch op.method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return bulkError(op, badRequest(typeInvalidSyntax, "method must be POST, PUT, PATCH or DELETE"))
	}
	segs := strings.Split(op.path, "/")
	for i, seg := range segs {
		segs[i] = substitute(seg, ids).(string)
	}
	path := strings.Join(segs, "/")
	if !strings.HasPrefix(path, "/Users") && !strings.HasPrefix(path, "/Groups") {
		return bulkError(op, badRequest(typeInvalidPath, "path must start with /Users or /Groups"))
	}
	if op.method == http.MethodPost && op.bulkID == "" {
		return bulkError(op, badRequest(typeInvalidValue, "POST operations need a bulkId"))
	}
	var body io.Reader
	if op.method != http.MethodDelete {
		b, _ := json.Marshal(substitute(op.data, ids))
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(r.Context(), op.method, s.prefix+path, body)
	if err != nil {
		return bulkError(op, badRequest(typeInvalidPath, "bad path %q", path))
	}
	req.Header.Set("Authorization", r.Header.Get("Authorization"))
	req.Header.Set("Content-Type", contentType)
	if op.version != "" {
		req.Header.Set("If-Match", op.version)
	}
	req.RemoteAddr, req.Host, req.TLS = r.RemoteAddr, r.Host, r.TLS
	rec := newRecorder()
	s.router.ServeHTTP(rec, req)
	res := &bulkResult{Method: op.method, BulkID: op.bulkID, Status: strconv.Itoa(rec.status), Version: rec.header.Get("ETag")}
	if rec.status >= 400 {
		var eb any
		_ = json.Unmarshal(rec.body.Bytes(), &eb)
		res.Response = eb
		return res
	}
	res.Location = rec.header.Get("Location")
	if res.Location == "" && op.method != http.MethodDelete {
		res.Location = baseFrom(r.Context()) + path
	}
	if op.method == http.MethodPost && op.bulkID != "" {
		var created struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(rec.body.Bytes(), &created)
		ids[op.bulkID] = created.ID
	}
	return res
}

// recorder captures an inner response.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
