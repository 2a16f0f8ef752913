package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/scim/scimtest"
	"github.com/scimbridge/scimbridge/store"
)

func TestDiscovery(t *testing.T) {
	s := scimtest.Start(t)
	status, spc, _ := s.Call(t, "GET", "/scim/v2/ServiceProviderConfig", nil)
	want(t, status, 200, spc)
	for _, feature := range []string{"patch", "bulk", "filter", "sort", "etag", "changePassword"} {
		if spc[feature].(map[string]any)["supported"] != true {
			t.Errorf("%s not advertised", feature)
		}
	}
	if spc["filter"].(map[string]any)["maxResults"] != float64(1000) {
		t.Errorf("maxResults %v", spc["filter"])
	}
	status, rts, _ := s.Call(t, "GET", "/scim/v2/ResourceTypes", nil)
	want(t, status, 200, rts)
	if rts["totalResults"] != float64(2) {
		t.Fatalf("resource types %v", rts)
	}
	status, rt, _ := s.Call(t, "GET", "/scim/v2/ResourceTypes/User", nil)
	if status != 200 || rt["endpoint"] != "/Users" || len(rt["schemaExtensions"].([]any)) != 1 {
		t.Fatalf("ResourceTypes/User: %d %v", status, rt)
	}
	status, schemas, _ := s.Call(t, "GET", "/scim/v2/Schemas", nil)
	want(t, status, 200, schemas)
	ids := []string{}
	for _, r := range resources(schemas) {
		ids = append(ids, str(r["id"]))
	}
	sort.Strings(ids)
	if strings.Join(ids, " ") != "urn:ietf:params:scim:schemas:core:2.0:Group urn:ietf:params:scim:schemas:core:2.0:User urn:ietf:params:scim:schemas:extension:enterprise:2.0:User" {
		t.Fatalf("schemas %v", ids)
	}
	status, one, _ := s.Call(t, "GET", "/scim/v2/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", nil)
	if status != 200 || len(one["attributes"].([]any)) == 0 {
		t.Fatalf("schema by id: %d %v", status, one)
	}
	status, doc, _ := s.Call(t, "GET", "/scim/v2/Schemas/urn:nope", nil)
	wantError(t, status, doc, 404, "")
	status, doc, _ = s.Call(t, "GET", "/scim/v2/NoSuchThing", nil)
	wantError(t, status, doc, 404, "")
}

