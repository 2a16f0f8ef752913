package scim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/store"
)

// PATCH (RFC 7644 §3.5.2). Users are patched as documents: the current
// user is rendered, every operation applies to the document, and the result
// goes through the same validation as PUT, all in one transaction. Groups
// change their own attributes the same way, but member operations go
// straight to the store's membership calls, so a group of 100,000 members
// is never loaded to add or remove one.

const patchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

type patchOp struct {
	op    string // add, remove, replace (lower case)
	path  string
	value any
	// hasValue tells an explicit null from no value at all.
	hasValue bool
	// strict answers a replace whose value filter matches nothing with
	// noTarget (RFC 7644 §3.5.2.3) instead of adding the entry (Entra):
	// the client's compatibility mode, CompatStrict.
	strict bool
}

// parsePatchBody reads a PatchOp message; op names and member names are
// case-insensitive (Entra sends "Add", "Replace", "Remove").
func parsePatchBody(doc map[string]any) ([]patchOp, *Error) {
	var rawOps any
	for k, v := range doc {
		switch strings.ToLower(k) {
		case "operations":
			rawOps = v
		case "schemas":
			if !hasSchema(v, patchOpSchema) {
				return nil, badRequest(typeInvalidSyntax, "schemas must contain %s", patchOpSchema)
			}
		}
	}
	list, ok := rawOps.([]any)
	if !ok || len(list) == 0 {
		return nil, badRequest(typeInvalidSyntax, "Operations must be a non-empty array")
	}
	ops := make([]patchOp, 0, len(list))
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, badRequest(typeInvalidSyntax, "Operations[%d] must be an object", i)
		}
		var op patchOp
		for k, v := range m {
			switch strings.ToLower(k) {
			case "op":
				s, _ := v.(string)
				op.op = strings.ToLower(s)
			case "path":
				s, isStr := v.(string)
				if !isStr && v != nil {
					return nil, badRequest(typeInvalidPath, "Operations[%d].path must be a string", i)
				}
				op.path = strings.TrimSpace(s)
			case "value":
				op.value, op.hasValue = v, true
			}
		}
		switch op.op {
		case "add", "replace":
			if !op.hasValue {
				return nil, badRequest(typeInvalidValue, "Operations[%d]: %s needs a value", i, op.op)
			}
		case "remove":
			if op.path == "" {
				return nil, badRequest(typeNoTarget, "Operations[%d]: remove needs a path", i)
			}
		default:
			return nil, badRequest(typeInvalidSyntax, "Operations[%d]: op must be add, remove or replace", i)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// patchPath is a parsed PATCH path: attr, attr.sub, attr[filter],
// attr[filter].sub, each optionally URN-qualified, or a bare extension URN.
type patchPath struct {
	ext    *extension
	attr   *attr
	filter store.Expr
	sub    *attr
}

func parsePatchPath(rs *resourceSchema, p string) (*patchPath, *Error) {
	base, filterText, subName := p, "", ""
	if i := strings.IndexByte(p, '['); i >= 0 {
		j := strings.LastIndexByte(p, ']')
		if j < i {
			return nil, badRequest(typeInvalidPath, "path %q: unbalanced brackets", p)
		}
		base, filterText = p[:i], p[i+1:j]
		rest := p[j+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ".") || len(rest) == 1 {
				return nil, badRequest(typeInvalidPath, "path %q: unexpected %q after the filter", p, rest)
			}
			subName = rest[1:]
		}
	}
	rp, ok := rs.resolve(base)
	if !ok {
		return nil, badRequest(typeInvalidPath, "path %q: no such attribute", p)
	}
	pp := &patchPath{ext: rp.ext, attr: rp.attr, sub: rp.sub}
	if filterText != "" {
		if pp.attr == nil || !pp.attr.multi || pp.sub != nil {
			return nil, badRequest(typeInvalidPath, "path %q: a filter needs a multi-valued attribute", p)
		}
		f, err := ParseFilter(filterText)
		if err != nil {
			return nil, badRequest(typeInvalidPath, "path %q: %v", p, err)
		}
		pp.filter = f
		if subName != "" {
			if pp.sub = pp.attr.sub(subName); pp.sub == nil {
				return nil, badRequest(typeInvalidPath, "path %q: %q has no sub-attribute %q", p, pp.attr.name, subName)
			}
		}
	}
	if pp.attr != nil && (pp.attr.mutability == "readOnly" || pp.sub != nil && pp.sub.mutability == "readOnly") {
		return nil, badRequest(typeMutability, "path %q: the attribute is read-only", p)
	}
	return pp, nil
}

