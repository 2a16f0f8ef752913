package scim

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/scimbridge/scimbridge/store"
)

// Resource documents travel as map[string]any with canonical attribute
// names: the decoder below turns whatever case a client used into the
// schema's names, checks types, and drops read-only attributes. PUT, POST
// and PATCH all end in the same conversion to the store's types.

// canonicalize validates a client document against rs. Read-only
// attributes and unknown ones are dropped (RFC 7644 §3.3: the server
// ignores what it does not know); wrong types are invalidValue errors.
func canonicalize(rs *resourceSchema, raw map[string]any) (map[string]any, *Error) {
	out := make(map[string]any, len(raw))
	for k, v := range raw {
		lk := strings.ToLower(k)
		if lk == "schemas" {
			if err := checkSchemas(rs, v); err != nil {
				return nil, err
			}
			continue
		}
		if ext := rs.extension(k); ext != nil {
			if v == nil {
				continue
			}
			obj, ok := v.(map[string]any)
			if !ok {
				return nil, badRequest(typeInvalidValue, "%s must be an object", ext.urn)
			}
			sub, err := canonicalAttrs(ext.attrs, obj, ext.urn+":")
			if err != nil {
				return nil, err
			}
			out[ext.urn] = sub
			continue
		}
		a := rs.core[lk]
		if a == nil || a.mutability == "readOnly" {
			continue
		}
		val, err := canonicalValue(a, v, a.name)
		if err != nil {
			return nil, err
		}
		if val != nil {
			out[a.name] = val
		}
	}
	return out, nil
}

func checkSchemas(rs *resourceSchema, v any) *Error {
	if _, ok := v.([]any); !ok {
		return badRequest(typeInvalidSyntax, "schemas must be an array of URNs")
	}
	if !hasSchema(v, rs.coreURN) {
		return badRequest(typeInvalidSyntax, "schemas must contain %s", rs.coreURN)
	}
	return nil
}

func canonicalAttrs(attrs map[string]*attr, obj map[string]any, prefix string) (map[string]any, *Error) {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		a := attrs[strings.ToLower(k)]
		if a == nil || a.mutability == "readOnly" {
			continue
		}
		val, err := canonicalValue(a, v, prefix+a.name)
		if err != nil {
			return nil, err
		}
		if val != nil {
			out[a.name] = val
		}
	}
	return out, nil
}

// canonicalValue checks one attribute value; nil means unassigned.
func canonicalValue(a *attr, v any, name string) (any, *Error) {
	if v == nil {
		return nil, nil
	}
	if a.multi {
		list, ok := v.([]any)
		if !ok {
			list = []any{v} // a single value where a list belongs: take it as a list of one
		}
		out := make([]any, 0, len(list))
		for i, item := range list {
			if _, isObj := item.(map[string]any); a.typ == "complex" && !isObj && item != nil {
				return nil, badRequest(typeInvalidValue, "%s[%d] must be an object", name, i)
			}
			val, err := singleValue(a, item, fmt.Sprintf("%s[%d]", name, i))
			if err != nil {
				return nil, err
			}
			if val != nil {
				out = append(out, val)
			}
		}
		if a.typ == "complex" {
			out = mergeDuplicates(a, out)
		}
		return out, nil
	}
	return singleValue(a, v, name)
}

// mergeDuplicates merges entries of a multi-valued complex attribute that
// are the same value (RFC 7643 §2.4: a multi-valued attribute SHOULD NOT
// contain duplicates): the same type and value, or, for attributes
// without a value (addresses), the same sub-attributes apart from primary.
// The first keeps its place and takes the sub-attributes only a later one
// has; primary true from any of them wins.
func mergeDuplicates(a *attr, list []any) []any {
	caseExact := a.sub("value") != nil && a.sub("value").caseExact
	out := list[:0:0]
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			out = append(out, item)
			continue
		}
		dup := -1
		for i, prev := range out {
			if pm, ok := prev.(map[string]any); ok && sameEntry(pm, m, caseExact) {
				dup = i
				break
			}
		}
		if dup < 0 {
			out = append(out, m)
			continue
		}
		first := out[dup].(map[string]any)
		for k, v := range m {
			if k == "primary" {
				if v == true {
					first[k] = true
				} else if _, has := first[k]; !has {
					first[k] = v
				}
				continue
			}
			if _, has := first[k]; !has {
				first[k] = v
			}
		}
	}
	return out
}

