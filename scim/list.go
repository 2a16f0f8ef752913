package scim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

const listResponseSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

// listParams are the query parameters of a listing or search (RFC 7644
// §3.4.2, RFC 9865).
type listParams struct {
	filter     store.Expr
	sortBy     string
	descending bool
	startIndex int // 1-based
	count      int
	useCursor  bool
	cursor     string
	proj       *projection
}

type listResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	ItemsPerPage int      `json:"itemsPerPage"`
	StartIndex   int      `json:"startIndex,omitempty"`
	NextCursor   string   `json:"nextCursor,omitempty"`
	Resources    []any    `json:"Resources"`
}

// rawParams is what a query string or a .search body gives.
type rawParams struct {
	filter, sortBy, sortOrder, attributes, excluded string
	startIndex, count                               *int
	cursor                                          *string
}

func rawFromQuery(q url.Values) (*rawParams, *Error) {
	p := &rawParams{
		filter: q.Get("filter"), sortBy: q.Get("sortBy"), sortOrder: q.Get("sortOrder"),
		attributes: q.Get("attributes"), excluded: q.Get("excludedAttributes"),
	}
	for name, dst := range map[string]**int{"startIndex": &p.startIndex, "count": &p.count} {
		if v, ok := q[name]; ok {
			n, err := strconv.Atoi(strings.TrimSpace(v[0]))
			if err != nil {
				return nil, badRequest(typeInvalidValue, "%s must be an integer", name)
			}
			*dst = &n
		}
	}
	if v, ok := q["cursor"]; ok {
		p.cursor = &v[0]
	}
	return p, nil
}

func (s *Server) params(rs *resourceSchema, raw *rawParams) (*listParams, *Error) {
	p := &listParams{sortBy: raw.sortBy, startIndex: 1, count: s.opts.DefaultPageSize}
	if raw.filter != "" {
		f, err := ParseFilter(raw.filter)
		if err != nil {
			return nil, badRequest(typeInvalidFilter, "invalid filter: %v", err)
		}
		p.filter = f
	}
	switch strings.ToLower(raw.sortOrder) {
	case "", "ascending":
	case "descending":
		p.descending = true
	default:
		return nil, badRequest(typeInvalidValue, "sortOrder must be ascending or descending")
	}
	if raw.startIndex != nil && *raw.startIndex > 1 {
		p.startIndex = *raw.startIndex
	}
	if raw.count != nil {
		p.count = min(max(*raw.count, 0), s.opts.MaxPageSize)
	}
	if raw.cursor != nil {
		if raw.startIndex != nil {
			return nil, badRequest(typeInvalidValue, "use either cursor or startIndex, not both")
		}
		p.useCursor, p.cursor = true, *raw.cursor
	}
	proj, err := parseProjection(rs, raw.attributes, raw.excluded)
	if err != nil {
		return nil, err
	}
	p.proj = proj
	return p, nil
}

func (p *listParams) query(related bool) store.Query {
	return store.Query{
		Filter: p.filter, SortBy: p.sortBy, Descending: p.descending,
		Offset: p.startIndex - 1, Limit: p.count, UseCursor: p.useCursor, Cursor: p.cursor,
		Related: related,
	}
}

func (p *listParams) response(total int, resources []any, next string) *listResponse {
	lr := &listResponse{
		Schemas: []string{listResponseSchema}, TotalResults: total, ItemsPerPage: len(resources),
		Resources: resources, NextCursor: next,
	}
	if !p.useCursor {
		lr.StartIndex = p.startIndex
	}
	if lr.Resources == nil {
		lr.Resources = []any{}
	}
	return lr
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	raw, err := rawFromQuery(r.URL.Query())
	if err != nil {
		return err
	}
	return s.serveUsers(w, r, raw)
}

func (s *Server) serveUsers(w http.ResponseWriter, r *http.Request, raw *rawParams) error {
	lr, err := s.userList(r, raw)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, lr)
}

func (s *Server) userList(r *http.Request, raw *rawParams) (*listResponse, error) {
	p, perr := s.params(userSchema, raw)
	if perr != nil {
		return nil, perr
	}
	page, err := s.st.ListUsers(r.Context(), p.query(p.proj.wants("groups")))
	if err != nil {
		return nil, err
	}
	base := baseFrom(r.Context())
	out := make([]any, len(page.Users))
	for i, u := range page.Users {
		out[i] = project(p.proj, renderUser(u, base))
	}
	return p.response(page.Total, out, page.NextCursor), nil
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) error {
	raw, err := rawFromQuery(r.URL.Query())
	if err != nil {
		return err
	}
	return s.serveGroups(w, r, raw)
}

func (s *Server) serveGroups(w http.ResponseWriter, r *http.Request, raw *rawParams) error {
	lr, err := s.groupList(r, raw)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, lr)
}

func (s *Server) groupList(r *http.Request, raw *rawParams) (*listResponse, error) {
	p, perr := s.params(groupSchema, raw)
	if perr != nil {
		return nil, perr
	}
	page, err := s.st.ListGroups(r.Context(), p.query(p.proj.wants("members")))
	if err != nil {
		return nil, err
	}
	base := baseFrom(r.Context())
	out := make([]any, len(page.Groups))
	for i, g := range page.Groups {
		out[i] = project(p.proj, renderGroup(g, base))
	}
	return p.response(page.Total, out, page.NextCursor), nil
}

// project applies a projection to a rendered resource; without one the
// struct is encoded as it is.
func project(p *projection, v any) any {
	if p == nil {
		return v
	}
	return p.apply(toDoc(v))
}
