package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
)

// The console's page sizes.
const (
	listPageSize     = 50
	membersPageSize  = 100
	userActivityRead = 200 // entries read to find the doors that saw a user
)

// consoleTimeLayouts are the times the activity filter takes: RFC 3339
// and what a datetime-local input sends (read as UTC).
var consoleTimeLayouts = []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02T15:04:05"}

type overviewData struct {
	Sources    []SyncSource
	Chart      chart
	Doors      []doorCounts
	Runs       []SyncRun // newest first
	Users      int
	Groups     int
	Activity   []activityRow
	ActivityAt string // link to the whole log
}

func (a *API) overviewPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := overviewData{Sources: a.syncSources(), ActivityAt: ConsolePath + "/activity"}
	minutes, doors := a.traffic.snapshot(a.now())
	runs := a.runs.since(minutes[0].Start)
	d.Chart, d.Doors = buildChart(minutes, runs), doors
	all := a.runs.since(time.Time{})
	for i := len(all) - 1; i >= 0 && len(d.Runs) < 10; i-- {
		d.Runs = append(d.Runs, all[i])
	}
	users, err := a.st.ListUsers(ctx, store.Query{})
	if err != nil {
		a.consoleFail(w, r, "console overview", err)
		return
	}
	groups, err := a.st.ListGroups(ctx, store.Query{})
	if err != nil {
		a.consoleFail(w, r, "console overview", err)
		return
	}
	d.Users, d.Groups = users.Total, groups.Total
	entries, _, err := a.st.ListActivity(ctx, store.ActivityQuery{Limit: 10})
	if err != nil {
		a.consoleFail(w, r, "console overview", err)
		return
	}
	d.Activity = activityRows(entries)
	a.render(w, r, http.StatusOK, "overview", view{Title: "Overview", Section: "overview", Data: d})
}

// activityRow is an activity entry with links to what it concerns and to
// the log filtered by its door and action.
type activityRow struct {
	store.Activity
	ResourceHref, DoorHref, ActionHref string
}

func activityRows(entries []store.Activity) []activityRow {
	out := make([]activityRow, len(entries))
	for i, e := range entries {
		out[i] = activityRow{Activity: e,
			DoorHref:   ConsolePath + "/activity?" + url.Values{"door": {e.Actor.Door}}.Encode(),
			ActionHref: ConsolePath + "/activity?" + url.Values{"action": {e.Action}}.Encode()}
		switch {
		case e.ResourceID == "":
		case e.ResourceType == "User":
			out[i].ResourceHref = ConsolePath + "/users/" + url.PathEscape(e.ResourceID)
		case e.ResourceType == "Group":
			out[i].ResourceHref = ConsolePath + "/groups/" + url.PathEscape(e.ResourceID)
		}
	}
	return out
}

type activityData struct {
	User, Door, Action, Resource string
	Since, Until                 string
	Doors                        []string // suggestions for the door filter
	Entries                      []activityRow
	Total, From, To              int
	Prev, Next                   string
}

func (a *API) activityPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := activityData{User: q.Get("user"), Door: q.Get("door"), Action: q.Get("action"), Resource: q.Get("resource"),
		Since: q.Get("since"),
		Until: q.Get("until"), Doors: append([]string{"admin", "cli", "ldapsync", "scim"}, a.dialects...)}
	v := view{Title: "Activity", Section: "activity", Data: &d}
	aq, gone, err := a.activityQuery(r.Context(), q, listPageSize, consoleTimeLayouts...)
	if re := asRequestError(err); re != nil {
		v.Error = re.msg
		a.render(w, r, re.status, "activity", v)
		return
	}
	if err != nil {
		a.consoleFail(w, r, "console activity", err)
		return
	}
	entries, total, err := a.st.ListActivity(r.Context(), aq)
	if err != nil {
		a.consoleFail(w, r, "console activity", err)
		return
	}
	if gone && total == 0 {
		// Neither a user now nor the id of a deleted one with history.
		v.Error = "no user " + strconv.Quote(d.User)
		a.render(w, r, http.StatusNotFound, "activity", v)
		return
	}
	d.Entries, d.Total = activityRows(entries), total
	d.From, d.To = aq.Offset+1, aq.Offset+len(entries)
	d.Prev, d.Next = pageLinks(ConsolePath+"/activity", q, aq.Offset, aq.Limit, len(entries), total)
	a.render(w, r, http.StatusOK, "activity", v)
}