// container returns the map holding the path's attribute: the document
// itself, or the extension's object (created when create is set).
func (pp *patchPath) container(doc map[string]any, create bool) map[string]any {
	if pp.ext == nil {
		return doc
	}
	m, _ := doc[pp.ext.urn].(map[string]any)
	if m == nil && create {
		m = map[string]any{}
		doc[pp.ext.urn] = m
	}
	return m
}

// applyPatch applies ops to doc in order. currentID is the resource's id:
// a no-path value may carry it (Okta), but not another.
func applyPatch(rs *resourceSchema, doc map[string]any, ops []patchOp, currentID string) *Error {
	for _, op := range ops {
		if err := applyOp(rs, doc, op, currentID); err != nil {
			return err
		}
	}
	return nil
}

// applyOp applies one operation: a no-path value key by key, a whole
// extension attribute by attribute, else the one attribute the path names.
func applyOp(rs *resourceSchema, doc map[string]any, op patchOp, currentID string) *Error {
	if op.path == "" {
		return applyNoPath(rs, doc, op, currentID)
	}
	pp, err := parsePatchPath(rs, op.path)
	if err != nil {
		return err
	}
	if pp.attr == nil {
		return applyExtension(rs, doc, pp, op, currentID)
	}
	c := pp.container(doc, op.op != "remove")
	if c == nil {
		return nil // removing from an extension that has no values
	}
	switch {
	case pp.filter != nil:
		return applyFiltered(c, pp, op)
	case pp.sub != nil:
		return applySub(c, pp, op)
	case op.op == "remove":
		removeAttr(c, pp.attr, op)
	case pp.attr.multi:
		setMultiValued(c, pp.attr.name, op)
	case pp.attr.typ == "complex":
		return mergeComplex(c, pp.attr, op)
	default:
		setSimple(c, pp.attr.name, op)
	}
	return nil
}

// applyNoPath applies an operation without a path: each key of its object
// value is a path of its own: "name", "name.givenName" and
// "urn:…:enterprise:2.0:User:employeeNumber" (Entra's newer mode).
func applyNoPath(rs *resourceSchema, doc map[string]any, op patchOp, currentID string) *Error {
	obj, ok := op.value.(map[string]any)
	if !ok {
		return badRequest(typeInvalidValue, "%s without a path needs an object value", op.op)
	}
	for k, v := range obj {
		switch strings.ToLower(k) {
		case "schemas", "meta":
			continue
		case "id":
			if s, _ := v.(string); s != currentID {
				return badRequest(typeMutability, "id is read-only")
			}
			continue
		}
		sub := op
		sub.path, sub.value, sub.hasValue = k, v, true
		if err := applyOp(rs, doc, sub, currentID); err != nil {
			return err
		}
	}
	return nil
}

// applyExtension applies an operation on a whole extension (a bare URN
// path): remove drops it, add and replace apply each attribute given.
func applyExtension(rs *resourceSchema, doc map[string]any, pp *patchPath, op patchOp, currentID string) *Error {
	if op.op == "remove" {
		delete(doc, pp.ext.urn)
		return nil
	}
	obj, ok := op.value.(map[string]any)
	if !ok {
		return badRequest(typeInvalidValue, "%s needs an object value", pp.ext.urn)
	}
	for k, v := range obj {
		if strings.EqualFold(k, "schemas") {
			// The value is the extension object as a resource carries it;
			// some clients give it its own "schemas" (the URN), which names
			// no attribute of the extension.
			continue
		}
		sub := op
		sub.path, sub.value, sub.hasValue = pp.ext.urn+":"+k, v, true
		if err := applyOp(rs, doc, sub, currentID); err != nil {
			return err
		}
	}
	return nil
}

