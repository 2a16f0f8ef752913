// Package reference is the in-memory SCIM server that scimbench compare
// measures scimbridge against: github.com/elimity-com/scim's protocol
// handling over a map, with no database, no authentication and no
// durability. It serves only what the compared workload needs (Users with
// the Enterprise extension: POST, GET, PUT, PATCH, DELETE, list with
// startIndex/count and filters), the way a small SCIM server built on that
// library would: filters are evaluated by the library over every user.
//
// It lives under the benchmark tool so that the scimbridge binary never
// links it.
package reference

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// New returns the reference server's handler, serving SCIM under /scim/v2.
func New() (http.Handler, error) {
	users := &users{byID: map[string]*user{}, byName: map[string]string{}}
	srv, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{MaxResults: 1000, SupportFiltering: true, SupportPatch: true},
		ResourceTypes: []scim.ResourceType{{
			ID:               optional.NewString("User"),
			Name:             "User",
			Endpoint:         "/Users",
			Schema:           schema.CoreUserSchema(),
			SchemaExtensions: []scim.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}},
			Handler:          users,
		}},
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim", srv))
	return mux, nil
}

type user struct {
	attrs   scim.ResourceAttributes
	created time.Time
	updated time.Time
	version int
}

// users is the map, guarded by one lock, with the ids in creation order so
// that startIndex pages are stable.
type users struct {
	mu     sync.RWMutex
	byID   map[string]*user
	byName map[string]string // lower-cased userName → id, for uniqueness
	order  []string          // ids in creation order
	next   int
}

func (h *users) resource(id string, u *user) scim.Resource {
	created, updated := u.created, u.updated
	var ext optional.String
	if e, ok := u.attrs["externalId"].(string); ok {
		ext = optional.NewString(e)
	}
	// The library writes id, schemas and meta into the map it is given.
	attrs := make(scim.ResourceAttributes, len(u.attrs)+3)
	for k, v := range u.attrs {
		attrs[k] = v
	}
	return scim.Resource{ID: id, ExternalID: ext, Attributes: attrs,
		Meta: scim.Meta{Created: &created, LastModified: &updated, Version: `W/"` + strconv.Itoa(u.version) + `"`}}
}

func userName(attrs scim.ResourceAttributes) string {
	s, _ := attrs["userName"].(string)
	return strings.ToLower(s)
}

// Create stores a new user; a taken userName is a 409.
func (h *users) Create(_ *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	name := userName(attrs)
	if _, taken := h.byName[name]; taken {
		return scim.Resource{}, scimerrors.ScimErrorUniqueness
	}
	h.next++
	id := fmt.Sprintf("%08x-ref", h.next)
	now := time.Now()
	u := &user{attrs: attrs, created: now, updated: now, version: 1}
	h.byID[id] = u
	h.byName[name] = id
	h.order = append(h.order, id)
	return h.resource(id, u), nil
}

// Get returns one user.
func (h *users) Get(_ *http.Request, id string) (scim.Resource, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	u, ok := h.byID[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return h.resource(id, u), nil
}

// GetAll pages through the users in creation order, evaluating the filter
// (if any) on each with the library's validator.
func (h *users) GetAll(r *http.Request, p scim.ListRequestParams) (scim.Page, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	page := scim.Page{Resources: []scim.Resource{}}
	start := max(p.StartIndex, 1)
	if p.FilterValidator == nil {
		// No filter: the page is a slice of the order.
		page.TotalResults = len(h.order)
		for i := start - 1; i >= 0 && i < len(h.order) && len(page.Resources) < p.Count; i++ {
			page.Resources = append(page.Resources, h.resource(h.order[i], h.byID[h.order[i]]))
		}
		return page, nil
	}
	for i, id := range h.order {
		// A scan whose client went away stops, as a server should:
		// otherwise it runs on, on the core the next measurement uses.
		if i%1024 == 0 && r.Context().Err() != nil {
			return scim.Page{}, r.Context().Err()
		}
		u := h.byID[id]
		if p.FilterValidator != nil {
			if err := p.FilterValidator.PassesFilter(u.attrs); err != nil {
				continue
			}
		}
		page.TotalResults++
		if page.TotalResults >= start && len(page.Resources) < p.Count {
			page.Resources = append(page.Resources, h.resource(id, u))
		}
	}
	return page, nil
}

// Replace replaces all attributes of a user.
func (h *users) Replace(_ *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u, ok := h.byID[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	old, name := userName(u.attrs), userName(attrs)
	if other, taken := h.byName[name]; taken && other != id {
		return scim.Resource{}, scimerrors.ScimErrorUniqueness
	}
	delete(h.byName, old)
	h.byName[name] = id
	u.attrs, u.updated = attrs, time.Now()
	u.version++
	return h.resource(id, u), nil
}

// Delete removes a user.
func (h *users) Delete(_ *http.Request, id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	u, ok := h.byID[id]
	if !ok {
		return scimerrors.ScimErrorResourceNotFound(id)
	}
	delete(h.byName, userName(u.attrs))
	delete(h.byID, id)
	h.order = slices.DeleteFunc(h.order, func(o string) bool { return o == id })
	return nil
}

// Patch applies add and replace operations of top-level attributes (with a
// path, or a value object without one) and removes; enough for Okta's and
// Entra's deactivation and attribute changes.
func (h *users) Patch(_ *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u, ok := h.byID[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	// Copy before changing, so that a response being encoded for an
	// earlier request never sees a map being written.
	attrs := make(scim.ResourceAttributes, len(u.attrs)+1)
	for k, v := range u.attrs {
		attrs[k] = v
	}
	for _, op := range ops {
		switch strings.ToLower(op.Op) {
		case scim.PatchOperationAdd, scim.PatchOperationReplace:
			if op.Path != nil {
				attrs[op.Path.String()] = op.Value
				continue
			}
			values, ok := op.Value.(map[string]interface{})
			if !ok {
				return scim.Resource{}, scimerrors.ScimErrorInvalidValue
			}
			for k, v := range values {
				attrs[k] = v
			}
		case scim.PatchOperationRemove:
			if op.Path != nil {
				delete(attrs, op.Path.String())
			}
		}
	}
	u.attrs, u.updated = attrs, time.Now()
	u.version++
	return h.resource(id, u), nil
}