// pageLinks are the previous and next page of a listing ("" when there is
// none), keeping the other query parameters.
func pageLinks(path string, q url.Values, offset, limit, got, total int) (prev, next string) {
	link := func(off int) string {
		p := url.Values{}
		for k, v := range q {
			p[k] = v
		}
		p.Set("offset", strconv.Itoa(off))
		return path + "?" + p.Encode()
	}
	if offset > 0 {
		prev = link(max(offset-limit, 0))
	}
	if offset+got < total {
		next = link(offset + got)
	}
	return prev, next
}

type usersData struct {
	Query           string
	Users           []*store.User
	Total, From, To int
	Prev, Next      string
}

// searchOffset reads the offset of a search page; a bad one is 0.
func searchOffset(q url.Values) int {
	n, ok := intParam(q, "offset", 0)
	if !ok || n < 0 {
		return 0
	}
	return n
}

func (a *API) usersPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := usersData{Query: strings.TrimSpace(q.Get("q"))}
	sq := store.Query{SortBy: "userName", Offset: searchOffset(q), Limit: listPageSize, Related: true}
	if d.Query != "" {
		sq.Filter = store.Or{
			Left:  store.Or{Left: contains("userName", d.Query), Right: contains("displayName", d.Query)},
			Right: contains("emails.value", d.Query),
		}
	}
	page, err := a.st.ListUsers(r.Context(), sq)
	if err != nil {
		a.consoleFail(w, r, "console users", err)
		return
	}
	d.Users, d.Total = page.Users, page.Total
	d.From, d.To = sq.Offset+1, sq.Offset+len(page.Users)
	d.Prev, d.Next = pageLinks(ConsolePath+"/users", q, sq.Offset, sq.Limit, len(page.Users), page.Total)
	a.render(w, r, http.StatusOK, "users", view{Title: "Users", Section: "users", Data: d})
}

func contains(attr, s string) store.Expr { return store.Compare{Attr: attr, Op: store.OpCo, Value: s} }

// credentialRow is a stored credential as the console lists it, with the
// user it is bound to; never its secret, which only its hash stands for.
type credentialRow struct {
	store.Credential
	UserName, UserHref string
	Door               string
	Revoke             string // the form action revoking it, "" when the console does not
}

// doorRow says how a user comes through one door: its credentials there,
// and the newest activity of the door concerning it.
type doorRow struct {
	Door     string
	Access   []string
	LastSeen *store.Activity
}

type userData struct {
	User        *store.User
	Password    string
	Credentials []credentialRow
	Doors       []doorRow
	Activity    []activityRow
	ActivityAt  string
}

func (a *API) userPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, err := a.st.GetUser(ctx, r.PathValue("id"))
	if store.IsNotFound(err) {
		a.consoleError(w, r, http.StatusNotFound, "There is no such user.")
		return
	}
	if err != nil {
		a.consoleFail(w, r, "console user", err)
		return
	}
	d := userData{User: u, ActivityAt: ConsolePath + "/activity?" + url.Values{"user": {u.ID}}.Encode()}
	switch {
	case u.PasswordHash != "":
		d.Password = "set: the user can log in where a dialect takes passwords"
	case u.Source.Name != "":
		d.Password = "checked by a bind against directory source " + u.Source.Name
	default:
		d.Password = "none"
	}
	kinds := []string{auth.SCIMTokenKind}
	for _, dl := range a.dialects {
		kinds = append(kinds, auth.KeyKind(dl), auth.SessionKind(dl))
	}
	creds, err := a.listCredentials(ctx, kinds...)
	if err != nil {
		a.consoleFail(w, r, "console user", err)
		return
	}
	for _, c := range creds {
		if c.UserKey == u.Key && (c.Expires.IsZero() || c.Expires.After(a.now())) {
			d.Credentials = append(d.Credentials, a.credentialRow(ctx, c, map[int64]*store.User{u.Key: u}))
		}
	}
	entries, _, err := a.st.ListActivity(ctx, store.ActivityQuery{UserID: u.ID, Limit: userActivityRead})
	if err != nil {
		a.consoleFail(w, r, "console user", err)
		return
	}
	d.Activity = activityRows(entries[:min(len(entries), 20)])
	d.Doors = userDoors(u, d.Credentials, entries)
	a.render(w, r, http.StatusOK, "user", view{Title: u.UserName, Section: "users", Data: d})
}

