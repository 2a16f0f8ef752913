package scim_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/scim/scimtest"
)

func patchBody(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, op := range ops {
		list[i] = op
	}
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": list}
}

func op(name, path string, value any) map[string]any {
	m := map[string]any{"op": name}
	if path != "" {
		m["path"] = path
	}
	if value != nil {
		m["value"] = value
	}
	return m
}

const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

func TestPatchUser(t *testing.T) {
	s := scimtest.Start(t)
	u := createUser(t, s, "patchme", map[string]any{
		"name":      map[string]any{"givenName": "Pat", "familyName": "Chme"},
		"emails":    []any{map[string]any{"value": "work@x.com", "type": "work", "primary": true}},
		"addresses": []any{map[string]any{"type": "work", "streetAddress": "1 Old St"}},
		ent:         map[string]any{"department": "Old"},
	})
	id := str(u["id"])
	path := "/scim/v2/Users/" + id
	steps := []struct {
		name  string
		ops   []map[string]any
		check func(d map[string]any) error
	}{
		{"okta deactivate, no path", []map[string]any{op("replace", "", map[string]any{"active": false})},
			func(d map[string]any) error { return expect(d["active"] == false, "active %v", d["active"]) }},
		{"entra boolean string, capitalised op", []map[string]any{op("Replace", "active", "True")},
			func(d map[string]any) error { return expect(d["active"] == true, "active %v", d["active"]) }},
		{"sub-attribute", []map[string]any{op("replace", "name.givenName", "Patricia")},
			func(d map[string]any) error {
				n := d["name"].(map[string]any)
				return expect(n["givenName"] == "Patricia" && n["familyName"] == "Chme", "name %v", n)
			}},
		{"complex replace merges", []map[string]any{op("replace", "name", map[string]any{"middleName": "Q"})},
			func(d map[string]any) error {
				n := d["name"].(map[string]any)
				return expect(n["middleName"] == "Q" && n["givenName"] == "Patricia", "name %v", n)
			}},
		{"value filter sub", []map[string]any{op("replace", `emails[type eq "work"].value`, "new@x.com")},
			func(d map[string]any) error {
				e := d["emails"].([]any)
				return expect(len(e) == 1 && e[0].(map[string]any)["value"] == "new@x.com", "emails %v", e)
			}},
		{"entra replace with no match adds", []map[string]any{op("replace", `phoneNumbers[type eq "mobile"].value`, "555-1")},
			func(d map[string]any) error {
				p := d["phoneNumbers"].([]any)[0].(map[string]any)
				return expect(p["type"] == "mobile" && p["value"] == "555-1", "phones %v", p)
			}},
		{"addresses filter sub", []map[string]any{op("replace", `addresses[type eq "work"].streetAddress`, "2 New St")},
			func(d map[string]any) error {
				a := d["addresses"].([]any)[0].(map[string]any)
				return expect(a["streetAddress"] == "2 New St" && len(d["addresses"].([]any)) == 1, "addresses %v", d["addresses"])
			}},
		{"add to multi-valued, duplicate is a no-op", []map[string]any{
			op("add", "emails", []any{map[string]any{"value": "home@x.com", "type": "home"}}),
			op("add", "emails", []any{map[string]any{"value": "HOME@x.com", "type": "home"}})},
			func(d map[string]any) error { return expect(len(d["emails"].([]any)) == 2, "emails %v", d["emails"]) }},
		{"new primary demotes the old", []map[string]any{op("add", "emails", []any{map[string]any{"value": "p@x.com", "primary": true}})},
			func(d map[string]any) error {
				primaries := 0
				for _, e := range d["emails"].([]any) {
					if e.(map[string]any)["primary"] == true {
						primaries++
					}
				}
				return expect(primaries == 1, "primaries %d in %v", primaries, d["emails"])
			}},
		{"remove by filter", []map[string]any{op("remove", `emails[type eq "home"]`, nil)},
			func(d map[string]any) error { return expect(len(d["emails"].([]any)) == 2, "emails %v", d["emails"]) }},
		{"enterprise URN path", []map[string]any{op("replace", ent+":department", "New")},
			func(d map[string]any) error {
				return expect(d[ent].(map[string]any)["department"] == "New", "enterprise %v", d[ent])
			}},
		{"entra manager plain string", []map[string]any{op("Add", ent+":manager", "boss-1")},
			func(d map[string]any) error {
				m := d[ent].(map[string]any)["manager"].(map[string]any)
				return expect(m["value"] == "boss-1", "manager %v", m)
			}},
		{"whole extension URN as path", []map[string]any{op("add", ent, map[string]any{"costCenter": "CC1"})},
			func(d map[string]any) error {
				e := d[ent].(map[string]any)
				return expect(e["costCenter"] == "CC1" && e["department"] == "New", "enterprise %v", e)
			}},
		{"entra dotted keys without path", []map[string]any{op("replace", "", map[string]any{
			"name.familyName": "Dotted", ent + ":employeeNumber": "42", "displayName": "DN"})},
			func(d map[string]any) error {
				return expect(d["name"].(map[string]any)["familyName"] == "Dotted" && d[ent].(map[string]any)["employeeNumber"] == "42" &&
					d["displayName"] == "DN", "doc %v", d)
			}},
		{"okta id inside value tolerated", []map[string]any{op("replace", "", map[string]any{"id": id, "title": "T"})},
			func(d map[string]any) error { return expect(d["title"] == "T", "title %v", d["title"]) }},
		{"remove attribute", []map[string]any{op("remove", "title", nil), op("remove", "name.middleName", nil)},
			func(d map[string]any) error {
				return expect(d["title"] == nil && d["name"].(map[string]any)["middleName"] == nil, "doc %v", d)
			}},
		{"core URN path", []map[string]any{op("replace", "urn:ietf:params:scim:schemas:core:2.0:User:nickName", "Nick")},
			func(d map[string]any) error { return expect(d["nickName"] == "Nick", "nickName %v", d["nickName"]) }},
	}
	for _, st := range steps {
		status, doc, _ := s.Call(t, "PATCH", path, patchBody(st.ops...))
		if status != 200 {
			t.Fatalf("%s: status %d %v", st.name, status, doc)
		}
		if err := st.check(doc); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		// The answer is what is stored.
		_, stored, _ := s.Call(t, "GET", path, nil)
		if err := st.check(stored); err != nil {
			t.Fatalf("%s (stored): %v", st.name, err)
		}
	}
	// Password sync stores a hash, returns nothing.
	status, doc, _ := s.Call(t, "PATCH", path, patchBody(op("replace", "", map[string]any{"password": "N3w-passw0rd"})))
	want(t, status, 200, doc)
	if doc["password"] != nil {
		t.Fatal("password returned")
	}
	cur, _ := s.Store.GetUser(context.Background(), id)
	if ok, _ := auth.CheckPassword(cur.PasswordHash, "N3w-passw0rd"); !ok {
		t.Fatal("password not set")
	}
}

