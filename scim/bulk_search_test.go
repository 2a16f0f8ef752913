package scim_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/scim/scimtest"
	"github.com/scimbridge/scimbridge/store"
)

func bulkBody(failOnErrors int, ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	b := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"}, "Operations": list}
	if failOnErrors > 0 {
		b["failOnErrors"] = failOnErrors
	}
	return b
}

func bop(method, bulkID, path string, data any) map[string]any {
	m := map[string]any{"method": method, "path": path}
	if bulkID != "" {
		m["bulkId"] = bulkID
	}
	if data != nil {
		m["data"] = data
	}
	return m
}

func results(t *testing.T, doc map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, o := range asAnyList(doc["Operations"]) {
		out = append(out, o.(map[string]any))
	}
	return out
}

func TestBulk(t *testing.T) {
	s := scimtest.Start(t, func(o *scim.Options) { o.BulkMaxOperations = 6; o.BulkMaxPayload = 8192 })
	// The group refers to a user created later (a forward reference).
	status, doc, _ := s.Call(t, "POST", "/scim/v2/Bulk", bulkBody(0,
		bop("POST", "grp", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "Bulk Team", "members": []any{map[string]any{"type": "User", "value": "bulkId:alice"}}}),
		bop("POST", "alice", "/Users", user("bulk-alice", nil)),
		bop("PATCH", "", "/Users/bulkId:alice", patchBody(op("replace", "title", "Lead"))),
		bop("POST", "dup", "/Users", user("bulk-alice", nil)),
		bop("PUT", "", "/Users/nope", user("x", nil)),
	))
	want(t, status, 200, doc)
	res := results(t, doc)
	if len(res) != 5 {
		t.Fatalf("results %v", res)
	}
	wantStatuses := []string{"201", "201", "200", "409", "404"}
	for i, r := range res {
		if r["status"] != wantStatuses[i] {
			t.Fatalf("op %d: %v (want %s)", i, r, wantStatuses[i])
		}
	}
	if !strings.Contains(str(res[1]["location"]), "/scim/v2/Users/") || res[1]["version"] != `W/"1"` {
		t.Fatalf("create result %v", res[1])
	}
	if res[3]["response"].(map[string]any)["scimType"] != "uniqueness" {
		t.Fatalf("error response %v", res[3])
	}
	alice, err := s.Store.GetUserByUserName(context.Background(), "bulk-alice")
	if err != nil || alice.Title != "Lead" || len(alice.Groups) != 1 || alice.Groups[0].Display != "Bulk Team" {
		t.Fatalf("bulk results not stored: %+v %v", alice, err)
	}
	// failOnErrors stops after that many errors.
	status, doc, _ = s.Call(t, "POST", "/scim/v2/Bulk", bulkBody(1,
		bop("POST", "a", "/Users", user("bulk-alice", nil)),
		bop("POST", "b", "/Users", user("never-created", nil)),
	))
	want(t, status, 200, doc)
	if res := results(t, doc); len(res) != 1 || res[0]["status"] != "409" {
		t.Fatalf("failOnErrors: %v", res)
	}
	if _, err := s.Store.GetUserByUserName(context.Background(), "never-created"); !store.IsNotFound(err) {
		t.Fatal("operation after failOnErrors ran")
	}
	// Circular and unknown references fail those operations only.
	status, doc, _ = s.Call(t, "POST", "/scim/v2/Bulk", bulkBody(0,
		bop("POST", "g1", "/Groups", map[string]any{"displayName": "C1", "members": []any{map[string]any{"value": "bulkId:g2"}}}),
		bop("POST", "g2", "/Groups", map[string]any{"displayName": "C2", "members": []any{map[string]any{"value": "bulkId:g1"}}}),
		bop("POST", "u", "/Users", user("bulk-ok", map[string]any{"title": "bulkId:missing"})),
		bop("POST", "", "/Users", user("no-bulkid", nil)),
		bop("GET", "x", "/Users", nil),
	))
	want(t, status, 200, doc)
	res = results(t, doc)
	got := []string{}
	for _, r := range res {
		got = append(got, str(r["status"]))
	}
	if fmt.Sprint(got) != "[409 409 400 400 400]" {
		t.Fatalf("statuses %v: %v", got, res)
	}
	// Limits: too many operations, too large a payload.
	var many []map[string]any
	for i := 0; i < 7; i++ {
		many = append(many, bop("DELETE", "", "/Users/x", nil))
	}
	status, doc, _ = s.Call(t, "POST", "/scim/v2/Bulk", bulkBody(0, many...))
	wantError(t, status, doc, 413, "")
	status, doc, _ = s.Call(t, "POST", "/scim/v2/Bulk", bulkBody(0, bop("POST", "big", "/Users", user("big", map[string]any{"title": strings.Repeat("x", 9000)}))))
	wantError(t, status, doc, 413, "")
	if d := str(doc["detail"]); !strings.Contains(d, "maxPayloadSize of 8192") {
		t.Fatalf("413 detail %q does not name the advertised limit", d)
	}
	status, doc, _ = s.Call(t, "POST", "/scim/v2/Bulk", `{"Operations": [`)
	wantError(t, status, doc, 400, "invalidSyntax")
	status, doc, _ = s.Call(t, "POST", "/scim/v2/Bulk", `["Operations"]`)
	wantError(t, status, doc, 400, "invalidSyntax")
	status, doc, _ = s.Call(t, "POST", "/scim/v2/Bulk", map[string]any{"Operations": []any{}})
	wantError(t, status, doc, 400, "invalidSyntax")
	_, spc, _ := s.Call(t, "GET", "/scim/v2/ServiceProviderConfig", nil)
	if b := spc["bulk"].(map[string]any); b["maxOperations"] != float64(6) || b["maxPayloadSize"] != float64(8192) {
		t.Fatalf("advertised bulk limits %v", b)
	}
}