// userDoors lists the doors a user has credentials at or was seen through.
func userDoors(u *store.User, creds []credentialRow, entries []store.Activity) []doorRow {
	rows := map[string]*doorRow{}
	row := func(door string) *doorRow {
		if rows[door] == nil {
			rows[door] = &doorRow{Door: door}
		}
		return rows[door]
	}
	counts := map[[2]string]int{}
	for _, c := range creds {
		counts[[2]string{c.Door, credentialNoun(c.Kind)}]++
	}
	for k, n := range counts {
		noun := k[1]
		if n != 1 {
			noun += "s"
		}
		row(k[0]).Access = append(row(k[0]).Access, fmt.Sprintf("%d %s", n, noun))
	}
	if u.Source.Name != "" {
		row("ldapsync").Access = append(row("ldapsync").Access, "synced from source "+u.Source.Name)
	}
	for i := range entries { // newest first: the first of each door is its last
		if r := row(entries[i].Actor.Door); r.LastSeen == nil {
			r.LastSeen = &entries[i]
		}
	}
	out := make([]doorRow, 0, len(rows))
	for _, r := range rows {
		slices.Sort(r.Access)
		out = append(out, *r)
	}
	slices.SortFunc(out, func(x, y doorRow) int { return strings.Compare(x.Door, y.Door) })
	return out
}

// credentialNoun names a credential of the kind for counting.
func credentialNoun(kind string) string {
	switch {
	case kind == auth.SCIMTokenKind:
		return "token for /Me"
	case strings.HasPrefix(kind, auth.KeyKind("")):
		return "API key"
	case strings.HasPrefix(kind, auth.SessionKind("")):
		return "live session"
	}
	return kind
}

// credentialDoor is the door a credential of the kind opens.
func credentialDoor(kind string) string {
	switch {
	case kind == auth.SCIMTokenKind:
		return "scim"
	case kind == auth.AdminTokenKind:
		return "admin"
	case strings.HasPrefix(kind, auth.KeyKind("")):
		return strings.TrimPrefix(kind, auth.KeyKind(""))
	case strings.HasPrefix(kind, auth.SessionKind("")):
		return strings.TrimPrefix(kind, auth.SessionKind(""))
	}
	return kind
}

// credentialRow describes c; users caches the users looked up so far.
func (a *API) credentialRow(ctx context.Context, c store.Credential, users map[int64]*store.User) credentialRow {
	row := credentialRow{Credential: c, Door: credentialDoor(c.Kind)}
	row.SecretHash = "" // never handed to a template
	switch {
	case c.Kind == auth.SCIMTokenKind:
		row.Revoke = fmt.Sprintf("%s/tokens/%d/revoke", ConsolePath, c.ID)
	case strings.HasPrefix(c.Kind, auth.KeyKind("")):
		row.Revoke = fmt.Sprintf("%s/keys/%d/revoke", ConsolePath, c.ID)
	}
	if c.UserKey == 0 {
		return row
	}
	u, ok := users[c.UserKey]
	if !ok {
		u, _ = a.st.GetUserByKey(ctx, c.UserKey)
		users[c.UserKey] = u
	}
	if u != nil {
		row.UserName, row.UserHref = u.UserName, ConsolePath+"/users/"+url.PathEscape(u.ID)
	}
	return row
}

type groupsData struct {
	Query           string
	Groups          []*store.Group
	Total, From, To int
	Prev, Next      string
}

func (a *API) groupsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := groupsData{Query: strings.TrimSpace(q.Get("q"))}
	sq := store.Query{SortBy: "displayName", Offset: searchOffset(q), Limit: listPageSize}
	if d.Query != "" {
		sq.Filter = contains("displayName", d.Query)
	}
	page, err := a.st.ListGroups(r.Context(), sq)
	if err != nil {
		a.consoleFail(w, r, "console groups", err)
		return
	}
	d.Groups, d.Total = page.Groups, page.Total
	d.From, d.To = sq.Offset+1, sq.Offset+len(page.Groups)
	d.Prev, d.Next = pageLinks(ConsolePath+"/groups", q, sq.Offset, sq.Limit, len(page.Groups), page.Total)
	a.render(w, r, http.StatusOK, "groups", view{Title: "Groups", Section: "groups", Data: d})
}

type memberRow struct {
	store.Member
	Href string
}

type groupData struct {
	Group      *store.Group
	Members    []memberRow
	From, To   int
	Prev, Next string
	ActivityAt string
}

func (a *API) groupPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	g, err := a.st.GetGroup(ctx, r.PathValue("id"), false)
	if store.IsNotFound(err) {
		a.consoleError(w, r, http.StatusNotFound, "There is no such group.")
		return
	}
	if err != nil {
		a.consoleFail(w, r, "console group", err)
		return
	}
	q := r.URL.Query()
	offset := searchOffset(q)
	// One more than a page tells whether another page follows.
	members, err := a.st.GroupMembers(ctx, g.Key, offset, membersPageSize+1)
	if err != nil {
		a.consoleFail(w, r, "console group", err)
		return
	}
	d := groupData{Group: g, From: offset + 1, ActivityAt: ConsolePath + "/activity?" + url.Values{"resource": {g.ID}}.Encode()}
	more := len(members) > membersPageSize
	members = members[:min(len(members), membersPageSize)]
	for _, m := range members {
		href := ConsolePath + "/users/" + url.PathEscape(m.ID)
		if m.Type == store.MemberGroup {
			href = ConsolePath + "/groups/" + url.PathEscape(m.ID)
		}
		d.Members = append(d.Members, memberRow{Member: m, Href: href})
	}
	d.To = offset + len(members)
	total := d.To
	if more {
		total++
	}
	d.Prev, d.Next = pageLinks(ConsolePath+"/groups/"+url.PathEscape(g.ID), q, offset, membersPageSize, len(members), total)
	a.render(w, r, http.StatusOK, "group", view{Title: g.DisplayName, Section: "groups", Data: d})
}

