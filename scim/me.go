package scim

import (
	"cmp"
	"net/http"
	"slices"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/store"
)

// /Me (RFC 7644 §3.11) serves a token bound to a user: that user's own
// resource, and nothing else (Principal.MeOnly keeps such a token from every
// other endpoint). Through /Me the user reads itself and changes its own
// profile and password; what decides what it may do (roles, entitlements,
// groups, its active state, userName, externalId) is its provisioner's to
// change, never its own.

// me serves /Me for a token bound to a user.
func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	if p == nil || p.UserKey == 0 {
		return errorf(http.StatusNotImplemented, "", "/Me needs a token bound to a user (scimbridge token create --user NAME)")
	}
	if r.Method == http.MethodPost {
		return errorf(http.StatusNotImplemented, "", "POST /Me is not supported")
	}
	u, err := s.st.GetUserByKey(r.Context(), p.UserKey)
	if err != nil {
		if store.IsNotFound(err) {
			return errorf(http.StatusUnauthorized, "", "the user this token is bound to no longer exists")
		}
		return err
	}
	if !u.Active {
		// Whatever the authenticator: a deactivated user acts no more.
		return errorf(http.StatusUnauthorized, "", "the user this token is bound to is deactivated")
	}
	r = mux.SetURLVars(r, map[string]string{"id": u.ID})
	switch r.Method {
	case http.MethodGet:
		return s.getUser(w, r)
	case http.MethodPut:
		return s.replaceUser(w, r)
	case http.MethodPatch:
		return s.patchUser(w, r)
	}
	// DELETE: deleting itself would end what its provisioner decides.
	return errorf(http.StatusForbidden, "", "a /Me token cannot delete its user")
}

// keepSelfServiceAttributes is checkSelfService for a PUT: a body that
// leaves out roles, entitlements or externalId (a self-service client
// knows nothing of them) keeps them as they are; one that sends other
// values is refused.
func keepSelfServiceAttributes(r *http.Request, cur, next *store.User) error {
	if p := principalFrom(r.Context()); p == nil || !p.MeOnly() {
		return nil
	}
	if len(next.Roles) == 0 {
		next.Roles = cur.Roles
	}
	if len(next.Entitlements) == 0 {
		next.Entitlements = cur.Entitlements
	}
	if next.ExternalID == "" {
		next.ExternalID = cur.ExternalID
	}
	return checkSelfService(r, cur, next)
}

// checkSelfService refuses (403) a change through a /Me-scoped principal
// to an attribute that is not the user's to change. Groups are read-only
// on a User anyway.
func checkSelfService(r *http.Request, cur, next *store.User) error {
	if p := principalFrom(r.Context()); p == nil || !p.MeOnly() {
		return nil
	}
	for _, a := range []struct {
		name string
		same bool
	}{
		{"userName", cur.UserName == next.UserName},
		{"externalId", cur.ExternalID == next.ExternalID},
		{"active", cur.Active == next.Active},
		{"roles", sameValues(cur.Roles, next.Roles)},
		{"entitlements", sameValues(cur.Entitlements, next.Entitlements)},
	} {
		if !a.same {
			return errorf(http.StatusForbidden, "", "a /Me token cannot change %s", a.name)
		}
	}
	return nil
}

// sameValues compares two multi-valued attributes in any order.
func sameValues(a, b []store.Value) bool {
	if len(a) != len(b) {
		return false
	}
	order := func(x, y store.Value) int {
		return cmp.Or(cmp.Compare(x.Value, y.Value), cmp.Compare(x.Type, y.Type), cmp.Compare(x.Display, y.Display),
			cmp.Compare(boolInt(x.Primary), boolInt(y.Primary)))
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, order)
	slices.SortFunc(b, order)
	return slices.Equal(a, b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
