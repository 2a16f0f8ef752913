package scim

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/store"
)

// writeResource writes one resource with its ETag and, for a new one, its
// Location.
func writeResource(w http.ResponseWriter, status int, version int64, location string, body any) error {
	w.Header().Set("ETag", etag(version))
	if status == http.StatusCreated {
		w.Header().Set("Location", location)
	}
	return writeJSON(w, status, body)
}

func singleProjection(r *http.Request, rs *resourceSchema) (*projection, error) {
	q := r.URL.Query()
	p, err := parseProjection(rs, q.Get("attributes"), q.Get("excludedAttributes"))
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	proj, err := singleProjection(r, userSchema)
	if err != nil {
		return err
	}
	u, err := s.st.GetUser(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	if notModified(w, r, u.Meta.Version) {
		return nil
	}
	return writeResource(w, http.StatusOK, u.Meta.Version, "", project(proj, renderUser(u, baseFrom(r.Context()))))
}

// decodeUser reads and validates a User body; the password comes back
// hashed.
func (s *Server) decodeUser(w http.ResponseWriter, r *http.Request) (*store.User, error) {
	raw, err := s.readBody(w, r, s.opts.MaxBody)
	if err != nil {
		return nil, err
	}
	doc, serr := canonicalize(userSchema, raw)
	if serr != nil {
		return nil, serr
	}
	u, pw, serr := userFromDoc(doc)
	if serr != nil {
		return nil, serr
	}
	if u.PasswordHash, err = hashPassword(pw); err != nil {
		return nil, err
	}
	u.NewPassword = store.Secret(pw) // for directory write-back, which seals it
	return u, nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	proj, err := singleProjection(r, userSchema)
	if err != nil {
		return err
	}
	u, err := s.decodeUser(w, r)
	if err != nil {
		return err
	}
	if err := s.st.Write(r.Context(), actor(r), func(tx store.Tx) error { return tx.CreateUser(r.Context(), u) }); err != nil {
		return err
	}
	base := baseFrom(r.Context())
	return writeResource(w, http.StatusCreated, u.Meta.Version, base+"/Users/"+u.ID, project(proj, renderUser(u, base)))
}

// replaceUser is PUT: the body replaces every writable attribute. The
// password and the directory link stay unless the body sets a password.
func (s *Server) replaceUser(w http.ResponseWriter, r *http.Request) error {
	proj, err := singleProjection(r, userSchema)
	if err != nil {
		return err
	}
	next, err := s.decodeUser(w, r)
	if err != nil {
		return err
	}
	var out *store.User
	err = s.st.Write(r.Context(), actor(r), func(tx store.Tx) error {
		out, err = tx.UpdateUser(r.Context(), mux.Vars(r)["id"], func(u *store.User) error {
			if err := checkIfMatch(r, u.Meta.Version); err != nil {
				return err
			}
			if err := keepSelfServiceAttributes(r, u, next); err != nil {
				return err
			}
			replaceUser(u, next)
			return nil
		})
		return err
	})
	if err != nil {
		return err
	}
	return writeResource(w, http.StatusOK, out.Meta.Version, "", project(proj, renderUser(out, baseFrom(r.Context()))))
}

// replaceUser makes u the client's next version of it. The password stays
// unless next sets one, and the directory link is not the client's to change.
func replaceUser(u, next *store.User) {
	pw, src, srcPw := u.PasswordHash, u.Source, u.SourcePasswordChanged
	*u = *next
	if u.PasswordHash == "" {
		u.PasswordHash = pw
	}
	u.Source, u.SourcePasswordChanged = src, srcPw
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	id := mux.Vars(r)["id"]
	err := s.st.Write(r.Context(), actor(r), func(tx store.Tx) error {
		if r.Header.Get("If-Match") != "" {
			u, err := tx.GetUser(r.Context(), id)
			if err != nil {
				return err
			}
			if err := checkIfMatch(r, u.Meta.Version); err != nil {
				return err
			}
		}
		return tx.DeleteUser(r.Context(), id)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
