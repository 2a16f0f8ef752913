package scim

import (
	"net/http"
	"strings"
)

const searchRequestSchema = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

// rawFromSearch reads a SearchRequest body (RFC 7644 §3.4.3).
func rawFromSearch(doc map[string]any) (*rawParams, *Error) {
	p := &rawParams{}
	for k, v := range doc {
		var err *Error
		switch strings.ToLower(k) {
		case "schemas":
			if !hasSchema(v, searchRequestSchema) {
				return nil, badRequest(typeInvalidSyntax, "schemas must contain %s", searchRequestSchema)
			}
		case "filter":
			p.filter, err = stringField(k, v)
		case "sortby":
			p.sortBy, err = stringField(k, v)
		case "sortorder":
			p.sortOrder, err = stringField(k, v)
		case "attributes":
			p.attributes, err = attrList(k, v)
		case "excludedattributes":
			p.excluded, err = attrList(k, v)
		case "startindex":
			p.startIndex, err = intField(k, v)
		case "count":
			p.count, err = intField(k, v)
		case "cursor":
			s, serr := stringField(k, v)
			p.cursor, err = &s, serr
		}
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

func stringField(name string, v any) (string, *Error) {
	s, ok := v.(string)
	if !ok && v != nil {
		return "", badRequest(typeInvalidValue, "%s must be a string", name)
	}
	return s, nil
}

func intField(name string, v any) (*int, *Error) {
	f, ok := v.(float64)
	if !ok || f != float64(int(f)) {
		return nil, badRequest(typeInvalidValue, "%s must be an integer", name)
	}
	n := int(f)
	return &n, nil
}

// attrList accepts the RFC's array of names (and, leniently, a string).
func attrList(name string, v any) (string, *Error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case []any:
		parts := make([]string, 0, len(t))
		for _, item := range t {
			s, ok := item.(string)
			if !ok {
				return "", badRequest(typeInvalidValue, "%s must be an array of strings", name)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	}
	return "", badRequest(typeInvalidValue, "%s must be an array of strings", name)
}

func (s *Server) readSearch(w http.ResponseWriter, r *http.Request) (*rawParams, error) {
	doc, err := s.readBody(w, r, s.opts.MaxBody)
	if err != nil {
		return nil, err
	}
	raw, serr := rawFromSearch(doc)
	if serr != nil {
		return nil, serr
	}
	return raw, nil
}

func (s *Server) searchUsers(w http.ResponseWriter, r *http.Request) error {
	raw, err := s.readSearch(w, r)
	if err != nil {
		return err
	}
	return s.serveUsers(w, r, raw)
}

func (s *Server) searchGroups(w http.ResponseWriter, r *http.Request) error {
	raw, err := s.readSearch(w, r)
	if err != nil {
		return err
	}
	return s.serveGroups(w, r, raw)
}

// searchAll is POST /.search.
func (s *Server) searchAll(w http.ResponseWriter, r *http.Request) error {
	raw, err := s.readSearch(w, r)
	if err != nil {
		return err
	}
	return s.searchAcross(w, r, raw)
}

// listRoot is GET at the service root: the query of a POST /.search in the
// query string (RFC 7644 §3.4.2.1: "GET /?filter=..." queries across
// resource types).
func (s *Server) listRoot(w http.ResponseWriter, r *http.Request) error {
	raw, err := rawFromQuery(r.URL.Query())
	if err != nil {
		return err
	}
	return s.searchAcross(w, r, raw)
}

// searchAcross answers a query over every resource type: users, then
// groups, paged as one list. A filter naming an attribute one type lacks
// matches nothing of that type.
func (s *Server) searchAcross(w http.ResponseWriter, r *http.Request, raw *rawParams) error {
	if raw.cursor != nil {
		return badRequest(typeInvalidValue, "cursor paging is offered per resource type, not at the root")
	}
	p, perr := s.params(userSchema, raw)
	if perr != nil {
		return perr
	}
	counts := *raw
	zero := 0
	counts.count = &zero
	// First learn how many of each match, then fetch the window.
	users, uerr := s.userList(r, &counts)
	groups, gerr := s.groupList(r, &counts)
	if uerr != nil && gerr != nil {
		return uerr
	}
	nUsers, nGroups := 0, 0
	if uerr == nil {
		nUsers = users.TotalResults
	}
	if gerr == nil {
		nGroups = groups.TotalResults
	}
	offset, limit := p.startIndex-1, p.count
	var out []any
	if uerr == nil && offset < nUsers && limit > 0 {
		page := *raw
		start, n := offset+1, min(limit, nUsers-offset)
		page.startIndex, page.count = &start, &n
		lr, err := s.userList(r, &page)
		if err != nil {
			return err
		}
		out = append(out, lr.Resources...)
	}
	if gerr == nil && len(out) < limit && offset+len(out) < nUsers+nGroups {
		page := *raw
		start := max(offset-nUsers, 0) + 1
		n := limit - len(out)
		page.startIndex, page.count = &start, &n
		lr, err := s.groupList(r, &page)
		if err != nil {
			return err
		}
		out = append(out, lr.Resources...)
	}
	return writeJSON(w, http.StatusOK, p.response(nUsers+nGroups, out, ""))
}
