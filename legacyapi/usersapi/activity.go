package usersapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

type activityOut struct {
	ID        int64   `json:"id"`
	Action    string  `json:"action"`
	Resource  string  `json:"resource"`
	Details   string  `json:"details"`
	IPAddress *string `json:"ipAddress"`
	UserAgent *string `json:"userAgent"`
	Timestamp string  `json:"timestamp"`
	// Which door and principal made the change.
	Door  string `json:"door"`
	Actor string `json:"actor"`
}

// parseDate reads an ISO-8601 date or date-time; a bare date as an end
// bound means the whole day.
func parseDate(s string, end bool) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		if end {
			t = t.Add(time.Microsecond) // the store's upper bound is exclusive
		}
		return t, true
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, false
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, true
}

// activity lists the store's activity entries about the user, newest first.
func (s *server) activity(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.self() && !c.readsAll() {
		fail(w, http.StatusForbidden, msgForbidden)
		return
	}
	q := store.ActivityQuery{UserID: c.target.ID}
	bad := invalid{}
	if v := r.URL.Query().Get("startDate"); v != "" {
		t, ok := parseDate(v, false)
		if !ok {
			bad.add("startDate", "startDate must be an ISO 8601 date")
		}
		q.Since = t
	}
	if v := r.URL.Query().Get("endDate"); v != "" {
		t, ok := parseDate(v, true)
		if !ok {
			bad.add("endDate", "endDate must be an ISO 8601 date")
		}
		q.Until = t
	}
	if len(bad) > 0 {
		bad.write(w)
		return
	}
	page, limit := s.pageParams(r)
	offset, ok := legacyapi.PageOffset(page, limit)
	if !ok {
		offset = 1 << 40
	}
	q.Offset, q.Limit = offset, limit
	entries, total, err := s.deps.Store.ListActivity(r.Context(), q)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	out := make([]activityOut, 0, len(entries))
	for _, e := range entries {
		resource, action, _ := strings.Cut(e.Action, ".")
		switch e.Action {
		case auth.ActionLogin:
			resource, action = "auth", "login"
		case auth.ActionLogout:
			resource, action = "auth", "logout"
		case auth.ActionLoginFailure:
			resource, action = "auth", "login.failure"
		case auth.ActionPasswordChange:
			resource, action = "user", "password.change"
		}
		// The entry in words ("User logged in"), never the stored detail's
		// raw form; a login's user agent, which the login recorded.
		details := legacyapi.ActivityText(e, Dialect)
		var agent *string
		if login, ok := legacyapi.Login(e); ok && login.UserAgent != "" {
			agent = &login.UserAgent
			details += " (" + login.UserAgent + ")"
		}
		out = append(out, activityOut{ID: e.Seq, Action: action, Resource: resource, Details: details,
			IPAddress: optional(e.Actor.Address), UserAgent: agent, Timestamp: *ts(e.At), Door: e.Actor.Door, Actor: e.Actor.Principal})
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"success": true, "data": map[string]any{
		"activities": out, "pagination": pageInfo{Page: page, Limit: limit, Total: total, Pages: pages(total, limit)},
	}})
}
