package scim

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/store"
)

// The discovery endpoints (RFC 7644 §4) tell the truth about what this
// server does; the conformance suites and IdPs read them.

func (s *Server) serviceProviderConfig(w http.ResponseWriter, r *http.Request) error {
	base := baseFrom(r.Context())
	doc := map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": "https://github.com/scimbridge/scimbridge",
		"patch":            map[string]any{"supported": true},
		"bulk": map[string]any{
			"supported": true, "maxOperations": s.opts.BulkMaxOperations, "maxPayloadSize": s.opts.BulkMaxPayload,
		},
		"filter":         map[string]any{"supported": true, "maxResults": s.opts.MaxPageSize},
		"changePassword": map[string]any{"supported": true},
		"sort":           map[string]any{"supported": true},
		"etag":           map[string]any{"supported": true},
		"authenticationSchemes": []map[string]any{{
			"type": "oauthbearertoken", "name": "OAuth Bearer Token", "primary": true,
			"description": "Authentication with a bearer token issued by scimbridge (scimbridge token create).",
			"specUri":     "https://www.rfc-editor.org/rfc/rfc6750",
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": base + "/ServiceProviderConfig"},
	}
	if s.opts.AdvertisePagination {
		// RFC 9865 §4. Cursors work without it; a client that reads the
		// RFC 7643 §5 schema strictly rejects the unknown attribute, so it
		// is advertised only when configured.
		doc["pagination"] = map[string]any{
			"cursor": true, "index": true, "defaultPaginationMethod": "index",
			"defaultPageSize": s.opts.DefaultPageSize, "maxPageSize": s.opts.MaxPageSize,
		}
	}
	return writeJSON(w, http.StatusOK, doc)
}

func (s *Server) resourceTypeDocs(base string) []any {
	return []any{
		map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"},
			"id":      "User", "name": "User", "endpoint": "/Users", "description": "User Account",
			"schema": userSchema.coreURN,
			"schemaExtensions": []map[string]any{{
				"schema": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "required": false,
			}},
			"meta": map[string]any{"resourceType": "ResourceType", "location": base + "/ResourceTypes/User"},
		},
		map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"},
			"id":      "Group", "name": "Group", "endpoint": "/Groups", "description": "Group",
			"schema":           groupSchema.coreURN,
			"schemaExtensions": []map[string]any{},
			"meta":             map[string]any{"resourceType": "ResourceType", "location": base + "/ResourceTypes/Group"},
		},
	}
}

func listOf(items []any) *listResponse {
	return &listResponse{Schemas: []string{listResponseSchema}, TotalResults: len(items), ItemsPerPage: len(items), StartIndex: 1, Resources: items}
}

func (s *Server) resourceTypes(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, listOf(s.resourceTypeDocs(baseFrom(r.Context()))))
}

func (s *Server) resourceType(w http.ResponseWriter, r *http.Request) error {
	id := mux.Vars(r)["id"]
	for _, d := range s.resourceTypeDocs(baseFrom(r.Context())) {
		if strings.EqualFold(d.(map[string]any)["id"].(string), id) {
			return writeJSON(w, http.StatusOK, d)
		}
	}
	return errorf(http.StatusNotFound, "", "no resource type %q", id)
}

func schemaDocs(base string) []any {
	var out []any
	for _, rs := range []*resourceSchema{userSchema, groupSchema} {
		for _, sc := range rs.raw {
			m := sc.ToMap()
			if sc.ID == store.GroupSchema {
				membersDisplayReadOnly(m)
			}
			m["meta"] = map[string]any{"resourceType": "Schema", "location": base + "/Schemas/" + sc.ID}
			out = append(out, m)
		}
	}
	return out
}

func (s *Server) schemas(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, listOf(schemaDocs(baseFrom(r.Context()))))
}

func (s *Server) schemaByID(w http.ResponseWriter, r *http.Request) error {
	id := mux.Vars(r)["id"]
	for _, d := range schemaDocs(baseFrom(r.Context())) {
		if strings.EqualFold(d.(map[string]any)["id"].(string), id) {
			return writeJSON(w, http.StatusOK, d)
		}
	}
	return errorf(http.StatusNotFound, "", "no schema %q", id)
}

// membersDisplayReadOnly marks Group members' display readOnly in a
// served schema: the server answers it from the member's current name, as
// RFC 7643 §2.4 defines display for multi-valued attributes ("READ-ONLY")
// and §8.7.1 lists it for no client to set.
func membersDisplayReadOnly(schemaDoc map[string]any) {
	attrs, _ := schemaDoc["attributes"].([]map[string]any)
	for _, a := range attrs {
		if a["name"] != "members" {
			continue
		}
		subs, _ := a["subAttributes"].([]map[string]any)
		for _, sub := range subs {
			if sub["name"] == "display" {
				sub["mutability"] = "readOnly"
			}
		}
	}
}
