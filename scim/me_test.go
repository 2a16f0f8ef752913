package scim_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/scim/scimtest"
	"github.com/scimbridge/scimbridge/store"
)

const patchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// A token bound to a user reaches /Me only, and through it changes its
// profile and password but none of what its provisioner decides.
func TestMeScope(t *testing.T) {
	s := scimtest.Start(t)
	createUser(t, s, "other", nil)
	me := createUser(t, s, "bob", map[string]any{"displayName": "Bob", "externalId": "okta-bob",
		"roles":        []map[string]any{{"value": "viewer", "type": "app"}},
		"entitlements": []map[string]any{{"value": "billing"}}})
	stored, err := s.Store.GetUserByUserName(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	const token = "bob-me-token-0123456789"
	s.Tokens.Add(token, &scim.Principal{Name: "bob", UserKey: stored.Key, Scope: auth.ScopeSCIMMe})
	as := []string{"Authorization", "Bearer " + token}

	for _, c := range []struct{ method, path string }{
		{"GET", "/scim/v2/Users"}, {"GET", "/scim/v2/Users/" + str(me["id"])}, {"GET", "/scim/v2/Groups"},
		{"POST", "/scim/v2/Users"}, {"POST", "/scim/v2/Bulk"}, {"POST", "/scim/v2/.search"},
		{"DELETE", "/scim/v2/Users/" + str(me["id"])},
	} {
		status, doc, _ := s.Call(t, c.method, c.path, map[string]any{}, as...)
		wantError(t, status, doc, http.StatusForbidden, "")
	}
	status, doc, _ := s.Call(t, "GET", "/scim/v2/Me", nil, as...)
	want(t, status, http.StatusOK, doc)

	for name, value := range map[string]any{
		"roles":        []map[string]any{{"value": "admin", "type": store.RoleType}},
		"entitlements": []map[string]any{{"value": "everything"}},
		"active":       false,
		"userName":     "bobby",
		"externalId":   "okta-alice",
	} {
		status, doc, _ := s.Call(t, "PATCH", "/scim/v2/Me", map[string]any{"schemas": []string{patchOp},
			"Operations": []map[string]any{{"op": "replace", "path": name, "value": value}}}, as...)
		wantError(t, status, doc, http.StatusForbidden, "")
		// The same through a PUT of the whole resource.
		body := user("bob", map[string]any{"externalId": "okta-bob", name: value})
		status, doc, _ = s.Call(t, "PUT", "/scim/v2/Me", body, as...)
		wantError(t, status, doc, http.StatusForbidden, "")
	}
	status, doc, _ = s.Call(t, "PATCH", "/scim/v2/Me", map[string]any{"schemas": []string{patchOp},
		"Operations": []map[string]any{{"op": "remove", "path": "roles"}}}, as...)
	wantError(t, status, doc, http.StatusForbidden, "")
	status, doc, _ = s.Call(t, "DELETE", "/scim/v2/Me", nil, as...)
	wantError(t, status, doc, http.StatusForbidden, "")

	// The user's own profile and password are its own; a PUT that leaves
	// roles, entitlements and externalId out keeps them.
	status, doc, _ = s.Call(t, "PATCH", "/scim/v2/Me", map[string]any{"schemas": []string{patchOp},
		"Operations": []map[string]any{{"op": "replace", "path": "displayName", "value": "Robert"},
			{"op": "replace", "path": "password", "value": "a-new-password"}}}, as...)
	want(t, status, http.StatusOK, doc)
	status, doc, _ = s.Call(t, "PUT", "/scim/v2/Me", user("bob", map[string]any{"nickName": "Rob"}), as...)
	want(t, status, http.StatusOK, doc)
	after, err := s.Store.GetUser(context.Background(), str(me["id"]))
	if err != nil {
		t.Fatal(err)
	}
	if after.NickName != "Rob" || after.ExternalID != "okta-bob" || len(after.Roles) != 1 || len(after.Entitlements) != 1 || !after.Active {
		t.Fatalf("after self-service: %+v", after)
	}
}