func TestAuthentication(t *testing.T) {
	s := scimtest.Start(t)
	for _, h := range []string{"", "Bearer wrong-token", "Basic " + scimtest.Token, "Bearer"} {
		req, _ := http.NewRequest("GET", s.URL+"/scim/v2/Users", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/scim+json" {
			t.Fatalf("auth %q: %d %s", h, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	// An unknown id of a protected resource is still a 401 without a token.
	resp, _ := http.Get(s.URL + "/scim/v2/Users/whatever")
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("got %d", resp.StatusCode)
	}
	// A token the authenticator accepts works; the application's stored,
	// hashed tokens are tested with the application (internal/app).
	if status, doc, _ := s.Call(t, "GET", "/scim/v2/Users", nil); status != 200 {
		t.Fatalf("accepted token: %d %v", status, doc)
	}
	if strings.Contains(s.Logs(), scimtest.Token) {
		t.Fatal("a token reached the logs")
	}
}

func TestUserLifecycle(t *testing.T) {
	s := scimtest.Start(t)
	status, u, h := s.Call(t, "POST", "/scim/v2/Users", user("bjensen@example.com", map[string]any{
		"id": "client-chosen", "meta": map[string]any{"version": "W/\"99\""}, "groups": []any{map[string]any{"value": "x"}},
		"externalId": "701984", "password": "t1meMa$heen",
		"name":         map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
		"emails":       []any{map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true}},
		"phoneNumbers": []any{map[string]any{"value": "555-555-8377", "type": "work"}},
		"addresses":    []any{map[string]any{"streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "type": "work"}},
		"roles":        []any{map[string]any{"value": "admin"}},
		"entitlements": []any{map[string]any{"value": "reports:read"}},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{
			"employeeNumber": "701984", "department": "Tour Operations", "manager": map[string]any{"value": "26118915"},
		},
	}))
	want(t, status, 201, u)
	id := str(u["id"])
	if id == "client-chosen" || id == "" {
		t.Fatalf("client set the id: %v", id)
	}
	if h.Get("Location") != s.URL+"/scim/v2/Users/"+id || h.Get("ETag") != `W/"1"` {
		t.Fatalf("Location %q ETag %q", h.Get("Location"), h.Get("ETag"))
	}
	if _, has := u["password"]; has {
		t.Fatal("password returned")
	}
	if _, has := u["groups"]; has {
		t.Fatal("read-only groups accepted from the client")
	}
	meta := u["meta"].(map[string]any)
	if meta["resourceType"] != "User" || meta["version"] != `W/"1"` || meta["location"] != h.Get("Location") {
		t.Fatalf("meta %v", meta)
	}
	ent := u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)
	if ent["department"] != "Tour Operations" || len(u["schemas"].([]any)) != 2 {
		t.Fatalf("enterprise extension: %v / %v", ent, u["schemas"])
	}
	stored, _ := s.Store.GetUser(context.Background(), id)
	if ok, _ := auth.CheckPassword(stored.PasswordHash, "t1meMa$heen"); !ok || strings.Contains(stored.PasswordHash, "t1me") {
		t.Fatal("password not stored as a working hash")
	}

	status, got, h := s.Call(t, "GET", "/scim/v2/Users/"+id, nil)
	want(t, status, 200, got)
	if h.Get("ETag") != `W/"1"` || got["userName"] != "bjensen@example.com" || got["externalId"] != "701984" {
		t.Fatalf("get: %v", got)
	}
	status, _, _ = s.Call(t, "GET", "/scim/v2/Users/"+id, nil, "If-None-Match", `W/"1"`)
	if status != 304 {
		t.Fatalf("If-None-Match current: %d", status)
	}
	status, _, _ = s.Call(t, "GET", "/scim/v2/Users/"+id, nil, "If-None-Match", `W/"0"`)
	if status != 200 {
		t.Fatalf("If-None-Match stale: %d", status)
	}

	// PUT replaces; the password stays; stale If-Match fails.
	put := user("bjensen@example.com", map[string]any{"displayName": "Babs", "active": false, "id": id})
	status, doc, _ := s.Call(t, "PUT", "/scim/v2/Users/"+id, put, "If-Match", `W/"7"`)
	wantError(t, status, doc, 412, "")
	status, doc, h = s.Call(t, "PUT", "/scim/v2/Users/"+id, put, "If-Match", `W/"1"`)
	want(t, status, 200, doc)
	if doc["displayName"] != "Babs" || doc["active"] != false || doc["name"] != nil || doc["externalId"] != nil || h.Get("ETag") != `W/"2"` {
		t.Fatalf("after PUT: %v %s", doc, h.Get("ETag"))
	}
	stored, _ = s.Store.GetUser(context.Background(), id)
	if ok, _ := auth.CheckPassword(stored.PasswordHash, "t1meMa$heen"); !ok {
		t.Fatal("PUT without password dropped the password")
	}
	status, doc, _ = s.Call(t, "PUT", "/scim/v2/Users/nope", put)
	wantError(t, status, doc, 404, "")

	status, doc, _ = s.Call(t, "DELETE", "/scim/v2/Users/"+id, nil, "If-Match", `W/"1"`)
	wantError(t, status, doc, 412, "")
	status, _, _ = s.Call(t, "DELETE", "/scim/v2/Users/"+id, nil)
	if status != 204 {
		t.Fatalf("delete: %d", status)
	}
	status, doc, _ = s.Call(t, "GET", "/scim/v2/Users/"+id, nil)
	wantError(t, status, doc, 404, "")
	status, doc, _ = s.Call(t, "DELETE", "/scim/v2/Users/"+id, nil)
	wantError(t, status, doc, 404, "")
	if strings.Contains(s.Logs(), "t1meMa$heen") {
		t.Fatal("password in logs")
	}
}

func TestUserBadInput(t *testing.T) {
	s := scimtest.Start(t, func(o *scim.Options) { o.MaxBody = 4096 })
	createUser(t, s, "taken", nil)
	cases := []struct {
		name     string
		body     any
		status   int
		scimType string
	}{
		{"malformed JSON", `{"userName": "x",`, 400, "invalidSyntax"},
		{"not an object", `["userName"]`, 400, "invalidSyntax"},
		{"null body", `null`, 400, "invalidSyntax"},
		{"missing userName", user("", nil), 400, "invalidValue"},
		{"userName not a string", map[string]any{"userName": 42}, 400, "invalidValue"},
		{"active not a boolean", user("a1", map[string]any{"active": "maybe"}), 400, "invalidValue"},
		{"emails not complex", user("a2", map[string]any{"emails": []any{"x@y"}}), 400, "invalidValue"},
		{"name not complex", user("a3", map[string]any{"name": 7}), 400, "invalidValue"},
		{"two primaries", user("a4", map[string]any{"emails": []any{
			map[string]any{"value": "a@x", "primary": true}, map[string]any{"value": "b@x", "primary": true}}}), 400, "invalidValue"},
		{"wrong schemas", map[string]any{"schemas": []string{"urn:other"}, "userName": "a5"}, 400, "invalidSyntax"},
		{"duplicate", user("taken", nil), 409, "uniqueness"},
		{"duplicate other case", user("TAKEN", nil), 409, "uniqueness"},
		{"too large", user("big", map[string]any{"displayName": strings.Repeat("x", 5000)}), 413, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, doc, _ := s.Call(t, "POST", "/scim/v2/Users", tc.body)
			wantError(t, status, doc, tc.status, tc.scimType)
		})
	}
	page, _ := s.Store.ListUsers(context.Background(), store.Query{Limit: 10})
	if page.Total != 1 {
		t.Fatalf("bad input wrote users: %d", page.Total)
	}
	// Entra's quirks are accepted: booleans as strings, application/json,
	// manager as a plain string, attribute names in any case.
	req, _ := http.NewRequest("POST", s.URL+"/scim/v2/Users", strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"USERNAME":"entra@x.com","Active":"False","roles":[],
		"meta":{"resourceType":"User"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m-1"}}`))
	req.Header.Set("Authorization", "Bearer "+scimtest.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("Entra-style create: %d", resp.StatusCode)
	}
	u, _ := s.Store.GetUserByUserName(context.Background(), "entra@x.com")
	if u.Active || u.Enterprise == nil || u.Enterprise.Manager.Value != "m-1" {
		t.Fatalf("Entra-style values: %+v", u)
	}
}

func TestConcurrentCreatesOneWins(t *testing.T) {
	s := scimtest.Start(t)
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := s.Do(t, "POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"racer"}`)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	sort.Ints(statuses)
	if fmt.Sprint(statuses) != "[201 409 409 409 409 409 409 409]" {
		t.Fatalf("statuses %v", statuses)
	}
}

func TestFiltersOverHTTP(t *testing.T) {
	s := scimtest.Start(t)
	ids := map[string]string{}
	for _, u := range []struct {
		name  string
		extra map[string]any
	}{
		{"alice", map[string]any{"externalId": "EXT-A", "title": "Engineer", "emails": []any{
			map[string]any{"value": "alice@work.example", "type": "work"}, map[string]any{"value": "alice@home.example", "type": "home"}},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "R&D"}}},
		{"bob", map[string]any{"active": false, "emails": []any{map[string]any{"value": "bob@work.example", "type": "work"}},
			"name": map[string]any{"familyName": "Builder"}}},
		{"carol", map[string]any{"title": "Manager"}},
	} {
		ids[u.name] = str(createUser(t, s, u.name, u.extra)["id"])
	}
	status, grp, _ := s.Call(t, "POST", "/scim/v2/Groups", map[string]any{"displayName": "Admins",
		"members": []any{map[string]any{"value": ids["alice"]}, map[string]any{"value": ids["carol"]}}})
	want(t, status, 201, grp)
	list := func(filter string) []string {
		t.Helper()
		status, doc, _ := s.Call(t, "GET", "/scim/v2/Users?filter="+url.QueryEscape(filter), nil)
		want(t, status, 200, doc)
		var names []string
		for _, r := range resources(doc) {
			names = append(names, str(r["userName"]))
		}
		return names
	}
	for filter, wantNames := range map[string]string{
		`userName eq "ALICE"`:                         "[alice]",
		`userName ne "alice"`:                         "[bob carol]",
		`userName co "o"`:                             "[bob carol]",
		`userName sw "c"`:                             "[carol]",
		`userName ew "b"`:                             "[bob]",
		`userName gt "b"`:                             "[bob carol]",
		`userName ge "bob"`:                           "[bob carol]",
		`userName lt "b"`:                             "[alice]",
		`userName le "bob"`:                           "[alice bob]",
		`title pr`:                                    "[alice carol]",
		`not (title pr)`:                              "[bob]",
		`active eq false`:                             "[bob]",
		`externalId eq "EXT-A"`:                       "[alice]",
		`externalId eq "ext-a"`:                       "[]",
		`id eq "` + ids["bob"] + `"`:                  "[bob]",
		`emails[type eq "work" and value co "@work"]`: "[alice bob]",
		`emails[type eq "home"].value eq "alice@home.example"`:                           "[alice]",
		`emails[type eq "work"].value eq "alice@home.example"`:                           "[]",
		`emails.value eq "BOB@work.example"`:                                             "[bob]",
		`name.familyName eq Builder`:                                                     "[bob]",
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d"`: "[alice]",
		`meta.created gt "2000-01-01T00:00:00Z" and title eq "manager"`:                  "[carol]",
		`meta.lastModified lt "2000-01-01T00:00:00Z"`:                                    "[]",
		`groups.value eq "` + str(grp["id"]) + `"`:                                       "[alice carol]",
		`(title eq "Engineer" or title eq "Manager") and not (userName eq "carol")`:      "[alice]",
	} {
		if got := fmt.Sprintf("%v", list(filter)); got != wantNames {
			t.Errorf("%s: got %s, want %s", filter, got, wantNames)
		}
	}
	for _, bad := range []string{`userName eq`, `nosuch eq "x"`, `active gt true`, `meta.created gt "soon"`, `name eq "x"`, `userName xx "a"`} {
		status, doc, _ := s.Call(t, "GET", "/scim/v2/Users?filter="+url.QueryEscape(bad), nil)
		wantError(t, status, doc, 400, "invalidFilter")
	}
	// Entra's connection test: a random userName is an empty 200 list.
	status, doc, _ := s.Call(t, "GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "`+auth.RandomString(12)+`"`), nil)
	if status != 200 || doc["totalResults"] != float64(0) || len(resources(doc)) != 0 {
		t.Fatalf("empty result: %d %v", status, doc)
	}
	status, doc, _ = s.Call(t, "GET", "/scim/v2/Groups?filter="+url.QueryEscape(`members.value eq "`+ids["carol"]+`"`), nil)
	if status != 200 || doc["totalResults"] != float64(1) {
		t.Fatalf("members.value filter: %v", doc)
	}
}

func TestListingPagingSorting(t *testing.T) {
	s := scimtest.Start(t, func(o *scim.Options) { o.DefaultPageSize = 5; o.MaxPageSize = 8 })
	for i := 0; i < 12; i++ {
		createUser(t, s, fmt.Sprintf("user%02d", (i*7)%12), map[string]any{"title": fmt.Sprint(i % 3)})
	}
	page := func(q string) map[string]any {
		t.Helper()
		status, doc, _ := s.Call(t, "GET", "/scim/v2/Users?"+q, nil)
		want(t, status, 200, doc)
		return doc
	}
	d := page("")
	if d["totalResults"] != float64(12) || d["itemsPerPage"] != float64(5) || d["startIndex"] != float64(1) || len(resources(d)) != 5 {
		t.Fatalf("default page: %v", d)
	}
	d = page("startIndex=11&count=5")
	if d["itemsPerPage"] != float64(2) || d["startIndex"] != float64(11) {
		t.Fatalf("last page: %v", d)
	}
	d = page("count=100")
	if d["itemsPerPage"] != float64(8) {
		t.Fatalf("count above max not clamped: %v", d["itemsPerPage"])
	}
	d = page("count=0")
	if d["totalResults"] != float64(12) || len(resources(d)) != 0 {
		t.Fatalf("count=0: %v", d)
	}
	d = page("startIndex=0&count=-3")
	if d["startIndex"] != float64(1) || len(resources(d)) != 0 {
		t.Fatalf("startIndex<1 / negative count: %v", d)
	}
	// Paging in the default order is stable and complete.
	seen := map[string]bool{}
	for start := 1; start <= 12; start += 5 {
		for _, r := range resources(page(fmt.Sprintf("startIndex=%d&count=5", start))) {
			seen[str(r["userName"])] = true
		}
	}
	if len(seen) != 12 {
		t.Fatalf("paging lost users: %d", len(seen))
	}
	d = page("sortBy=userName&count=3")
	if names := namesOf(d); names != "[user00 user01 user02]" {
		t.Fatalf("sortBy asc: %s", names)
	}
	d = page("sortBy=USERNAME&sortOrder=descending&count=2")
	if names := namesOf(d); names != "[user11 user10]" {
		t.Fatalf("sortBy desc: %s", names)
	}
	d = page("sortBy=meta.created&sortOrder=descending&count=1")
	if names := namesOf(d); names != "[user05]" {
		t.Fatalf("sortBy meta.created: %s", names)
	}
	status, doc, _ := s.Call(t, "GET", "/scim/v2/Users?sortOrder=sideways", nil)
	wantError(t, status, doc, 400, "invalidValue")
	status, doc, _ = s.Call(t, "GET", "/scim/v2/Users?count=many", nil)
	wantError(t, status, doc, 400, "invalidValue")
	status, doc, _ = s.Call(t, "GET", "/scim/v2/Users?sortBy=emails", nil)
	wantError(t, status, doc, 400, "invalidValue")
}

func namesOf(doc map[string]any) string {
	var names []string
	for _, r := range resources(doc) {
		names = append(names, str(r["userName"]))
	}
	return fmt.Sprint(names)
}

func TestAttributeProjection(t *testing.T) {
	s := scimtest.Start(t)
	u := createUser(t, s, "proj", map[string]any{
		"name":   map[string]any{"givenName": "P", "familyName": "Roj"},
		"emails": []any{map[string]any{"value": "p@x", "type": "work"}},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "D", "costCenter": "C"},
	})
	id := str(u["id"])
	_, doc, _ := s.Call(t, "GET", "/scim/v2/Users/"+id+"?attributes=name.givenName,EMAILS.value", nil)
	if doc["id"] != id || doc["userName"] != nil || doc["meta"] == nil && false {
		t.Fatalf("attributes: %v", doc)
	}
	if doc["name"].(map[string]any)["familyName"] != nil || doc["name"].(map[string]any)["givenName"] != "P" {
		t.Fatalf("sub-attribute projection: %v", doc["name"])
	}
	if e := doc["emails"].([]any)[0].(map[string]any); e["value"] != "p@x" || e["type"] != nil {
		t.Fatalf("multi-valued projection: %v", e)
	}
	_, doc, _ = s.Call(t, "GET", "/scim/v2/Users/"+id+"?excludedAttributes=emails,id,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", nil)
	ent := doc["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)
	if doc["emails"] != nil || doc["id"] != id || doc["userName"] != "proj" || ent["costCenter"] != nil || ent["department"] != "D" {
		t.Fatalf("excludedAttributes: %v", doc)
	}
	_, doc, _ = s.Call(t, "GET", "/scim/v2/Users/"+id+"?attributes="+url.QueryEscape(`emails[type eq "work"]`), nil)
	if doc["emails"] == nil || doc["userName"] != nil {
		t.Fatalf("attributes with a value filter: %v", doc)
	}
	_, doc, _ = s.Call(t, "GET", "/scim/v2/Users?attributes=userName&filter="+url.QueryEscape(`userName eq "proj"`), nil)
	if r := resources(doc)[0]; r["userName"] != "proj" || r["name"] != nil || r["id"] != id {
		t.Fatalf("list projection: %v", r)
	}
	status, doc, _ := s.Call(t, "POST", "/scim/v2/Users?attributes=userName", user("proj2", map[string]any{"title": "T"}))
	if status != 201 || doc["title"] != nil || doc["userName"] != "proj2" {
		t.Fatalf("create projection: %v", doc)
	}
}

func TestGroupsOverHTTP(t *testing.T) {
	s := scimtest.Start(t)
	a := str(createUser(t, s, "ann", map[string]any{"displayName": "Ann A"})["id"])
	b := str(createUser(t, s, "ben", nil)["id"])
	status, g, h := s.Call(t, "POST", "/scim/v2/Groups", map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"},
		"displayName": "Tour Guides", "externalId": "g-ext",
		"members": []any{map[string]any{"value": a, "$ref": nil}, map[string]any{"value": b, "display": "ignored"}},
	})
	want(t, status, 201, g)
	gid := str(g["id"])
	if h.Get("Location") != s.URL+"/scim/v2/Groups/"+gid || h.Get("ETag") == "" {
		t.Fatalf("headers %v", h)
	}
	members := g["members"].([]any)
	m0 := members[0].(map[string]any)
	if len(members) != 2 || m0["display"] != "Ann A" || m0["$ref"] != s.URL+"/scim/v2/Users/"+a || m0["type"] != "User" {
		t.Fatalf("members %v", members)
	}
	_, ud, _ := s.Call(t, "GET", "/scim/v2/Users/"+a, nil)
	groups := ud["groups"].([]any)
	if len(groups) != 1 || groups[0].(map[string]any)["value"] != gid || groups[0].(map[string]any)["display"] != "Tour Guides" {
		t.Fatalf("user groups %v", groups)
	}
	status, doc, _ := s.Call(t, "POST", "/scim/v2/Groups", map[string]any{"displayName": "Bad", "members": []any{map[string]any{"value": "nobody"}}})
	wantError(t, status, doc, 400, "invalidValue")
	if _, err := s.Store.GetGroup(context.Background(), "Bad", false); err == nil {
		t.Fatal("group with a bad member was written")
	}
	status, doc, _ = s.Call(t, "POST", "/scim/v2/Groups", map[string]any{"displayName": "tour guides"})
	wantError(t, status, doc, 409, "uniqueness")
	status, doc, _ = s.Call(t, "POST", "/scim/v2/Groups", map[string]any{"members": []any{}})
	wantError(t, status, doc, 400, "invalidValue")

	_, doc, _ = s.Call(t, "GET", "/scim/v2/Groups/"+gid+"?excludedAttributes=members", nil)
	if doc["members"] != nil || doc["displayName"] != "Tour Guides" {
		t.Fatalf("excluded members: %v", doc)
	}
	_, doc, _ = s.Call(t, "GET", "/scim/v2/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "tour guides"`), nil)
	if doc["totalResults"] != float64(1) || resources(doc)[0]["members"] != nil {
		t.Fatalf("Entra group lookup: %v", doc)
	}
	// PUT replaces members.
	status, doc, _ = s.Call(t, "PUT", "/scim/v2/Groups/"+gid, map[string]any{"displayName": "Guides", "members": []any{map[string]any{"value": b}}})
	want(t, status, 200, doc)
	if len(doc["members"].([]any)) != 1 || doc["displayName"] != "Guides" {
		t.Fatalf("after PUT %v", doc)
	}
	// Deleting a user removes it from its groups.
	s.Call(t, "DELETE", "/scim/v2/Users/"+b, nil)
	_, doc, _ = s.Call(t, "GET", "/scim/v2/Groups/"+gid, nil)
	if doc["members"] != nil {
		t.Fatalf("deleted user still a member: %v", doc["members"])
	}
	status, _, _ = s.Call(t, "DELETE", "/scim/v2/Groups/"+gid, nil)
	if status != 204 {
		t.Fatalf("delete group %d", status)
	}
	_, ud, _ = s.Call(t, "GET", "/scim/v2/Users/"+a, nil)
	if ud["groups"] != nil {
		t.Fatal("deleted group still on the user")
	}
}
