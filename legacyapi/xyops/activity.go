package xyops

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// actionLogoutAll is the store action logout_all records; xyOps shows it
// as a "warning".
const actionLogoutAll = auth.ActionLogoutEverywhere

const logoutAllNotice = "Logged out all user sessions by request"

// defaultPageSize is xyOps' default limit and the page size its list
// header reports.
const defaultPageSize = 50

// getUserActivity is /api/app/get_user_activity/v1: the caller's activity
// log, newest first. offset and limit come from the body, else the query.
func (s *server) getUserActivity(c *call) {
	p, ok := s.require(c)
	if !ok {
		return
	}
	if p.sess == nil && !auth.HasScope(p.key, "read") {
		c.send(fail("access", "API Key does not have the required privilege: read"))
		return
	}
	empty := map[string]any{"code": 0, "rows": []any{}, "list": map[string]any{"length": 0}}
	if p.user == nil { // an API key bound to no user has no log
		c.send(empty)
		return
	}
	offset := c.intParam("offset", 0)
	limit := c.intParam("limit", defaultPageSize)
	ctx := c.r.Context()
	q := store.ActivityQuery{UserID: p.user.ID}
	total := -1
	if offset < 0 || limit <= 0 {
		// Both need the length of the log first.
		q.Limit = 1
		_, n, err := s.deps.Store.ListActivity(ctx, q)
		if err != nil {
			s.failed(c, err)
			return
		}
		total = n
		if offset < 0 {
			offset = max(total+offset, 0)
		}
		if limit <= 0 {
			limit = total - offset
		}
	}
	if limit <= 0 || (total >= 0 && offset >= total) {
		c.send(empty)
		return
	}
	q.Offset, q.Limit = offset, limit
	entries, total, err := s.deps.Store.ListActivity(ctx, q)
	if err != nil {
		s.failed(c, err)
		return
	}
	if len(entries) == 0 {
		c.send(empty)
		return
	}
	rows := make([]map[string]any, len(entries))
	for i, a := range entries {
		rows[i] = activityRow(a, p.user)
	}
	c.send(map[string]any{"code": 0, "rows": rows, "list": listHeader(total)})
}

// intParam reads a number the way xyOps' parseInt does, from the body and
// else the query string; def when absent or not a number.
func (c *call) intParam(name string, def int) int {
	v, ok := c.params[name]
	if !ok {
		q := c.r.URL.Query()
		if !q.Has(name) {
			return def
		}
		v = q.Get(name)
	}
	switch v := v.(type) {
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return def
		}
		return int(v)
	case string:
		if m := leadingInt.FindString(strings.TrimSpace(v)); m != "" {
			if n, err := strconv.Atoi(m); err == nil {
				return n
			}
		}
	}
	return def
}

var leadingInt = regexp.MustCompile(`^[-+]?\d+`)

// actionNames maps store actions to xyOps' names where they differ from the
// store's dotted name with "_" for ".".
var actionNames = map[string]string{
	auth.ActionLoginFailure: "user_login_failure",
	actionLogoutAll:         "warning",
}

func actionName(action string) string {
	if n, ok := actionNames[action]; ok {
		return n
	}
	return strings.ReplaceAll(action, ".", "_")
}

// activityRow renders one store activity entry as an xyOps log row.
func activityRow(a store.Activity, u *store.User) map[string]any {
	epoch := a.At.Unix()
	ips := []string{}
	if a.Actor.Address != "" {
		ips = append(ips, a.Actor.Address)
	}
	row := map[string]any{"action": actionName(a.Action), "epoch": epoch, "date": epoch,
		"ip": a.Actor.Address, "ips": ips, "headers": map[string]string{},
		"username": u.UserName, "user": userStub(u)}
	var login auth.LoginDetail
	switch {
	case a.Action == auth.ActionLogin && json.Unmarshal([]byte(a.Detail), &login) == nil:
		row["session_id"] = login.Session
		row["description"] = "Logged in via " + legacyapi.DoorName(login.Door)
		if login.UserAgent != "" {
			row["headers"] = map[string]string{"user-agent": login.UserAgent}
			row["useragent"] = parseUserAgent(login.UserAgent)
		}
	case a.Action == actionLogoutAll:
		row["description"] = logoutAllNotice
	default:
		// Say which door made the change: SCIM, the directory sync or
		// another dialect.
		via := "via " + a.Actor.Door
		if a.Actor.Principal != "" {
			via += " by " + a.Actor.Principal
		}
		// In words ("User updated: title"), not the stored detail.
		row["description"] = legacyapi.ActivityWords(a) + " (" + via + ")"
	}
	return row
}

// Browsers in the order their tokens must be tested (Edge and Opera claim
// to be Chrome, Chrome claims to be Safari).
var browsers = []struct{ name, re string }{
	{"Edge", `Edg(?:e|A|iOS)?/(\d+(?:\.\d+)?)`},
	{"Opera", `OPR/(\d+(?:\.\d+)?)`},
	{"Firefox", `(?:Firefox|FxiOS)/(\d+(?:\.\d+)?)`},
	{"Chrome", `(?:Chrome|CriOS)/(\d+(?:\.\d+)?)`},
	{"Safari", `Version/(\d+(?:\.\d+)?).*Safari/`},
	{"curl", `curl/(\d+(?:\.\d+)?)`},
}

var browserREs = func() []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(browsers))
	for i, b := range browsers {
		out[i] = regexp.MustCompile(b.re)
	}
	return out
}()

var (
	macOS     = regexp.MustCompile(`Mac OS X [\d_.]+`)
	windowsNT = regexp.MustCompile(`Windows NT (\d+\.\d+)`)
	androidV  = regexp.MustCompile(`Android (\d+(?:\.\d+)?)`)
	iosV      = regexp.MustCompile(`(?:iPhone|CPU) OS (\d+)_(\d+)`)
)

var windowsNames = map[string]string{"10.0": "Windows 10", "6.3": "Windows 8.1", "6.2": "Windows 8", "6.1": "Windows 7"}

// parseUserAgent renders a User-Agent as xyOps does: "Browser Version /
// OS", with "Mac OS X n.n" written "macOS"; an agent it cannot parse is
// returned unchanged.
func parseUserAgent(ua string) string {
	browser := ""
	for i, re := range browserREs {
		if m := re.FindStringSubmatch(ua); m != nil {
			browser = browsers[i].name + " " + m[1]
			break
		}
	}
	if browser == "" {
		return ua
	}
	os := ""
	switch {
	case iosV.MatchString(ua):
		m := iosV.FindStringSubmatch(ua)
		os = "iOS " + m[1] + "." + m[2]
	case androidV.MatchString(ua):
		os = "Android " + androidV.FindStringSubmatch(ua)[1]
	case macOS.MatchString(ua):
		os = "macOS"
	case windowsNT.MatchString(ua):
		v := windowsNT.FindStringSubmatch(ua)[1]
		if os = windowsNames[v]; os == "" {
			os = "Windows NT " + v
		}
	case strings.Contains(ua, "Linux"):
		os = "Linux"
	}
	if os == "" {
		return browser
	}
	return browser + " / " + os
}
