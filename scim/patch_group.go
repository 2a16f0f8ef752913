package scim

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/store"
)

func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request) error {
	ops, err := s.readPatch(w, r)
	if err != nil {
		return err
	}
	id := mux.Vars(r)["id"]
	var out *store.Group
	err = s.st.Write(r.Context(), actor(r), func(tx store.Tx) error {
		g, err := tx.GetGroup(r.Context(), id, false)
		if err != nil {
			return err
		}
		if err := checkIfMatch(r, g.Meta.Version); err != nil {
			return err
		}
		doc := map[string]any{"displayName": g.DisplayName}
		if g.ExternalID != "" {
			doc["externalId"] = g.ExternalID
		}
		for _, op := range ops {
			if err := s.groupOp(r, tx, g, doc, op); err != nil {
				return err
			}
		}
		canon, serr := canonicalize(groupSchema, doc)
		if serr != nil {
			return serr
		}
		next, _, serr := groupFromDoc(canon)
		if serr != nil {
			return serr
		}
		if _, err := tx.UpdateGroup(r.Context(), id, func(g *store.Group) error {
			g.DisplayName, g.ExternalID = next.DisplayName, next.ExternalID
			return nil
		}); err != nil {
			return err
		}
		out, err = tx.GetGroup(r.Context(), id, false)
		return err
	})
	if err != nil {
		return err
	}
	proj, err := singleProjection(r, groupSchema)
	if err != nil {
		return err
	}
	return s.patchResponse(w, r, "Group", out.Meta.Version, func() any {
		if proj.wants("members") {
			if members, err := s.st.GroupMembers(r.Context(), out.Key, 0, -1); err == nil {
				out.Members = members
			}
		}
		return project(proj, renderGroup(out, baseFrom(r.Context())))
	})
}

// groupOp applies one operation: member changes go to the store at once
// (inside the request's transaction), the group's own attributes to doc.
func (s *Server) groupOp(r *http.Request, tx store.Tx, g *store.Group, doc map[string]any, op patchOp) error {
	if op.path == "" {
		obj, ok := op.value.(map[string]any)
		if !ok {
			return badRequest(typeInvalidValue, "%s without a path needs an object value", op.op)
		}
		rest := map[string]any{}
		for k, v := range obj {
			if strings.EqualFold(k, "members") {
				if err := s.memberOp(r, tx, g, patchOp{op: op.op, path: "members", value: v, hasValue: true}, nil); err != nil {
					return err
				}
				continue
			}
			rest[k] = v
		}
		sub := op
		sub.value = rest
		return nilIfNoError(applyOp(groupSchema, doc, sub, g.ID))
	}
	pp, perr := parsePatchPath(groupSchema, op.path)
	if perr != nil {
		return perr
	}
	if pp.attr != nil && pp.attr.name == "members" {
		return s.memberOp(r, tx, g, op, pp)
	}
	return nilIfNoError(applyOp(groupSchema, doc, op, g.ID))
}

// nilIfNoError keeps a nil *Error from becoming a non-nil error.
func nilIfNoError(e *Error) error {
	if e == nil {
		return nil
	}
	return e
}

func (s *Server) memberOp(r *http.Request, tx store.Tx, g *store.Group, op patchOp, pp *patchPath) error {
	ctx := r.Context()
	if pp != nil && pp.sub != nil {
		return badRequest(typeMutability, "members' sub-attributes are immutable: add or remove the member")
	}
	if pp != nil && pp.filter != nil {
		if op.op != "remove" {
			return badRequest(typeInvalidPath, "%s on members takes a members list, not a filter", op.op)
		}
		ids, err := s.filteredMembers(r, tx, g, pp.filter)
		if err != nil {
			return err
		}
		_, err = tx.RemoveMembers(ctx, g.ID, ids)
		return err
	}
	refs, serr := memberRefs(listOrNil(op.value))
	if serr != nil {
		return serr
	}
	switch op.op {
	case "add":
		_, err := tx.AddMembers(ctx, g.ID, refs)
		return err
	case "replace":
		return tx.SetMembers(ctx, g.ID, refs)
	}
	if op.hasValue && op.value != nil {
		// Entra: remove with a value list removes those members only.
		ids := make([]string, len(refs))
		for i, ref := range refs {
			ids[i] = ref.ID
		}
		_, err := tx.RemoveMembers(ctx, g.ID, ids)
		return err
	}
	return tx.ClearMembers(ctx, g.ID)
}

func listOrNil(v any) any {
	if v == nil {
		return nil
	}
	return asList(v)
}

// filteredMembers returns the ids a members[filter] selects. The usual
// filters (value eq, or-ed) are answered without reading the member list.
func (s *Server) filteredMembers(r *http.Request, tx store.Tx, g *store.Group, f store.Expr) ([]string, error) {
	if ids, ok := valueEqualities(f); ok {
		return ids, nil
	}
	members, err := tx.GroupMembers(r.Context(), g.Key, 0, -1)
	if err != nil {
		return nil, err
	}
	membersAttr := groupSchema.core["members"]
	var ids []string
	for _, m := range members {
		doc := map[string]any{"value": m.ID, "display": m.Display, "type": string(m.Type)}
		hit, serr := evalFilter(f, doc, membersAttr)
		if serr != nil {
			return nil, serr
		}
		if hit {
			ids = append(ids, m.ID)
		}
	}
	return ids, nil
}

// valueEqualities reads `value eq "a" or value eq "b"`.
func valueEqualities(f store.Expr) ([]string, bool) {
	switch e := f.(type) {
	case store.Compare:
		if e.Op == store.OpEq && strings.EqualFold(e.Attr, "value") {
			s, ok := e.Value.(string)
			return []string{s}, ok
		}
	case store.Or:
		l, ok1 := valueEqualities(e.Left)
		r, ok2 := valueEqualities(e.Right)
		return append(l, r...), ok1 && ok2
	}
	return nil, false
}