// sameEntry reports whether two canonical entries are one value.
func sameEntry(x, y map[string]any, caseExact bool) bool {
	xt, _ := x["type"].(string)
	yt, _ := y["type"].(string)
	if !strings.EqualFold(xt, yt) {
		return false
	}
	xv, xHas := x["value"].(string)
	yv, yHas := y["value"].(string)
	if xHas || yHas {
		if caseExact {
			return xv == yv
		}
		return strings.EqualFold(xv, yv)
	}
	// No value: the same when every other sub-attribute is.
	for k, v := range x {
		if k != "primary" && y[k] != v {
			return false
		}
	}
	for k, v := range y {
		if k != "primary" && x[k] != v {
			return false
		}
	}
	return true
}

func singleValue(a *attr, v any, name string) (any, *Error) {
	if v == nil {
		return nil, nil
	}
	switch a.typ {
	case "complex":
		obj, ok := v.(map[string]any)
		if !ok {
			// Entra sends manager (singular, complex) as a plain id string.
			if s, isStr := v.(string); isStr && a.sub("value") != nil {
				obj = map[string]any{"value": s}
			} else {
				return nil, badRequest(typeInvalidValue, "%s must be an object", name)
			}
		}
		sub, err := canonicalAttrs(a.subs, obj, name+".")
		if err != nil {
			return nil, err
		}
		if len(sub) == 0 {
			return nil, nil
		}
		return sub, nil
	case "boolean":
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			// Entra sends "True"/"False".
			if strings.EqualFold(b, "true") {
				return true, nil
			}
			if strings.EqualFold(b, "false") {
				return false, nil
			}
		}
		return nil, badRequest(typeInvalidValue, "%s must be a boolean", name)
	case "integer", "decimal":
		switch n := v.(type) {
		case float64:
			if a.typ == "integer" && n != float64(int64(n)) {
				return nil, badRequest(typeInvalidValue, "%s must be an integer", name)
			}
			return n, nil
		case string:
			if f, err := strconv.ParseFloat(n, 64); err == nil {
				return f, nil
			}
		}
		return nil, badRequest(typeInvalidValue, "%s must be a number", name)
	case "dateTime":
		s, ok := v.(string)
		if !ok {
			return nil, badRequest(typeInvalidValue, "%s must be a dateTime string", name)
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, badRequest(typeInvalidValue, "%s: %q is not an RFC 3339 dateTime", name, s)
		}
		return s, nil
	default: // string, reference, binary
		s, ok := v.(string)
		if !ok {
			return nil, badRequest(typeInvalidValue, "%s must be a string", name)
		}
		// Lengths and characters are the store's rules (store/limits.go),
		// the same for every door; its Invalid errors answer invalidValue.
		return s, nil
	}
}

// userFromDoc converts a canonical User document to the store's type. The
// password, if any, is returned separately for hashing.
func userFromDoc(doc map[string]any) (*store.User, string, *Error) {
	d := make(map[string]any, len(doc))
	for k, v := range doc {
		d[k] = v
	}
	password, _ := d["password"].(string)
	delete(d, "password")
	// The password is the one string the store never sees.
	if len(password) > store.MaxTextBytes {
		return nil, "", badRequest(typeInvalidValue, "password is longer than %d bytes", store.MaxTextBytes)
	}
	if ent, ok := d[store.EnterpriseSchema]; ok {
		d["enterprise"] = ent
		delete(d, store.EnterpriseSchema)
	}
	if _, ok := d["active"]; !ok {
		d["active"] = true // a user is active unless a client says otherwise
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, "", badRequest(typeInvalidValue, "%v", err)
	}
	var u store.User
	if err := json.Unmarshal(b, &u); err != nil {
		return nil, "", badRequest(typeInvalidValue, "%v", err)
	}
	u.ExternalID, _ = doc["externalId"].(string)
	markNotPrimary(d, &u)
	if strings.TrimSpace(u.UserName) == "" {
		return nil, "", badRequest(typeInvalidValue, "userName is required")
	}
	return &u, password, nil
}

// markNotPrimary sets NotPrimary on the entries a client sent with
// "primary": false (the JSON decoding above cannot tell false from absent).
func markNotPrimary(doc map[string]any, u *store.User) {
	for name, vs := range map[string][]store.Value{"emails": u.Emails, "phoneNumbers": u.PhoneNumbers, "ims": u.IMs,
		"photos": u.Photos, "entitlements": u.Entitlements, "roles": u.Roles, "x509Certificates": u.X509Certificates} {
		for i, item := range asList(doc[name]) {
			if m, ok := item.(map[string]any); ok && m["primary"] == false && i < len(vs) {
				vs[i].NotPrimary = true
			}
		}
	}
	for i, item := range asList(doc["addresses"]) {
		if m, ok := item.(map[string]any); ok && m["primary"] == false && i < len(u.Addresses) {
			u.Addresses[i].NotPrimary = true
		}
	}
}