// removeAttr removes an attribute, or of a multi-valued one only the
// values the operation names.
func removeAttr(c map[string]any, a *attr, op patchOp) {
	if a.multi && op.hasValue && op.value != nil {
		c[a.name] = removeValues(asList(c[a.name]), asList(op.value))
		return
	}
	delete(c, a.name)
}

// setMultiValued replaces a multi-valued attribute's values, or adds the
// ones it does not have yet.
func setMultiValued(c map[string]any, name string, op patchOp) {
	vals := asList(op.value)
	if op.op == "replace" {
		c[name] = vals
		return
	}
	c[name] = addValues(asList(c[name]), vals)
}

// mergeComplex sets sub-attributes of a single-valued complex attribute:
// add and replace both merge them (§3.5.2.1, §3.5.2.3); null removes it.
func mergeComplex(c map[string]any, a *attr, op patchOp) *Error {
	obj, ok := op.value.(map[string]any)
	if !ok {
		s, isStr := op.value.(string)
		switch {
		case isStr && a.sub("value") != nil:
			obj = map[string]any{"value": s} // Entra's plain-string manager
		case op.value == nil:
			delete(c, a.name)
			return nil
		default:
			return badRequest(typeInvalidValue, "%s needs an object value", a.name)
		}
	}
	cur, _ := c[a.name].(map[string]any)
	if cur == nil {
		cur = map[string]any{}
	}
	for k, v := range obj {
		cur[k] = v
	}
	c[a.name] = cur
	return nil
}

// setSimple sets a single-valued simple attribute; null removes it.
func setSimple(c map[string]any, name string, op patchOp) {
	if op.value == nil {
		delete(c, name)
		return
	}
	c[name] = op.value
}

// applySub handles attr.sub without a filter.
func applySub(c map[string]any, pp *patchPath, op patchOp) *Error {
	name, sub := pp.attr.name, pp.sub.name
	if pp.attr.multi {
		// "emails.value" without a filter addresses every value.
		for _, item := range asList(c[name]) {
			if m, ok := item.(map[string]any); ok {
				setSub(m, sub, op)
			}
		}
		return nil
	}
	cur, _ := c[name].(map[string]any)
	if cur == nil {
		if op.op == "remove" {
			return nil
		}
		cur = map[string]any{}
		c[name] = cur
	}
	setSub(cur, sub, op)
	if len(cur) == 0 {
		delete(c, name)
	}
	return nil
}

func setSub(m map[string]any, sub string, op patchOp) {
	if op.op == "remove" || op.value == nil {
		delete(m, sub)
		return
	}
	m[sub] = op.value
}

// applyFiltered handles attr[filter] and attr[filter].sub.
func applyFiltered(c map[string]any, pp *patchPath, op patchOp) *Error {
	name := pp.attr.name
	list := asList(c[name])
	matched, err := matchingValues(list, pp)
	if err != nil {
		return err
	}
	switch {
	case op.op == "remove":
		c[name] = removeMatched(list, matched, pp.sub)
		return nil
	case len(matched) == 0 && op.op == "replace" && op.strict:
		return badRequest(typeNoTarget, "%s: no value matches the filter", op.path)
	case len(matched) == 0:
		entry, err := entryFromFilter(pp, op)
		if err != nil {
			return err
		}
		c[name] = append(list, entry)
		return nil
	}
	if err := setMatched(list, matched, pp, op); err != nil {
		return err
	}
	c[name] = list
	return nil
}

// matchingValues returns the indexes of the values the path's filter
// selects.
func matchingValues(list []any, pp *patchPath) ([]int, *Error) {
	var matched []int
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		hit, err := evalFilter(pp.filter, m, pp.attr)
		if err != nil {
			return nil, err
		}
		if hit {
			matched = append(matched, i)
		}
	}
	return matched, nil
}

// removeMatched removes the matched values, or only their sub-attribute
// sub when there is one.
func removeMatched(list []any, matched []int, sub *attr) []any {
	if sub != nil {
		for _, i := range matched {
			delete(list[i].(map[string]any), sub.name)
		}
		return list
	}
	keep := list[:0:0]
	for i, item := range list {
		if !contains(matched, i) {
			keep = append(keep, item)
		}
	}
	return keep
}