func expect(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf(format, args...)
}

func TestPatchUserErrorsAreAtomic(t *testing.T) {
	s := scimtest.Start(t)
	u := createUser(t, s, "atomic", map[string]any{"title": "Keep"})
	path := "/scim/v2/Users/" + str(u["id"])
	cases := []struct {
		name     string
		body     any
		status   int
		scimType string
	}{
		{"remove without path", patchBody(op("replace", "title", "Changed"), op("remove", "", nil)), 400, "noTarget"},
		{"unknown attribute", patchBody(op("replace", "title", "Changed"), op("replace", "nosuch", "x")), 400, "invalidPath"},
		{"read-only attribute", patchBody(op("replace", "title", "Changed"), op("replace", "id", "x")), 400, "mutability"},
		{"read-only groups", patchBody(op("add", "groups", []any{map[string]any{"value": "g"}})), 400, "mutability"},
		{"other id in value", patchBody(op("replace", "", map[string]any{"id": "someone-else", "title": "Changed"})), 400, "mutability"},
		{"bad filter", patchBody(op("replace", `emails[type eq]`, "x")), 400, "invalidPath"},
		{"wrong type", patchBody(op("replace", "title", "Changed"), op("replace", "active", "perhaps")), 400, "invalidValue"},
		{"bad op", patchBody(op("merge", "title", "x")), 400, "invalidSyntax"},
		{"no operations", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}}, 400, "invalidSyntax"},
		{"wrong schema", map[string]any{"schemas": []string{"urn:x"}, "Operations": []any{op("replace", "title", "x")}}, 400, "invalidSyntax"},
		{"empty userName", patchBody(op("replace", "userName", "")), 400, "invalidValue"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, doc, _ := s.Call(t, "PATCH", path, tc.body)
			wantError(t, status, doc, tc.status, tc.scimType)
		})
	}
	_, doc, h := s.Call(t, "GET", path, nil)
	if doc["title"] != "Keep" || h.Get("ETag") != `W/"1"` {
		t.Fatalf("a failed PATCH changed the user: %v %s", doc["title"], h.Get("ETag"))
	}
	status, doc, _ := s.Call(t, "PATCH", path, patchBody(op("replace", "title", "x")), "If-Match", `W/"9"`)
	wantError(t, status, doc, 412, "")
	status, doc, _ = s.Call(t, "PATCH", "/scim/v2/Users/missing", patchBody(op("replace", "title", "x")))
	wantError(t, status, doc, 404, "")
	createUser(t, s, "other", nil)
	status, doc, _ = s.Call(t, "PATCH", path, patchBody(op("replace", "userName", "OTHER")))
	wantError(t, status, doc, 409, "uniqueness")
}