// groupFromDoc converts a canonical Group document; members come back as
// references for the store to resolve.
func groupFromDoc(doc map[string]any) (*store.Group, []store.MemberRef, *Error) {
	g := &store.Group{}
	g.DisplayName, _ = doc["displayName"].(string)
	g.ExternalID, _ = doc["externalId"].(string)
	if strings.TrimSpace(g.DisplayName) == "" {
		return nil, nil, badRequest(typeInvalidValue, "displayName is required")
	}
	refs, err := memberRefs(doc["members"])
	return g, refs, err
}

// memberRefs reads a members list: each entry needs a value.
func memberRefs(v any) ([]store.MemberRef, *Error) {
	list, _ := v.([]any)
	refs := make([]store.MemberRef, 0, len(list))
	for i, item := range list {
		m, _ := item.(map[string]any)
		id, _ := m["value"].(string)
		if id == "" {
			return nil, badRequest(typeInvalidValue, "members[%d].value is required", i)
		}
		ref := store.MemberRef{ID: id}
		switch t, _ := m["type"].(string); {
		case strings.EqualFold(t, "User"):
			ref.Type = store.MemberUser
		case strings.EqualFold(t, "Group"):
			ref.Type = store.MemberGroup
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// Rendering. The structs mirror RFC 7643's attribute order; they are
// faster to encode than maps, which only attribute projection needs.

type metaJSON struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created"`
	LastModified string `json:"lastModified"`
	Location     string `json:"location"`
	Version      string `json:"version"`
}

type refJSON struct {
	Value   string `json:"value"`
	Ref     string `json:"$ref,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
}

type userJSON struct {
	Schemas           []string          `json:"schemas"`
	ID                string            `json:"id"`
	ExternalID        string            `json:"externalId,omitempty"`
	UserName          string            `json:"userName"`
	Name              *store.Name       `json:"name,omitempty"`
	DisplayName       string            `json:"displayName,omitempty"`
	NickName          string            `json:"nickName,omitempty"`
	ProfileURL        string            `json:"profileUrl,omitempty"`
	Title             string            `json:"title,omitempty"`
	UserType          string            `json:"userType,omitempty"`
	PreferredLanguage string            `json:"preferredLanguage,omitempty"`
	Locale            string            `json:"locale,omitempty"`
	Timezone          string            `json:"timezone,omitempty"`
	Active            *bool             `json:"active,omitempty"`
	active            bool              // what Active points at
	Emails            []valueJSON       `json:"emails,omitempty"`
	PhoneNumbers      []valueJSON       `json:"phoneNumbers,omitempty"`
	IMs               []valueJSON       `json:"ims,omitempty"`
	Photos            []valueJSON       `json:"photos,omitempty"`
	Addresses         []addressJSON     `json:"addresses,omitempty"`
	Groups            []refJSON         `json:"groups,omitempty"`
	Entitlements      []valueJSON       `json:"entitlements,omitempty"`
	Roles             []valueJSON       `json:"roles,omitempty"`
	X509Certificates  []valueJSON       `json:"x509Certificates,omitempty"`
	Enterprise        *store.Enterprise `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,omitempty"`
	Meta              metaJSON          `json:"meta"`
}

// valueJSON is a multi-valued attribute's entry as SCIM sends it:
// "primary" true, false or absent, as the client gave it.
type valueJSON struct {
	Value   string `json:"value,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
	Primary *bool  `json:"primary,omitempty"`
	// primary is what Primary points at, saving an allocation per entry.
	primary bool
}

type addressJSON struct {
	Formatted     string `json:"formatted,omitempty"`
	StreetAddress string `json:"streetAddress,omitempty"`
	Locality      string `json:"locality,omitempty"`
	Region        string `json:"region,omitempty"`
	PostalCode    string `json:"postalCode,omitempty"`
	Country       string `json:"country,omitempty"`
	Type          string `json:"type,omitempty"`
	Primary       *bool  `json:"primary,omitempty"`
	primary       bool
}

// setPrimary points an entry's "primary" at flag when the client gave it
// (true, or false kept as NotPrimary); else it stays absent.
func setPrimary(dst **bool, flag *bool, primary, notPrimary bool) {
	if primary || notPrimary {
		*flag = primary
		*dst = flag
	}
}

func values(vs []store.Value) []valueJSON {
	if len(vs) == 0 {
		return nil
	}
	out := make([]valueJSON, len(vs))
	for i, v := range vs {
		out[i] = valueJSON{Value: v.Value, Display: v.Display, Type: v.Type}
		setPrimary(&out[i].Primary, &out[i].primary, v.Primary, v.NotPrimary)
	}
	return out
}

func addresses(as []store.Address) []addressJSON {
	if len(as) == 0 {
		return nil
	}
	out := make([]addressJSON, len(as))
	for i, a := range as {
		out[i] = addressJSON{Formatted: a.Formatted, StreetAddress: a.StreetAddress, Locality: a.Locality, Region: a.Region,
			PostalCode: a.PostalCode, Country: a.Country, Type: a.Type}
		setPrimary(&out[i].Primary, &out[i].primary, a.Primary, a.NotPrimary)
	}
	return out
}

type groupJSON struct {
	Schemas     []string  `json:"schemas"`
	ID          string    `json:"id"`
	ExternalID  string    `json:"externalId,omitempty"`
	DisplayName string    `json:"displayName"`
	Members     []refJSON `json:"members,omitempty"`
	Meta        metaJSON  `json:"meta"`
}

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

func renderMeta(resourceType, location string, m store.Meta) metaJSON {
	return metaJSON{
		ResourceType: resourceType,
		Created:      m.Created.UTC().Format(timeLayout),
		LastModified: m.LastModified.UTC().Format(timeLayout),
		Location:     location,
		Version:      etag(m.Version),
	}
}

var (
	userSchemas           = []string{store.UserSchema}
	userEnterpriseSchemas = []string{store.UserSchema, store.EnterpriseSchema}
	groupSchemas          = []string{store.GroupSchema}
)

// renderUser builds the SCIM form of u; base is the SCIM root URL.
func renderUser(u *store.User, base string) *userJSON {
	out := &userJSON{
		Schemas: userSchemas, ID: u.ID, ExternalID: u.ExternalID, UserName: u.UserName,
		DisplayName: u.DisplayName, NickName: u.NickName, ProfileURL: u.ProfileURL, Title: u.Title,
		UserType: u.UserType, PreferredLanguage: u.PreferredLanguage, Locale: u.Locale, Timezone: u.Timezone,
		Emails: values(u.Emails), PhoneNumbers: values(u.PhoneNumbers), IMs: values(u.IMs), Photos: values(u.Photos),
		Addresses: addresses(u.Addresses), Entitlements: values(u.Entitlements), Roles: values(u.Roles),
		X509Certificates: values(u.X509Certificates),
		Meta:             renderMeta("User", base+"/Users/"+u.ID, u.Meta),
	}
	if u.Active || !u.ActiveRemoved {
		// A removed active is not answered (RFC 7643 §2.5: unassigned);
		// the user reads as not active through every door.
		out.active = u.Active
		out.Active = &out.active
	}
	if !u.Name.IsZero() {
		n := u.Name
		out.Name = &n
	}
	if !u.Enterprise.IsZero() {
		out.Schemas = userEnterpriseSchemas
		out.Enterprise = u.Enterprise
	}
	for _, g := range u.Groups {
		typ := "direct"
		if !g.Direct {
			typ = "indirect"
		}
		out.Groups = append(out.Groups, refJSON{Value: g.ID, Ref: base + "/Groups/" + g.ID, Display: g.Display, Type: typ})
	}
	return out
}

// renderGroup builds the SCIM form of g; members only when loaded.
func renderGroup(g *store.Group, base string) *groupJSON {
	out := &groupJSON{
		Schemas: groupSchemas, ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.DisplayName,
		Meta: renderMeta("Group", base+"/Groups/"+g.ID, g.Meta),
	}
	for _, m := range g.Members {
		endpoint := "/Users/"
		if m.Type == store.MemberGroup {
			endpoint = "/Groups/"
		}
		out.Members = append(out.Members, refJSON{Value: m.ID, Ref: base + endpoint + m.ID, Display: m.Display, Type: string(m.Type)})
	}
	return out
}

// toDoc turns a rendered resource into a generic document.
func toDoc(v any) map[string]any {
	b, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}