// entryFromFilter is the value an add or replace whose filter matches
// nothing adds (as Entra expects): the filter's equality terms and the
// operation's value.
func entryFromFilter(pp *patchPath, op patchOp) (map[string]any, *Error) {
	entry := equalityTerms(pp.filter)
	if pp.sub != nil {
		entry[pp.sub.name] = op.value
		return entry, nil
	}
	obj, ok := op.value.(map[string]any)
	if !ok {
		return nil, badRequest(typeInvalidValue, "%s needs an object value", op.path)
	}
	for k, v := range obj {
		entry[k] = v
	}
	return entry, nil
}

// setMatched sets the matched values' sub-attribute, or the values
// themselves: replace puts the operation's value in their place, add
// merges it into them.
func setMatched(list []any, matched []int, pp *patchPath, op patchOp) *Error {
	for _, i := range matched {
		m := list[i].(map[string]any)
		if pp.sub != nil {
			m[pp.sub.name] = op.value
			continue
		}
		obj, ok := op.value.(map[string]any)
		if !ok {
			return badRequest(typeInvalidValue, "%s needs an object value", op.path)
		}
		if op.op == "replace" {
			list[i] = copyMap(obj)
		} else {
			for k, v := range obj {
				m[k] = v
			}
		}
	}
	return nil
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// equalityTerms collects attr eq value terms joined by and.
func equalityTerms(e store.Expr) map[string]any {
	out := map[string]any{}
	var walk func(store.Expr)
	walk = func(e store.Expr) {
		switch e := e.(type) {
		case store.And:
			walk(e.Left)
			walk(e.Right)
		case store.Compare:
			if e.Op == store.OpEq {
				out[e.Attr] = e.Value
			}
		}
	}
	walk(e)
	return out
}

func asList(v any) []any {
	switch t := v.(type) {
	case nil:
		return nil
	case []any:
		return t
	}
	return []any{v}
}

// addValues appends values, skipping ones already present (adding an
// existing value is a no-op, RFC 7644 §3.5.2.1).
func addValues(cur, add []any) []any {
	for _, v := range add {
		dup := false
		for _, c := range cur {
			if sameValue(c, v) {
				dup = true
				break
			}
		}
		if !dup {
			cur = append(cur, v)
		}
	}
	return cur
}

// removeValues drops the entries named by values (by their "value").
func removeValues(cur, values []any) []any {
	out := cur[:0:0]
	for _, c := range cur {
		drop := false
		for _, v := range values {
			if sameValue(c, v) {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, c)
		}
	}
	return out
}

// sameValue compares entries by their "value" (case-insensitively) when
// both have one, else wholly.
func sameValue(a, b any) bool {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		av, aHas := am["value"].(string)
		bv, bHas := bm["value"].(string)
		if aHas && bHas {
			return strings.EqualFold(av, bv) && (bm["type"] == nil || am["type"] == nil || strings.EqualFold(fmt.Sprint(am["type"]), fmt.Sprint(bm["type"])))
		}
	}
	return reflect.DeepEqual(a, b)
}

// evalFilter evaluates a value filter against one value of a multi-valued
// complex attribute.
func evalFilter(e store.Expr, m map[string]any, parent *attr) (bool, *Error) {
	switch e := e.(type) {
	case store.And:
		l, err := evalFilter(e.Left, m, parent)
		if err != nil || !l {
			return false, err
		}
		return evalFilter(e.Right, m, parent)
	case store.Or:
		l, err := evalFilter(e.Left, m, parent)
		if err != nil || l {
			return l, err
		}
		return evalFilter(e.Right, m, parent)
	case store.Not:
		v, err := evalFilter(e.X, m, parent)
		return !v && err == nil, err
	case store.Compare:
		sub := parent.sub(e.Attr)
		if sub == nil {
			return false, badRequest(typeInvalidPath, "%q has no sub-attribute %q", parent.name, e.Attr)
		}
		var actual any
		for k, v := range m {
			if strings.EqualFold(k, sub.name) {
				actual = v
			}
		}
		return compareValue(actual, e.Op, e.Value, sub.caseExact), nil
	}
	return false, badRequest(typeInvalidPath, "unsupported filter in path")
}

