package scim

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/store"
)

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	proj, err := singleProjection(r, groupSchema)
	if err != nil {
		return err
	}
	// excludedAttributes=members must not read a single member row.
	g, err := s.st.GetGroup(r.Context(), mux.Vars(r)["id"], proj.wants("members"))
	if err != nil {
		return err
	}
	if notModified(w, r, g.Meta.Version) {
		return nil
	}
	return writeResource(w, http.StatusOK, g.Meta.Version, "", project(proj, renderGroup(g, baseFrom(r.Context()))))
}

func (s *Server) decodeGroup(w http.ResponseWriter, r *http.Request) (*store.Group, []store.MemberRef, error) {
	raw, err := s.readBody(w, r, s.opts.MaxBody)
	if err != nil {
		return nil, nil, err
	}
	doc, serr := canonicalize(groupSchema, raw)
	if serr != nil {
		return nil, nil, serr
	}
	g, refs, serr := groupFromDoc(doc)
	if serr != nil {
		return nil, nil, serr
	}
	return g, refs, nil
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) error {
	proj, err := singleProjection(r, groupSchema)
	if err != nil {
		return err
	}
	g, refs, err := s.decodeGroup(w, r)
	if err != nil {
		return err
	}
	err = s.st.Write(r.Context(), actor(r), func(tx store.Tx) error {
		if err := tx.CreateGroup(r.Context(), g); err != nil {
			return err
		}
		if len(refs) == 0 {
			g.Members = []store.Member{}
			return nil
		}
		if _, err := tx.AddMembers(r.Context(), g.ID, refs); err != nil {
			return err
		}
		created, err := tx.GetGroup(r.Context(), g.ID, true)
		if err == nil {
			*g = *created
		}
		return err
	})
	if err != nil {
		return err
	}
	base := baseFrom(r.Context())
	return writeResource(w, http.StatusCreated, g.Meta.Version, base+"/Groups/"+g.ID, project(proj, renderGroup(g, base)))
}

func (s *Server) replaceGroup(w http.ResponseWriter, r *http.Request) error {
	proj, err := singleProjection(r, groupSchema)
	if err != nil {
		return err
	}
	next, refs, err := s.decodeGroup(w, r)
	if err != nil {
		return err
	}
	id := mux.Vars(r)["id"]
	var out *store.Group
	err = s.st.Write(r.Context(), actor(r), func(tx store.Tx) error {
		if _, err := tx.UpdateGroup(r.Context(), id, func(g *store.Group) error {
			if err := checkIfMatch(r, g.Meta.Version); err != nil {
				return err
			}
			g.DisplayName, g.ExternalID = next.DisplayName, next.ExternalID
			return nil
		}); err != nil {
			return err
		}
		if err := tx.SetMembers(r.Context(), id, refs); err != nil {
			return err
		}
		out, err = tx.GetGroup(r.Context(), id, proj.wants("members"))
		return err
	})
	if err != nil {
		return err
	}
	return writeResource(w, http.StatusOK, out.Meta.Version, "", project(proj, renderGroup(out, baseFrom(r.Context()))))
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	id := mux.Vars(r)["id"]
	err := s.st.Write(r.Context(), actor(r), func(tx store.Tx) error {
		if r.Header.Get("If-Match") != "" {
			g, err := tx.GetGroup(r.Context(), id, false)
			if err != nil {
				return err
			}
			if err := checkIfMatch(r, g.Meta.Version); err != nil {
				return err
			}
		}
		return tx.DeleteGroup(r.Context(), id)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