// newToken is a token just created: shown on this one answer, never again.
type newToken struct {
	ID    int64
	Name  string
	Token string
}

type tokensData struct {
	SCIMTokens  []credentialRow
	APIKeys     []credentialRow
	AdminTokens []credentialRow
	New         *newToken
	// Name and UserName refill the create form after an error.
	Name, UserName string
}

func (a *API) tokensPage(w http.ResponseWriter, r *http.Request) {
	v := view{Title: "Tokens and keys", Section: "tokens"}
	q := r.URL.Query()
	if id, err := strconv.ParseInt(q.Get("revoked"), 10, 64); err == nil {
		switch q.Get("what") {
		case "token":
			v.Flash = fmt.Sprintf("SCIM token %d revoked: it no longer works.", id)
		case "key":
			v.Flash = fmt.Sprintf("API key %d revoked: it stops working within seconds.", id)
		}
	}
	a.renderTokens(w, r, http.StatusOK, v, tokensData{})
}

func (a *API) renderTokens(w http.ResponseWriter, r *http.Request, status int, v view, d tokensData) {
	ctx := r.Context()
	users := map[int64]*store.User{}
	for _, list := range []struct {
		dst   *[]credentialRow
		kinds []string
	}{{&d.SCIMTokens, []string{auth.SCIMTokenKind}}, {&d.APIKeys, a.keyKinds()}, {&d.AdminTokens, []string{auth.AdminTokenKind}}} {
		creds, err := a.listCredentials(ctx, list.kinds...)
		if err != nil {
			a.consoleFail(w, r, "console tokens", err)
			return
		}
		for _, c := range creds {
			*list.dst = append(*list.dst, a.credentialRow(ctx, c, users))
		}
	}
	v.Data = d
	a.render(w, r, status, "tokens", v)
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) {
	name, userName := strings.TrimSpace(r.PostForm.Get("name")), strings.TrimSpace(r.PostForm.Get("userName"))
	v := view{Title: "Tokens and keys", Section: "tokens"}
	token, c, err := a.issueSCIMToken(r.Context(), consoleActor(r), name, userName, auth.SCIMTokenSettings{})
	if re := asRequestError(err); re != nil {
		v.Error = "No token created: " + re.msg + "."
		a.renderTokens(w, r, re.status, v, tokensData{Name: name, UserName: userName})
		return
	}
	if err != nil {
		a.consoleFail(w, r, "console create token", err)
		return
	}
	v.Flash = fmt.Sprintf("SCIM token %d created.", c.ID)
	a.renderTokens(w, r, http.StatusOK, v, tokensData{New: &newToken{ID: c.ID, Name: c.Name, Token: token}})
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) {
	a.revokeFromConsole(w, r, scimTokens(), "token")
}

func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) {
	a.revokeFromConsole(w, r, a.apiKeys(), "key")
}

func (a *API) revokeFromConsole(w http.ResponseWriter, r *http.Request, rv revocation, what string) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.consoleError(w, r, http.StatusNotFound, "There is no such "+rv.what+".")
		return
	}
	if err := a.revoke(r.Context(), consoleActor(r), rv, id); err != nil {
		a.consoleFail(w, r, "console revoke", err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("%s/tokens?revoked=%d&what=%s", ConsolePath, id, what), http.StatusSeeOther)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// relativeTime says how long ago (or in how long) t is.
func relativeTime(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d.Hours()))
	default:
		s = fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func formatSeconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// kindLabel names a credential kind for people.
func kindLabel(kind string) string {
	switch {
	case kind == auth.SCIMTokenKind:
		return "SCIM token"
	case kind == auth.AdminTokenKind:
		return "admin token"
	case strings.HasPrefix(kind, auth.KeyKind("")):
		return strings.TrimPrefix(kind, auth.KeyKind("")) + " API key"
	case strings.HasPrefix(kind, auth.SessionKind("")):
		return strings.TrimPrefix(kind, auth.SessionKind("")) + " session"
	}
	return kind
}
