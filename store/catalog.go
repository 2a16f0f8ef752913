package store

import "strings"

// AttrType is the data type of an attribute (RFC 7643 §2.3).
type AttrType int

// The attribute types the query language understands.
const (
	TypeString AttrType = iota
	TypeBoolean
	TypeDateTime
	TypeInteger
	TypeDecimal
	TypeReference
	TypeBinary
	TypeComplex
)

// AttrDef describes one queryable attribute.
type AttrDef struct {
	// Name is canonical: the path of the attribute in the stored document
	// ("name.familyName", "emails.value", "enterprise.department").
	Name      string
	Type      AttrType
	CaseExact bool
	// MultiValued is true for a multi-valued attribute and for the
	// sub-attributes of one ("emails", "emails.value").
	MultiValued bool
}

// Parent returns the multi-valued attribute a sub-attribute belongs to.
func (d AttrDef) Parent() string {
	if i := strings.IndexByte(d.Name, '.'); i >= 0 {
		return d.Name[:i]
	}
	return d.Name
}

// Sub returns the last path element ("value" of "emails.value").
func (d AttrDef) Sub() string {
	if i := strings.LastIndexByte(d.Name, '.'); i >= 0 {
		return d.Name[i+1:]
	}
	return d.Name
}

// Schema URNs of the resources the store keeps.
const (
	UserSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// Catalog maps attribute paths, as clients write them, to definitions.
type Catalog struct {
	defs       map[string]AttrDef // lower-case canonical name → def
	coreURN    string
	extensions map[string]string // lower-case URN → canonical prefix
}

// Lookup resolves a path case-insensitively. The path may carry the core
// schema URN or an extension URN as prefix
// ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department").
func (c *Catalog) Lookup(path string) (AttrDef, bool) {
	p := strings.ToLower(path)
	if rest, ok := strings.CutPrefix(p, strings.ToLower(c.coreURN)+":"); ok {
		p = rest
	} else {
		for urn, prefix := range c.extensions {
			if rest, ok := strings.CutPrefix(p, urn+":"); ok {
				p = prefix + "." + rest
				break
			}
		}
	}
	d, ok := c.defs[p]
	return d, ok
}

func newCatalog(coreURN string, extensions map[string]string, defs ...AttrDef) *Catalog {
	c := &Catalog{defs: map[string]AttrDef{}, coreURN: coreURN, extensions: map[string]string{}}
	for urn, prefix := range extensions {
		c.extensions[strings.ToLower(urn)] = prefix
	}
	for _, d := range defs {
		c.defs[strings.ToLower(d.Name)] = d
	}
	return c
}

func str(name string) AttrDef { return AttrDef{Name: name} }
func exact(name string, t AttrType) AttrDef {
	return AttrDef{Name: name, Type: t, CaseExact: true}
}

// multi defines a multi-valued complex attribute with the usual
// value/display/type/primary sub-attributes.
func multi(name string, valueType AttrType, valueExact bool) []AttrDef {
	return []AttrDef{
		{Name: name, Type: TypeComplex, MultiValued: true},
		{Name: name + ".value", Type: valueType, CaseExact: valueExact, MultiValued: true},
		{Name: name + ".display", MultiValued: true},
		{Name: name + ".type", MultiValued: true},
		{Name: name + ".primary", Type: TypeBoolean, MultiValued: true},
	}
}

func commonAttrs() []AttrDef {
	return []AttrDef{
		exact("id", TypeString),
		exact("externalId", TypeString),
		{Name: "meta.created", Type: TypeDateTime},
		{Name: "meta.lastModified", Type: TypeDateTime},
		exact("meta.resourceType", TypeString),
		exact("meta.version", TypeString),
	}
}

// UserAttrs is the catalogue of queryable User attributes.
var UserAttrs = func() *Catalog {
	defs := commonAttrs()
	defs = append(defs,
		str("userName"), AttrDef{Name: "name", Type: TypeComplex},
		str("name.formatted"), str("name.familyName"), str("name.givenName"),
		str("name.middleName"), str("name.honorificPrefix"), str("name.honorificSuffix"),
		str("displayName"), str("nickName"), exact("profileUrl", TypeReference),
		str("title"), str("userType"), str("preferredLanguage"), str("locale"), str("timezone"),
		AttrDef{Name: "active", Type: TypeBoolean},
		str("enterprise.employeeNumber"), str("enterprise.costCenter"),
		str("enterprise.organization"), str("enterprise.division"), str("enterprise.department"),
		AttrDef{Name: "enterprise.manager", Type: TypeComplex}, exact("enterprise.manager.value", TypeString),
		exact("enterprise.manager.$ref", TypeReference), str("enterprise.manager.displayName"),
	)
	defs = append(defs, multi("emails", TypeString, false)...)
	defs = append(defs, multi("phoneNumbers", TypeString, false)...)
	defs = append(defs, multi("ims", TypeString, false)...)
	defs = append(defs, multi("photos", TypeReference, true)...)
	defs = append(defs, multi("entitlements", TypeString, false)...)
	defs = append(defs, multi("roles", TypeString, false)...)
	defs = append(defs, multi("x509Certificates", TypeBinary, true)...)
	defs = append(defs, multi("groups", TypeString, true)...)
	defs = append(defs, AttrDef{Name: "addresses", Type: TypeComplex, MultiValued: true})
	for _, s := range []string{"formatted", "streetAddress", "locality", "region", "postalCode", "country", "type"} {
		defs = append(defs, AttrDef{Name: "addresses." + s, MultiValued: true})
	}
	defs = append(defs, AttrDef{Name: "addresses.primary", Type: TypeBoolean, MultiValued: true})
	return newCatalog(UserSchema, map[string]string{EnterpriseSchema: "enterprise"}, defs...)
}()

// GroupAttrs is the catalogue of queryable Group attributes.
var GroupAttrs = func() *Catalog {
	defs := commonAttrs()
	defs = append(defs, str("displayName"),
		AttrDef{Name: "members", Type: TypeComplex, MultiValued: true},
		AttrDef{Name: "members.value", CaseExact: true, MultiValued: true},
		AttrDef{Name: "members.type", MultiValued: true},
		AttrDef{Name: "members.display", MultiValued: true},
	)
	return newCatalog(GroupSchema, nil, defs...)
}()
