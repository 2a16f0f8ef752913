package scim

import (
	"strings"

	"github.com/elimity-com/scim/schema"

	"github.com/scimbridge/scimbridge/store"
)

// The attribute catalogue of each resource comes from elimity-com/scim's
// schema definitions (RFC 7643 §4 and §8.7), read once into this small model
// that the decoder, the projection and PATCH share.

// attr is one attribute definition.
type attr struct {
	name       string // canonical case
	typ        string // string, boolean, decimal, integer, dateTime, reference, binary, complex
	multi      bool
	mutability string // readOnly, readWrite, immutable, writeOnly
	returned   string // always, never, default, request
	caseExact  bool
	required   bool
	subs       map[string]*attr // lower-case name → sub-attribute
	subOrder   []*attr
}

func (a *attr) sub(name string) *attr { return a.subs[strings.ToLower(name)] }

// resourceSchema describes a resource type: its core schema and extensions.
type resourceSchema struct {
	name       string // "User", "Group"
	endpoint   string // "/Users"
	coreURN    string
	core       map[string]*attr
	coreOrder  []*attr
	extensions map[string]*extension // lower-case URN → extension
	raw        []schema.Schema       // for /Schemas
}

type extension struct {
	urn   string
	attrs map[string]*attr
	order []*attr
}

func fromLibrary(a schema.CoreAttribute) *attr {
	out := &attr{
		name: a.Name(), typ: a.AttributeType(), multi: a.MultiValued(), mutability: a.Mutability(),
		returned: a.Returned(), caseExact: a.CaseExact(), required: a.Required(),
	}
	if a.HasSubAttributes() {
		out.subs = map[string]*attr{}
		for _, s := range a.SubAttributes() {
			sa := fromLibrary(s)
			out.subs[strings.ToLower(sa.name)] = sa
			out.subOrder = append(out.subOrder, sa)
		}
	}
	return out
}

func index(attrs []schema.CoreAttribute) (map[string]*attr, []*attr) {
	m := map[string]*attr{}
	var order []*attr
	for _, a := range attrs {
		x := fromLibrary(a)
		m[strings.ToLower(x.name)] = x
		order = append(order, x)
	}
	return m, order
}

// common attributes every resource has (RFC 7643 §3.1).
func addCommon(m map[string]*attr) {
	m["id"] = &attr{name: "id", typ: "string", mutability: "readOnly", returned: "always", caseExact: true}
	m["externalid"] = &attr{name: "externalId", typ: "string", mutability: "readWrite", returned: "default", caseExact: true}
	meta := &attr{name: "meta", typ: "complex", mutability: "readOnly", returned: "default", subs: map[string]*attr{}}
	for _, n := range []string{"resourceType", "created", "lastModified", "location", "version"} {
		t := "string"
		if n == "created" || n == "lastModified" {
			t = "dateTime"
		}
		s := &attr{name: n, typ: t, mutability: "readOnly", returned: "default", caseExact: true}
		meta.subs[strings.ToLower(n)] = s
		meta.subOrder = append(meta.subOrder, s)
	}
	m["meta"] = meta
	m["schemas"] = &attr{name: "schemas", typ: "reference", multi: true, mutability: "readWrite", returned: "always", caseExact: true}
}

var userSchema = func() *resourceSchema {
	core, order := index(schema.CoreUserSchema().Attributes)
	addCommon(core)
	ent := schema.ExtensionEnterpriseUser()
	eattrs, eorder := index(ent.Attributes)
	return &resourceSchema{
		name: "User", endpoint: "/Users", coreURN: store.UserSchema, core: core, coreOrder: order,
		extensions: map[string]*extension{strings.ToLower(store.EnterpriseSchema): {urn: store.EnterpriseSchema, attrs: eattrs, order: eorder}},
		raw:        []schema.Schema{schema.CoreUserSchema(), ent},
	}
}()

var groupSchema = func() *resourceSchema {
	core, order := index(schema.CoreGroupSchema().Attributes)
	addCommon(core)
	return &resourceSchema{
		name: "Group", endpoint: "/Groups", coreURN: store.GroupSchema, core: core, coreOrder: order,
		extensions: map[string]*extension{}, raw: []schema.Schema{schema.CoreGroupSchema()},
	}
}()

// path is an attribute path resolved against a schema.
type path struct {
	ext  *extension // nil for the core schema
	attr *attr
	sub  *attr // nil when the path names the attribute itself
}

// resolve parses "attr", "attr.sub", and URN-qualified forms
// ("urn:…:User:userName", "urn:…:enterprise:2.0:User:manager.value").
// A bare extension URN resolves to the extension itself (attr nil).
func (s *resourceSchema) resolve(p string) (path, bool) {
	lower := strings.ToLower(p)
	if rest, ok := strings.CutPrefix(lower, strings.ToLower(s.coreURN)+":"); ok {
		return s.resolveIn(nil, s.core, p[len(p)-len(rest):])
	}
	for urn, ext := range s.extensions {
		if lower == urn {
			return path{ext: ext}, true
		}
		if strings.HasPrefix(lower, urn+":") {
			return s.resolveIn(ext, ext.attrs, p[len(urn)+1:])
		}
	}
	return s.resolveIn(nil, s.core, p)
}

func (s *resourceSchema) resolveIn(ext *extension, attrs map[string]*attr, p string) (path, bool) {
	name, subName, hasSub := strings.Cut(p, ".")
	a := attrs[strings.ToLower(name)]
	if a == nil {
		return path{}, false
	}
	out := path{ext: ext, attr: a}
	if hasSub {
		out.sub = a.sub(subName)
		if out.sub == nil {
			return path{}, false
		}
	}
	return out, true
}

// extension returns the extension with the given URN, case-insensitively.
func (s *resourceSchema) extension(urn string) *extension {
	return s.extensions[strings.ToLower(urn)]
}