func TestPatchGroup(t *testing.T) {
	s := scimtest.Start(t)
	var ids []string
	for i := 0; i < 4; i++ {
		ids = append(ids, str(createUser(t, s, fmt.Sprintf("m%d", i), nil)["id"]))
	}
	status, g, _ := s.Call(t, "POST", "/scim/v2/Groups", map[string]any{"displayName": "G", "members": []any{map[string]any{"value": ids[0]}}})
	want(t, status, 201, g)
	path := "/scim/v2/Groups/" + str(g["id"])
	members := func() []string {
		t.Helper()
		_, d, _ := s.Call(t, "GET", path, nil)
		var out []string
		for _, m := range asAnyList(d["members"]) {
			out = append(out, str(m.(map[string]any)["value"]))
		}
		return out
	}
	patch := func(wantStatus int, ops ...map[string]any) map[string]any {
		t.Helper()
		status, doc, _ := s.Call(t, "PATCH", path, patchBody(ops...))
		if status != wantStatus {
			t.Fatalf("PATCH %v: %d %v", ops, status, doc)
		}
		return doc
	}
	// Okta: add with display, adding a present member is a no-op; groups answer 204.
	patch(204, op("add", "members", []any{map[string]any{"value": ids[1], "display": "m1"}, map[string]any{"value": ids[0]}}))
	if got := members(); len(got) != 2 {
		t.Fatalf("after add: %v", got)
	}
	// Okta: remove by filter.
	patch(204, op("remove", fmt.Sprintf(`members[value eq "%s"]`, ids[0]), nil))
	if got := members(); len(got) != 1 || got[0] != ids[1] {
		t.Fatalf("after filtered remove: %v", got)
	}
	// Entra: add with $ref null, remove with a value list removes only those.
	patch(204, op("Add", "members", []any{map[string]any{"$ref": nil, "value": ids[2]}, map[string]any{"value": ids[3]}}))
	patch(204, op("Remove", "members", []any{map[string]any{"$ref": nil, "value": ids[2]}}))
	if got := members(); len(got) != 2 {
		t.Fatalf("Entra remove removed too much: %v", got)
	}
	// Okta rename with id inside the value; attributes asked → 200 with them.
	status, doc, _ := s.Call(t, "PATCH", path+"?attributes=displayName", patchBody(op("replace", "", map[string]any{"id": str(g["id"]), "displayName": "Renamed"})))
	if status != 200 || doc["displayName"] != "Renamed" || doc["members"] != nil {
		t.Fatalf("rename: %d %v", status, doc)
	}
	// Okta full push: replace members.
	patch(204, op("replace", "members", []any{map[string]any{"value": ids[0]}}))
	if got := members(); len(got) != 1 || got[0] != ids[0] {
		t.Fatalf("after replace: %v", got)
	}
	// Filters other than value eq still work.
	patch(204, op("add", "members", []any{map[string]any{"value": ids[1]}}))
	patch(204, op("remove", `members[display eq "m1" or display eq "nobody"]`, nil))
	if got := members(); len(got) != 1 || got[0] != ids[0] {
		t.Fatalf("after display filter: %v", got)
	}
	// Remove without value clears.
	patch(204, op("remove", "members", nil))
	if got := members(); len(got) != 0 {
		t.Fatalf("after clear: %v", got)
	}
	// Unknown member: 400, nothing written (the rename in the same request too).
	status, doc, _ = s.Call(t, "PATCH", path, patchBody(op("replace", "displayName", "Nope"), op("add", "members", []any{map[string]any{"value": "ghost"}})))
	wantError(t, status, doc, 400, "invalidValue")
	_, cur, _ := s.Call(t, "GET", path, nil)
	if cur["displayName"] != "Renamed" {
		t.Fatalf("failed PATCH renamed the group: %v", cur["displayName"])
	}
	status, doc, _ = s.Call(t, "PATCH", path, patchBody(op("replace", "displayName", "")))
	wantError(t, status, doc, 400, "invalidValue")
	status, doc, _ = s.Call(t, "PATCH", path, patchBody(op("replace", "members[value eq \"x\"].display", "y")))
	wantError(t, status, doc, 400, "mutability")
}

func TestPatchResponseConfigurable(t *testing.T) {
	s := scimtest.Start(t, func(o *scim.Options) { o.PatchResponse = "no-content" })
	u := createUser(t, s, "nc", nil)
	status, doc, h := s.Call(t, "PATCH", "/scim/v2/Users/"+str(u["id"]), patchBody(op("replace", "title", "x")))
	if status != 204 || doc != nil || h.Get("ETag") != `W/"2"` {
		t.Fatalf("no-content: %d %v %s", status, doc, h.Get("ETag"))
	}
}

func asAnyList(v any) []any { l, _ := v.([]any); return l }
