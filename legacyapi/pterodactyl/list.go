package pterodactyl

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// The list filters (spatie/laravel-query-builder partial filters) and the
// SCIM attributes they search.
var filterAttrs = map[string]string{
	"email":       "emails.value",
	"uuid":        "id",
	"username":    "userName",
	"external_id": "externalId",
}

const (
	allowedFilters = "email, uuid, username, external_id"
	allowedSorts   = "id, uuid"
)

// listQuery turns the panel's query parameters into a store query; a
// non-empty code means a 400 with that code and detail.
func listQuery(r *http.Request) (q store.Query, code, detail string) {
	params := r.URL.Query()

	var unknown []string
	var filter store.Expr
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		name, ok := strings.CutPrefix(k, "filter[")
		if !ok || !strings.HasSuffix(name, "]") {
			continue
		}
		name = strings.TrimSuffix(name, "]")
		attr, known := filterAttrs[name]
		if !known {
			unknown = append(unknown, name)
			continue
		}
		if e := partialMatch(attr, name, params.Get(k)); e != nil {
			filter = and(filter, e)
		}
	}
	if len(unknown) > 0 {
		return q, "InvalidFilterQuery", "Requested filter(s) `" + strings.Join(unknown, ", ") +
			"` are not allowed. Allowed filter(s) are `" + allowedFilters + "`."
	}
	q.Filter = filter

	if sortParam := params.Get("sort"); sortParam != "" {
		var bad []string
		first := true
		for _, key := range strings.Split(sortParam, ",") {
			desc := strings.HasPrefix(key, "-")
			field := strings.TrimPrefix(key, "-")
			if field != "id" && field != "uuid" {
				bad = append(bad, field)
				continue
			}
			// Both keys are unique, so the first one decides the order.
			if first {
				q.Descending = desc
				if field == "uuid" {
					q.SortBy = "id"
				}
				first = false
			}
		}
		if len(bad) > 0 {
			return q, "InvalidSortQuery", "Requested sort(s) `" + strings.Join(bad, ", ") +
				"` is not allowed. Allowed sort(s) are `" + allowedSorts + "`."
		}
	}
	return q, "", ""
}

// partialMatch is LOWER(col) LIKE %value% with commas OR-ing the parts.
func partialMatch(attr, name, value string) store.Expr {
	var e store.Expr
	for _, part := range strings.Split(value, ",") {
		if part == "" {
			continue
		}
		if name == "uuid" {
			part = strings.ToLower(part) // ids are stored lower-case
		}
		c := store.Compare{Attr: attr, Op: store.OpCo, Value: part}
		if e == nil {
			e = c
		} else {
			e = store.Or{Left: e, Right: c}
		}
	}
	return e
}

func and(a, b store.Expr) store.Expr {
	if a == nil {
		return b
	}
	return store.And{Left: a, Right: b}
}

// pageParams reads page (invalid → 1) and per_page (default 50, 0 → 15).
func (s *server) pageParams(r *http.Request) (page, perPage int) {
	page, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	perPage = defaultPerPage
	if v := r.URL.Query().Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 0:
		case n == 0:
			perPage = zeroPerPage
		default:
			perPage = n
		}
	}
	if s.cfg.MaxPerPage > 0 && perPage > s.cfg.MaxPerPage {
		perPage = s.cfg.MaxPerPage
	}
	return page, perPage
}

func (s *server) list(w http.ResponseWriter, r *http.Request, c *call) {
	q, code, detail := listQuery(r)
	if code != "" {
		writeError(w, http.StatusBadRequest, code, detail)
		return
	}
	page, perPage := s.pageParams(r)
	offset, reachable := legacyapi.PageOffset(page, perPage)
	q.Offset, q.Limit = offset, perPage
	if !reachable {
		q.Offset, q.Limit = 0, 0 // count only
	}
	res, err := s.deps.Store.ListUsers(r.Context(), q)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	withServers := includesServers(r)
	out := list{Object: "list", Data: make([]item, 0, len(res.Users))}
	for _, u := range res.Users {
		out.Data = append(out.Data, s.render(u, withServers))
	}
	totalPages := max((res.Total+perPage-1)/perPage, 1)
	links := map[string]string{}
	self := legacyapi.BaseURL(r, s.cfg.BaseURL) + r.URL.Path + "?page="
	if page > 1 {
		links["previous"] = self + strconv.Itoa(page-1)
	}
	if page < totalPages {
		links["next"] = self + strconv.Itoa(page+1)
	}
	out.Meta = &listMeta{Pagination: pagination{
		Total: res.Total, Count: len(out.Data), PerPage: perPage, CurrentPage: page,
		TotalPages: totalPages, Links: links,
	}}
	httpjson.Write(w, http.StatusOK, out)
}
