package scim_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"testing"

	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/scim/scimtest"
)

// Round trips: what a client sends within the schema comes back as sent.

// multiValued is one entry with primary true and one with primary false
// for every multi-valued attribute of the User schema that has primary.
var multiValued = map[string]any{
	"emails": []any{
		map[string]any{"value": "ann@work.example", "display": "Ann at work", "type": "work", "primary": true},
		map[string]any{"value": "ann@home.example", "type": "home", "primary": false},
	},
	"phoneNumbers": []any{
		map[string]any{"value": "tel:+47-1", "type": "work", "primary": false},
		map[string]any{"value": "tel:+47-2", "type": "mobile", "primary": true},
	},
	"ims": []any{
		map[string]any{"value": "ann@xmpp", "type": "xmpp", "primary": true},
		map[string]any{"value": "ann-skype", "type": "skype", "primary": false},
	},
	"photos": []any{
		map[string]any{"value": "https://photos.example/ann.jpg", "type": "photo", "primary": true},
		map[string]any{"value": "https://photos.example/ann-t.jpg", "type": "thumbnail", "primary": false},
	},
	"addresses": []any{
		map[string]any{"type": "work", "streetAddress": "1 Main St", "locality": "Oslo", "postalCode": "0150",
			"country": "NO", "formatted": "1 Main St\n0150 Oslo", "region": "Oslo", "primary": true},
		map[string]any{"type": "home", "locality": "Bergen", "primary": false},
	},
	"entitlements": []any{
		map[string]any{"value": "e1", "display": "Entitlement one", "type": "t", "primary": false},
		map[string]any{"value": "e2", "primary": true},
	},
	"roles": []any{
		map[string]any{"value": "admin", "display": "Administrator", "type": "app", "primary": true},
		map[string]any{"value": "reader", "primary": false},
	},
	"x509Certificates": []any{
		map[string]any{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx", "primary": false},
		map[string]any{"value": "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", "display": "second", "primary": true},
	},
}

func sameJSON(a, b any) bool {
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	var x, y any
	_ = json.Unmarshal(ab, &x)
	_ = json.Unmarshal(bb, &y)
	return reflect.DeepEqual(x, y)
}

func wantAttrs(t *testing.T, what string, doc map[string]any, attrs map[string]any) {
	t.Helper()
	for name, sent := range attrs {
		if !sameJSON(doc[name], sent) {
			t.Errorf("%s: %s came back as %v, sent %v", what, name, doc[name], sent)
		}
	}
}

func TestPrimaryFalseAndSubAttributesComeBackAsSent(t *testing.T) {
	s := scimtest.Start(t)
	created := createUser(t, s, "ann", multiValued)
	id := created["id"].(string)
	wantAttrs(t, "POST answer", created, multiValued)
	_, got, _ := s.Call(t, "GET", "/scim/v2/Users/"+id, nil)
	wantAttrs(t, "GET", got, multiValued)

	// PUT keeps them as sent too.
	status, put, _ := s.Call(t, "PUT", "/scim/v2/Users/"+id, user("ann", multiValued))
	want(t, status, 200, put)
	wantAttrs(t, "PUT answer", put, multiValued)

	// So does PATCH: add a value with primary false, replace one's flag.
	status, doc, _ := s.Call(t, "PATCH", "/scim/v2/Users/"+id, patchBody(
		op("add", "emails", []any{map[string]any{"value": "ann@other.example", "type": "other", "primary": false}}),
		op("replace", `roles[value eq "reader"].primary`, false),
		op("add", "ims", []any{map[string]any{"value": "ann-icq", "type": "icq", "primary": false}}),
	))
	want(t, status, 200, doc)
	emails := asAnyList(doc["emails"])
	if len(emails) != 3 || !sameJSON(emails[2], map[string]any{"value": "ann@other.example", "type": "other", "primary": false}) {
		t.Errorf("emails after PATCH add: %v", emails)
	}
	if !sameJSON(doc["roles"], multiValued["roles"]) {
		t.Errorf("roles after PATCH: %v", doc["roles"])
	}
	if ims := asAnyList(doc["ims"]); len(ims) != 3 || ims[2].(map[string]any)["primary"] != false {
		t.Errorf("ims after PATCH add: %v", ims)
	}
	// A value without primary stays without it.
	created = createUser(t, s, "bob", map[string]any{"emails": []any{map[string]any{"value": "bob@x.example"}}})
	if e := asAnyList(created["emails"])[0].(map[string]any); len(e) != 1 {
		t.Errorf("an e-mail sent with value only came back as %v", e)
	}
}

func TestDuplicateValuesAreMerged(t *testing.T) {
	s := scimtest.Start(t)
	doc := createUser(t, s, "dup", map[string]any{
		"emails": []any{
			map[string]any{"type": "work", "value": "dup@example.com"},
			map[string]any{"type": "work", "value": "DUP@example.com", "primary": true, "display": "Dup"},
			map[string]any{"type": "home", "value": "dup@example.com"},
		},
		"roles": []any{map[string]any{"value": "a"}, map[string]any{"value": "a"}},
		"addresses": []any{
			map[string]any{"type": "work", "locality": "Oslo"},
			map[string]any{"type": "work", "locality": "Oslo", "primary": true},
		},
	})
	wantEmails := []any{
		map[string]any{"type": "work", "value": "dup@example.com", "primary": true, "display": "Dup"},
		map[string]any{"type": "home", "value": "dup@example.com"},
	}
	if !sameJSON(doc["emails"], wantEmails) {
		t.Errorf("emails %v, want %v", doc["emails"], wantEmails)
	}
	if !sameJSON(doc["roles"], []any{map[string]any{"value": "a"}}) {
		t.Errorf("roles %v", doc["roles"])
	}
	if !sameJSON(doc["addresses"], []any{map[string]any{"type": "work", "locality": "Oslo", "primary": true}}) {
		t.Errorf("addresses %v", doc["addresses"])
	}
}

func TestRemovedActiveIsAbsentAndInactive(t *testing.T) {
	s := scimtest.Start(t)
	id := createUser(t, s, "gone", nil)["id"].(string)
	status, doc, _ := s.Call(t, "PATCH", "/scim/v2/Users/"+id, patchBody(op("remove", "active", nil)))
	want(t, status, 200, doc)
	if _, has := doc["active"]; has {
		t.Fatalf("active after PATCH remove: %v", doc["active"])
	}
	_, doc, _ = s.Call(t, "GET", "/scim/v2/Users/"+id, nil)
	if _, has := doc["active"]; has {
		t.Fatalf("active on GET after removal: %v", doc["active"])
	}
	// It reads as not active: the filter and the store say so.
	_, list, _ := s.Call(t, "GET", "/scim/v2/Users?filter="+url.QueryEscape(`active eq false`), nil)
	if list["totalResults"] != float64(1) {
		t.Errorf("active eq false after removal: %v", list)
	}
	// Another PATCH leaves it removed; setting it again brings it back.
	_, doc, _ = s.Call(t, "PATCH", "/scim/v2/Users/"+id, patchBody(op("replace", "title", "Eng")))
	if _, has := doc["active"]; has || doc["title"] != "Eng" {
		t.Fatalf("after an unrelated PATCH: %v", doc)
	}
	_, doc, _ = s.Call(t, "PATCH", "/scim/v2/Users/"+id, patchBody(op("replace", "active", true)))
	if doc["active"] != true {
		t.Fatalf("active after replace true: %v", doc["active"])
	}
}

func TestExtensionPatchValueWithSchemas(t *testing.T) {
	s := scimtest.Start(t)
	id := createUser(t, s, "ext", nil)["id"].(string)
	for _, o := range []string{"add", "replace"} {
		status, doc, _ := s.Call(t, "PATCH", "/scim/v2/Users/"+id, patchBody(op(o, ent, map[string]any{
			"schemas": []any{ent}, "department": "Dept-" + o, "manager": map[string]any{"value": "m-1"},
		})))
		want(t, status, 200, doc)
		e, _ := doc[ent].(map[string]any)
		if e["department"] != "Dept-"+o || e["manager"].(map[string]any)["value"] != "m-1" {
			t.Fatalf("%s with schemas in the value: %v", o, doc)
		}
	}
}

func TestMemberTypeHintCorrected(t *testing.T) {
	s := scimtest.Start(t)
	uid := createUser(t, s, "member", map[string]any{"displayName": "Mem Ber"})["id"].(string)
	status, sub, _ := s.Call(t, "POST", "/scim/v2/Groups", map[string]any{"displayName": "sub"})
	want(t, status, 201, sub)
	status, g, _ := s.Call(t, "POST", "/scim/v2/Groups", map[string]any{"displayName": "top",
		"members": []any{map[string]any{"value": uid, "type": "Group"}}})
	want(t, status, 201, g)
	gid := g["id"].(string)
	status, doc, _ := s.Call(t, "PATCH", "/scim/v2/Groups/"+gid+"?attributes=members", patchBody(
		op("add", "members", []any{map[string]any{"value": sub["id"], "type": "User"}})))
	want(t, status, 200, doc)
	members := asAnyList(doc["members"])
	if len(members) != 2 || members[0].(map[string]any)["type"] != "User" || members[1].(map[string]any)["type"] != "Group" {
		t.Fatalf("members %v", members)
	}
}

// A member's display is the server's (RFC 7643 §2.4: READ-ONLY), from the
// member's current name, and /Schemas says so.
func TestMemberDisplayIsReadOnly(t *testing.T) {
	s := scimtest.Start(t)
	uid := createUser(t, s, "m", map[string]any{"displayName": "Real Name"})["id"].(string)
	status, g, _ := s.Call(t, "POST", "/scim/v2/Groups", map[string]any{"displayName": "g",
		"members": []any{map[string]any{"value": uid, "display": "Client Name"}}})
	want(t, status, 201, g)
	if d := asAnyList(g["members"])[0].(map[string]any)["display"]; d != "Real Name" {
		t.Errorf("member display %v", d)
	}
	_, schema, _ := s.Call(t, "GET", "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", nil)
	for _, a := range asAnyList(schema["attributes"]) {
		if a.(map[string]any)["name"] != "members" {
			continue
		}
		for _, sub := range asAnyList(a.(map[string]any)["subAttributes"]) {
			if sub.(map[string]any)["name"] == "display" && sub.(map[string]any)["mutability"] != "readOnly" {
				t.Errorf("members.display is %v in /Schemas", sub.(map[string]any)["mutability"])
			}
		}
	}
}

func TestRootQueryAcrossResourceTypes(t *testing.T) {
	s := scimtest.Start(t)
	createUser(t, s, "root-user", map[string]any{"displayName": "Shared Name"})
	status, g, _ := s.Call(t, "POST", "/scim/v2/Groups", map[string]any{"displayName": "Shared Name"})
	want(t, status, 201, g)
	for _, path := range []string{"/scim/v2/", "/scim/v2"} {
		status, doc, _ := s.Call(t, "GET", path+"?filter="+url.QueryEscape(`displayName eq "Shared Name"`), nil)
		want(t, status, 200, doc)
		if doc["totalResults"] != float64(2) || len(asAnyList(doc["Resources"])) != 2 {
			t.Fatalf("GET %s?filter: %v", path, doc)
		}
	}
	_, doc, _ := s.Call(t, "GET", "/scim/v2/?filter="+url.QueryEscape(`userName eq "root-user"`), nil)
	if doc["totalResults"] != float64(1) {
		t.Fatalf("userName at the root: %v", doc)
	}
	status, doc, _ = s.Call(t, "GET", "/scim/v2/?filter="+url.QueryEscape(`userName eq`), nil)
	wantError(t, status, doc, 400, "invalidFilter")
	status, doc, _ = s.Call(t, "GET", "/scim/v2/", nil, "Authorization", "Bearer wrong")
	wantError(t, status, doc, 401, "")
}

func TestPaginationAdvertisedOnlyWhenConfigured(t *testing.T) {
	s := scimtest.Start(t)
	_, spc, _ := s.Call(t, "GET", "/scim/v2/ServiceProviderConfig", nil)
	if _, has := spc["pagination"]; has {
		t.Fatalf("pagination advertised by default: %v", spc["pagination"])
	}
	// Cursors are served all the same.
	createUser(t, s, "c1", nil)
	createUser(t, s, "c2", nil)
	_, page, _ := s.Call(t, "GET", "/scim/v2/Users?cursor=&count=1", nil)
	if page["nextCursor"] == nil {
		t.Fatalf("no cursor paging without the advertisement: %v", page)
	}
	on := scimtest.Start(t, func(o *scim.Options) { o.AdvertisePagination = true })
	_, spc, _ = on.Call(t, "GET", "/scim/v2/ServiceProviderConfig", nil)
	if p, _ := spc["pagination"].(map[string]any); p["cursor"] != true {
		t.Fatalf("pagination with AdvertisePagination: %v", spc["pagination"])
	}
}

// Entra versus RFC 7644 §3.5.2.3: a replace whose value filter matches
// nothing adds the entry for Entra, and is noTarget for strict clients.
func TestReplaceUnmatchedFilterByCompatMode(t *testing.T) {
	// Each server's users get addresses of their own: an e-mail address
	// belongs to one user.
	n := 0
	var replace map[string]any
	var address string
	next := func() {
		n++
		address = fmt.Sprintf("new%d@work.example", n)
		replace = patchBody(op("replace", `emails[type eq "work"].value`, address))
	}
	adds := func(t *testing.T, s *scimtest.Server, token string) {
		t.Helper()
		next()
		id := createUser(t, s, "u-"+token, nil)["id"].(string)
		status, doc, _ := s.Call(t, "PATCH", "/scim/v2/Users/"+id, replace, "Authorization", "Bearer "+token)
		want(t, status, 200, doc)
		if !sameJSON(doc["emails"], []any{map[string]any{"type": "work", "value": address}}) {
			t.Fatalf("emails %v", doc["emails"])
		}
	}
	noTarget := func(t *testing.T, s *scimtest.Server, token string) {
		t.Helper()
		next()
		id := createUser(t, s, "u-"+token, nil)["id"].(string)
		status, doc, _ := s.Call(t, "PATCH", "/scim/v2/Users/"+id, replace, "Authorization", "Bearer "+token)
		wantError(t, status, doc, 400, "noTarget")
		_, doc, _ = s.Call(t, "GET", "/scim/v2/Users/"+id, nil)
		if doc["emails"] != nil || doc["meta"].(map[string]any)["version"] != `W/"1"` {
			t.Fatalf("a refused PATCH wrote: %v", doc)
		}
		// A replace whose filter matches still replaces.
		s.Call(t, "PATCH", "/scim/v2/Users/"+id, patchBody(op("add", "emails", []any{map[string]any{"type": "work", "value": "a@w"}})))
		status, doc, _ = s.Call(t, "PATCH", "/scim/v2/Users/"+id, replace, "Authorization", "Bearer "+token)
		want(t, status, 200, doc)
		if !sameJSON(doc["emails"], []any{map[string]any{"type": "work", "value": address}}) {
			t.Fatalf("emails %v", doc["emails"])
		}
	}
	entra := scimtest.Start(t)
	entra.Tokens.Add("strict-token", &scim.Principal{Name: "strict", Compat: scim.CompatStrict})
	t.Run("entra default", func(t *testing.T) { adds(t, entra, scimtest.Token) })
	t.Run("strict token on an entra server", func(t *testing.T) { noTarget(t, entra, "strict-token") })

	strict := scimtest.Start(t, func(o *scim.Options) { o.Compat = scim.CompatStrict })
	strict.Tokens.Add("entra-token", &scim.Principal{Name: "entra", Compat: scim.CompatEntra})
	t.Run("strict server", func(t *testing.T) { noTarget(t, strict, scimtest.Token) })
	t.Run("entra token on a strict server", func(t *testing.T) { adds(t, strict, "entra-token") })
}

// Two identity providers provision into one store, each matching people by
// its own externalId (RFC 7643 §3.1).
func TestProvisioningDomains(t *testing.T) {
	s := scimtest.Start(t)
	s.Tokens.Add("okta-token", &scim.Principal{Name: "okta", Domain: "okta"})
	s.Tokens.Add("entra-token", &scim.Principal{Name: "entra", Domain: "entra"})
	as := func(token string) []string { return []string{"Authorization", "Bearer " + token} }
	create := func(token, userName, ext string) string {
		t.Helper()
		status, doc, _ := s.Call(t, "POST", "/scim/v2/Users", user(userName, map[string]any{"externalId": ext}), as(token)...)
		want(t, status, 201, doc)
		return doc["id"].(string)
	}
	find := func(token, ext string) []string {
		t.Helper()
		_, doc, _ := s.Call(t, "GET", "/scim/v2/Users?filter="+url.QueryEscape(`externalId eq "`+ext+`"`), nil, as(token)...)
		var ids []string
		for _, r := range asAnyList(doc["Resources"]) {
			ids = append(ids, r.(map[string]any)["id"].(string))
		}
		return ids
	}
	// The same externalId on different users, one per domain.
	ann := create("okta-token", "ann", "00u-same")
	bob := create("entra-token", "bob", "00u-same")
	if got := find("okta-token", "00u-same"); !reflect.DeepEqual(got, []string{ann}) {
		t.Errorf("okta finds %v, want ann", got)
	}
	if got := find("entra-token", "00u-same"); !reflect.DeepEqual(got, []string{bob}) {
		t.Errorf("entra finds %v, want bob", got)
	}
	if got := find(scimtest.Token, "00u-same"); len(got) != 0 {
		t.Errorf("the default domain finds %v", got)
	}
	// One user with two externalIds: entra provisions ann too.
	status, doc, _ := s.Call(t, "PATCH", "/scim/v2/Users/"+ann, patchBody(op("add", "externalId", "8aa1-ann")), as("entra-token")...)
	want(t, status, 200, doc)
	if doc["externalId"] != "8aa1-ann" {
		t.Fatalf("entra's answer: %v", doc["externalId"])
	}
	for token, want := range map[string]any{"okta-token": "00u-same", "entra-token": "8aa1-ann", scimtest.Token: nil} {
		if _, doc, _ := s.Call(t, "GET", "/scim/v2/Users/"+ann, nil, as(token)...); doc["externalId"] != want {
			t.Errorf("%s reads ann's externalId %v, want %v", token, doc["externalId"], want)
		}
	}
	if got := find("entra-token", "8aa1-ann"); !reflect.DeepEqual(got, []string{ann}) {
		t.Errorf("entra finds %v by its own externalId of ann", got)
	}
	if got := find("okta-token", "8aa1-ann"); len(got) != 0 {
		t.Errorf("okta finds %v by entra's externalId", got)
	}
	// Okta's PUT without externalId clears okta's only.
	status, doc, _ = s.Call(t, "PUT", "/scim/v2/Users/"+ann, user("ann", nil), as("okta-token")...)
	want(t, status, 200, doc)
	if _, doc, _ := s.Call(t, "GET", "/scim/v2/Users/"+ann, nil, as("entra-token")...); doc["externalId"] != "8aa1-ann" {
		t.Errorf("entra's externalId after okta's PUT: %v", doc["externalId"])
	}
	// Searches and groups are scoped too.
	status, doc, _ = s.Call(t, "POST", "/scim/v2/.search", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "filter": `externalId eq "00u-same"`}, as("entra-token")...)
	want(t, status, 200, doc)
	if doc["totalResults"] != float64(1) {
		t.Errorf("entra's .search: %v", doc)
	}
	status, g, _ := s.Call(t, "POST", "/scim/v2/Groups", map[string]any{"displayName": "Eng", "externalId": "okta-g"}, as("okta-token")...)
	want(t, status, 201, g)
	status, g2, _ := s.Call(t, "POST", "/scim/v2/Groups", map[string]any{"displayName": "Ops", "externalId": "okta-g"}, as("entra-token")...)
	want(t, status, 201, g2)
	if _, doc, _ := s.Call(t, "GET", "/scim/v2/Groups/"+g["id"].(string), nil, as("entra-token")...); doc["externalId"] != nil {
		t.Errorf("entra sees okta's group externalId %v", doc["externalId"])
	}
	_, doc, _ = s.Call(t, "GET", "/scim/v2/Groups?filter="+url.QueryEscape(`externalId eq "okta-g"`), nil, as("okta-token")...)
	if res := asAnyList(doc["Resources"]); len(res) != 1 || res[0].(map[string]any)["id"] != g["id"] {
		t.Errorf("okta's group filter: %v", doc)
	}
}
