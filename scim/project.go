package scim

import "strings"

// projection implements the attributes and excludedAttributes parameters
// (RFC 7644 §3.9) over rendered documents. Paths resolve against the schema,
// so "NAME.givenname" and URN-qualified forms work.
type projection struct {
	include bool
	tree    pnode
}

// pnode is a set of canonical paths: a nil child means "the whole value".
type pnode map[string]pnode

func parseProjection(rs *resourceSchema, attributes, excluded string) (*projection, *Error) {
	list, include := attributes, true
	if list == "" {
		list, include = excluded, false
	}
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	p := &projection{include: include, tree: pnode{}}
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		// A value filter is not attribute-path syntax, but clients send
		// it (emails[type eq "work"]): select the attribute it names.
		if i := strings.IndexByte(raw, '['); i >= 0 {
			if j := strings.LastIndexByte(raw, ']'); j > i {
				raw = raw[:i] + raw[j+1:]
			}
		}
		rp, ok := rs.resolve(raw)
		if !ok {
			// RFC 7644 says unknown attributes are ignored here, not an error.
			continue
		}
		var segs []string
		if rp.ext != nil {
			segs = append(segs, rp.ext.urn)
		}
		if rp.attr != nil {
			segs = append(segs, rp.attr.name)
			if rp.sub != nil {
				segs = append(segs, rp.sub.name)
			}
		}
		p.add(segs)
	}
	return p, nil
}

func (p *projection) add(segs []string) {
	n := p.tree
	for i, s := range segs {
		child, seen := n[s]
		if seen && child == nil {
			return // the whole value is already selected
		}
		if i == len(segs)-1 {
			n[s] = nil
			return
		}
		if child == nil {
			child = pnode{}
			n[s] = child
		}
		n = child
	}
}

// wants reports whether a top-level attribute survives the projection
// (used to skip reading members or groups that would be dropped).
func (p *projection) wants(key string) bool {
	if p == nil {
		return true
	}
	child, listed := p.tree[key]
	if p.include {
		return listed
	}
	return !listed || child != nil
}

// alwaysReturned attributes survive any projection.
var alwaysReturned = map[string]bool{"id": true, "schemas": true}

func (p *projection) apply(doc map[string]any) map[string]any {
	if p == nil {
		return doc
	}
	if p.include {
		out := map[string]any{}
		for k := range alwaysReturned {
			if v, ok := doc[k]; ok {
				out[k] = v
			}
		}
		for k, sub := range p.tree {
			if v, ok := doc[k]; ok {
				if kept := keep(v, sub); kept != nil {
					out[k] = kept
				}
			}
		}
		return out
	}
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		sub, listed := p.tree[k]
		switch {
		case alwaysReturned[k] || !listed:
			out[k] = v
		case sub != nil:
			if rest := drop(v, sub); rest != nil {
				out[k] = rest
			}
		}
	}
	return out
}

// keep returns the parts of v selected by n (all of v when n is nil).
func keep(v any, n pnode) any {
	if n == nil {
		return v
	}
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, sub := range n {
			if x, ok := t[k]; ok {
				if kept := keep(x, sub); kept != nil {
					out[k] = kept
				}
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		var out []any
		for _, item := range t {
			if kept := keep(item, n); kept != nil {
				out = append(out, kept)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return nil
}

// drop returns v without the parts selected by n.
func drop(v any, n pnode) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range t {
			sub, listed := n[k]
			switch {
			case !listed:
				out[k] = x
			case sub != nil:
				if rest := drop(x, sub); rest != nil {
					out[k] = rest
				}
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		var out []any
		for _, item := range t {
			if rest := drop(item, n); rest != nil {
				out = append(out, rest)
			}
		}
		return out
	}
	return v
}