func compareValue(actual any, op store.Op, want any, caseExact bool) bool {
	if op == store.OpPr {
		return actual != nil && actual != ""
	}
	if actual == nil {
		return op == store.OpNe
	}
	switch a := actual.(type) {
	case bool:
		w, ok := asBoolLenient(want)
		if !ok {
			return false
		}
		return (op == store.OpEq && a == w) || (op == store.OpNe && a != w)
	case float64:
		w, ok := want.(float64)
		if !ok {
			return false
		}
		switch op {
		case store.OpEq:
			return a == w
		case store.OpNe:
			return a != w
		case store.OpGt:
			return a > w
		case store.OpGe:
			return a >= w
		case store.OpLt:
			return a < w
		case store.OpLe:
			return a <= w
		}
		return false
	}
	as, ws := fmt.Sprint(actual), fmt.Sprint(want)
	if !caseExact {
		as, ws = strings.ToLower(as), strings.ToLower(ws)
	}
	switch op {
	case store.OpEq:
		return as == ws
	case store.OpNe:
		return as != ws
	case store.OpCo:
		return strings.Contains(as, ws)
	case store.OpSw:
		return strings.HasPrefix(as, ws)
	case store.OpEw:
		return strings.HasSuffix(as, ws)
	case store.OpGt:
		return as > ws
	case store.OpGe:
		return as >= ws
	case store.OpLt:
		return as < ws
	case store.OpLe:
		return as <= ws
	}
	return false
}

func asBoolLenient(v any) (bool, bool) {
	switch t := v.(type) {
	case bool:
		return t, true
	case string:
		if strings.EqualFold(t, "true") {
			return true, true
		}
		if strings.EqualFold(t, "false") {
			return false, true
		}
	}
	return false, false
}

// onePrimary keeps at most one primary value per multi-valued attribute:
// the last one set wins, as a client that adds a new primary expects.
func onePrimary(doc map[string]any, rs *resourceSchema) {
	for _, a := range rs.core {
		if !a.multi || a.sub("primary") == nil {
			continue
		}
		list := asList(doc[a.name])
		last := -1
		for i, item := range list {
			if m, ok := item.(map[string]any); ok {
				if p, _ := asBoolLenient(m["primary"]); p {
					last = i
				}
			}
		}
		for i, item := range list {
			if m, ok := item.(map[string]any); ok && i != last {
				if _, has := m["primary"]; has {
					m["primary"] = false
				}
			}
		}
	}
}