func TestSearchAndCursor(t *testing.T) {
	s := scimtest.Start(t)
	for i := 0; i < 7; i++ {
		createUser(t, s, fmt.Sprintf("s%d", i), map[string]any{"title": fmt.Sprint(i % 2)})
	}
	s.Call(t, "POST", "/scim/v2/Groups", map[string]any{"displayName": "s-group"})
	search := func(path string, body map[string]any) map[string]any {
		t.Helper()
		body["schemas"] = []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}
		status, doc, _ := s.Call(t, "POST", path, body)
		want(t, status, 200, doc)
		return doc
	}
	d := search("/scim/v2/Users/.search", map[string]any{"filter": `title eq "1"`, "attributes": []string{"userName"},
		"sortBy": "userName", "sortOrder": "descending", "startIndex": 1, "count": 2})
	if d["totalResults"] != float64(3) || namesOf(d) != "[s5 s3]" || resources(d)[0]["title"] != nil {
		t.Fatalf("users search: %v", d)
	}
	d = search("/scim/v2/Groups/.search", map[string]any{"filter": `displayName sw "s-"`})
	if d["totalResults"] != float64(1) {
		t.Fatalf("groups search %v", d)
	}
	d = search("/scim/v2/.search", map[string]any{"startIndex": 6, "count": 5})
	if d["totalResults"] != float64(8) || len(resources(d)) != 3 || resources(d)[2]["displayName"] != "s-group" {
		t.Fatalf("root search %v", d)
	}
	status, doc, _ := s.Call(t, "POST", "/scim/v2/Users/.search", map[string]any{"schemas": []string{"urn:x"}})
	wantError(t, status, doc, 400, "invalidSyntax")
	status, doc, _ = s.Call(t, "POST", "/scim/v2/Users/.search", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "count": "ten"})
	wantError(t, status, doc, 400, "invalidValue")

	// RFC 9865 cursors: all users, once each, across pages.
	seen := map[string]bool{}
	next := ""
	for pages := 0; ; pages++ {
		status, d, _ := s.Call(t, "GET", "/scim/v2/Users?count=3&cursor="+next, nil)
		want(t, status, 200, d)
		if d["startIndex"] != nil {
			t.Fatal("startIndex in a cursor page")
		}
		for _, r := range resources(d) {
			if seen[str(r["userName"])] {
				t.Fatalf("%v twice", r["userName"])
			}
			seen[str(r["userName"])] = true
		}
		next = str(d["nextCursor"])
		if next == "" || pages > 5 {
			break
		}
	}
	if len(seen) != 7 {
		t.Fatalf("cursor paging saw %d users", len(seen))
	}
	status, doc, _ = s.Call(t, "GET", "/scim/v2/Users?cursor=bogus", nil)
	wantError(t, status, doc, 400, "invalidCursor")
	status, doc, _ = s.Call(t, "GET", "/scim/v2/Users?cursor=&startIndex=2", nil)
	wantError(t, status, doc, 400, "invalidValue")
}

func TestMe(t *testing.T) {
	s := scimtest.Start(t)
	status, doc, _ := s.Call(t, "GET", "/scim/v2/Me", nil)
	wantError(t, status, doc, 501, "")
	u := createUser(t, s, "me-user", nil)
	stored, _ := s.Store.GetUserByUserName(context.Background(), "me-user")
	// A token bound to the user; the application binds its stored tokens
	// the same way (internal/app tests that).
	token := "me-token-0123456789"
	s.Tokens.Add(token, &scim.Principal{Name: "me", UserKey: stored.Key})
	resp := s.Do(t, "GET", "/scim/v2/Me", nil, "Authorization", "Bearer "+token)
	defer resp.Body.Close()
	var body strings.Builder
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	body.Write(buf[:n])
	if resp.StatusCode != 200 || !strings.Contains(body.String(), str(u["id"])) {
		t.Fatalf("/Me: %d %s", resp.StatusCode, body.String())
	}
}