// patchResponse answers a successful PATCH. A client that asks for
// attributes gets 200 with them; otherwise the configured answer: "auto"
// (the default) gives users back with 200 and groups with 204, so a PATCH
// to a group of 100,000 members does not answer with all of them.
func (s *Server) patchResponse(w http.ResponseWriter, r *http.Request, resourceType string, version int64, render func() any) error {
	q := r.URL.Query()
	asked := q.Get("attributes") != "" || q.Get("excludedAttributes") != ""
	noContent := s.opts.PatchResponse == "no-content" || (s.opts.PatchResponse != "resource" && resourceType == "Group")
	if noContent && !asked {
		w.Header().Set("ETag", etag(version))
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return writeResource(w, http.StatusOK, version, "", render())
}

func (s *Server) readPatch(w http.ResponseWriter, r *http.Request) ([]patchOp, error) {
	raw, err := s.readBody(w, r, s.opts.MaxBody)
	if err != nil {
		return nil, err
	}
	ops, perr := parsePatchBody(raw)
	if perr != nil {
		return nil, perr
	}
	strict := s.compat(r) == CompatStrict
	for i := range ops {
		ops[i].strict = strict
	}
	return ops, nil
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) error {
	ops, err := s.readPatch(w, r)
	if err != nil {
		return err
	}
	id := mux.Vars(r)["id"]
	base := baseFrom(r.Context())
	hashed, err := s.patchPasswordHash(r, id, ops, base)
	if err != nil {
		return err
	}
	var out *store.User
	err = s.st.Write(r.Context(), actor(r), func(tx store.Tx) error {
		// UpdateUser hands fn the stored user: the patch applies to it, so
		// the user is read once (like PUT), not once here and once there.
		out, err = tx.UpdateUser(r.Context(), id, func(cur *store.User) error {
			if err := checkIfMatch(r, cur.Meta.Version); err != nil {
				return err
			}
			next, err := patchedUser(cur, ops, base, hashed.hash)
			if err != nil {
				return err
			}
			if err := checkSelfService(r, cur, next); err != nil {
				return err
			}
			replaceUser(cur, next)
			return nil
		})
		return err
	})
	if err != nil {
		return err
	}
	proj, err := singleProjection(r, userSchema)
	if err != nil {
		return err
	}
	return s.patchResponse(w, r, "User", out.Meta.Version, func() any { return project(proj, renderUser(out, base)) })
}

// hashedPassword is a password a PATCH sets, hashed before its write
// transaction opens: argon2id takes tens of milliseconds, and inside the
// transaction it would hold up every other write in the store (the store
// has one writer).
type hashedPassword struct{ password, digest string }

// hash is the hash of pw: the one made beforehand when pw is the password
// found then, else made now. The patch's password comes from its
// operations alone (a stored user has none), so the second case is only a
// safety net.
func (h hashedPassword) hash(pw string) (string, error) {
	if pw == "" {
		return "", nil
	}
	if h.digest != "" && pw == h.password {
		return h.digest, nil
	}
	return hashPassword(pw)
}

// patchPasswordHash finds the password a PATCH sets, if any, by applying
// it to the user as read now, and hashes it. Operations that cannot set a
// password (no "password" anywhere in their paths or values) are not
// applied twice. Any failure is left to the write, which reports it.
func (s *Server) patchPasswordHash(r *http.Request, id string, ops []patchOp, base string) (hashedPassword, error) {
	if !mentionsPassword(ops) {
		return hashedPassword{}, nil
	}
	cur, err := s.st.GetUser(r.Context(), id)
	if err != nil {
		return hashedPassword{}, nil
	}
	next, err := patchedUser(cur, ops, base, func(string) (string, error) { return "", nil })
	if err != nil || next.NewPassword == "" {
		return hashedPassword{}, nil
	}
	pw := string(next.NewPassword)
	hash, err := hashPassword(pw)
	if err != nil {
		return hashedPassword{}, err
	}
	return hashedPassword{password: pw, digest: hash}, nil
}

// mentionsPassword reports whether any operation's path or value contains
// "password" in any case: only those can set one.
func mentionsPassword(ops []patchOp) bool {
	for _, op := range ops {
		if containsFold(op.path, "password") {
			return true
		}
		if op.value != nil {
			b, _ := json.Marshal(op.value)
			if containsFold(string(b), "password") {
				return true
			}
		}
	}
	return false
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), sub)
}

// patchedUser applies ops to a user and validates the result like a PUT.
// hash turns the new password, if any, into the hash stored.
func patchedUser(cur *store.User, ops []patchOp, base string, hash func(pw string) (string, error)) (*store.User, error) {
	doc := toDoc(renderUser(cur, base))
	if err := applyPatch(userSchema, doc, ops, cur.ID); err != nil {
		return nil, err
	}
	onePrimary(doc, userSchema)
	canon, serr := canonicalize(userSchema, doc)
	if serr != nil {
		return nil, serr
	}
	_, hasActive := canon["active"]
	if !hasActive {
		canon["active"] = false // removing active leaves the user inactive, not defaulted back
	}
	next, pw, serr := userFromDoc(canon)
	if serr != nil {
		return nil, serr
	}
	// ...and absent from SCIM answers until a client sets it again.
	next.ActiveRemoved = !hasActive
	h, err := hash(pw)
	if err != nil {
		return nil, err
	}
	next.PasswordHash = h
	next.NewPassword = store.Secret(pw) // for directory write-back, which seals it
	return next, nil
}
