package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

// This file translates store queries to SQL. Every value is a bound
// parameter; only attribute names from the catalogue, never client text,
// become SQL identifiers.

type colKind int

const (
	colText colKind = iota
	colTextNoCase
	colInt
	colBool
	colTime
)

type column struct {
	expr string
	kind colKind
}

type table struct {
	name         string // table name, also its row in counts
	alias        string
	catalog      *store.Catalog
	resourceType string
	columns      map[string]column // canonical attribute name → column
	hasDoc       bool
	// from names the table; externalExpr selects a row's externalId in
	// one domain, a bound parameter (externalid.go).
	from         string
	externalExpr string
	// externalCode is the table's resource_type in external_ids.
	externalCode int
	// keyIndex is the index of the keys alone (migration 0014), where an
	// unfiltered offset is counted off.
	keyIndex string
}

var userTable = &table{
	name: "users", alias: "u", catalog: store.UserAttrs, resourceType: "User", hasDoc: true,
	from: userFrom, externalExpr: userExternalID, externalCode: externalUser, keyIndex: "users_key",
	columns: map[string]column{
		"id":                {"u.id", colText},
		"externalId":        {externalIDAlias, colText},
		"userName":          {"u.user_name", colTextNoCase},
		"displayName":       {"u.display_name", colTextNoCase},
		"active":            {"u.active", colBool},
		"meta.created":      {"u.created", colTime},
		"meta.lastModified": {"u.last_modified", colTime},
		"meta.version":      {`'W/"' || u.version || '"'`, colText},
		"meta.resourceType": {"'User'", colText},
	},
}

var groupTable = &table{
	name: "groups", alias: "g", catalog: store.GroupAttrs, resourceType: "Group",
	from: groupFrom, externalExpr: groupExternalID, externalCode: externalGroup, keyIndex: "groups_key",
	columns: map[string]column{
		"id":                {"g.id", colText},
		"externalId":        {externalIDAlias, colText},
		"displayName":       {"g.display_name", colTextNoCase},
		"meta.created":      {"g.created", colTime},
		"meta.lastModified": {"g.last_modified", colTime},
		"meta.version":      {`'W/"' || g.version || '"'`, colText},
		"meta.resourceType": {"'Group'", colText},
	},
}

type selectSQL struct {
	sql       string
	args      []any
	countSQL  string
	countArgs []any
}

func invalidFilter(format string, args ...any) error {
	return store.FieldErrorf(store.KindInvalid, "filter", format, args...)
}

// buildSelect turns q into a page query and a count query; externalIds
// are those of domain.
func buildSelect(t *table, cols string, q store.Query, domain string) (*selectSQL, error) {
	var where builder
	where.t, where.domain = t, domain
	if q.Filter != nil {
		if err := where.expr(q.Filter, t.scope()); err != nil {
			return nil, err
		}
	}
	filterSQL, filterArgs := where.sb.String(), where.args

	conds := []string{}
	args := []any{}
	if filterSQL != "" {
		conds = append(conds, "("+filterSQL+")")
		args = append(args, filterArgs...)
	}

	sortExpr, sortColl := "", ""
	if q.SortBy != "" {
		def, ok := t.catalog.Lookup(q.SortBy)
		if !ok || def.Type == store.TypeComplex {
			return nil, store.FieldErrorf(store.KindInvalid, "sortBy", "cannot sort by %q", q.SortBy)
		}
		var err error
		sortExpr, sortColl, err = t.sortExpr(def)
		if err != nil {
			return nil, err
		}
	}
	dir := "ASC"
	if q.Descending {
		dir = "DESC"
	}
	key := t.alias + ".key"
	if q.UseCursor && q.Cursor != "" {
		c, err := store.DecodeCursor(t.name, domain, q)
		if err != nil {
			return nil, err
		}
		cmp := ">"
		if q.Descending {
			cmp = "<"
		}
		switch {
		case sortExpr == "":
			conds = append(conds, key+" "+cmp+" ?")
			args = append(args, c.Key)
		case c.Null:
			conds = append(conds, fmt.Sprintf("(%s IS NULL AND %s %s ?)", sortExpr, key, cmp))
			args = append(args, c.Key)
		default:
			conds = append(conds, fmt.Sprintf("((%[1]s IS NOT NULL AND (%[1]s%[2]s %[3]s ? OR (%[1]s%[2]s = ? AND %[4]s %[3]s ?))) OR %[1]s IS NULL)",
				sortExpr, sortColl, cmp, key))
			args = append(args, c.Value, c.Value, c.Key)
		}
	}
	whereSQL := ""
	if len(conds) > 0 {
		whereSQL = " WHERE " + strings.Join(conds, " AND ")
	}
	order := fmt.Sprintf(" ORDER BY %s %s", key, dir)
	if sortExpr != "" {
		order = fmt.Sprintf(" ORDER BY (%s IS NULL), %s%s %s, %s %s", sortExpr, sortExpr, sortColl, dir, key, dir)
	}
	from := fmt.Sprintf(" FROM %s %s", t.name, t.alias)
	s := &selectSQL{sql: "SELECT " + cols + t.from + whereSQL + order}
	s.args = append(s.args, domain)
	s.args = append(s.args, args...)
	// SQLite runs a statement with a bound LIMIT markedly slower (about
	// 3× for an indexed lookup) than one with a literal limit, so the limit
	// is written into the SQL, rounded up to a few sizes to keep the number
	// of statement texts small; scanPage drops the extra rows.
	want := q.Limit
	if q.UseCursor {
		want++ // one more tells whether a next page exists
		s.sql += " LIMIT " + strconv.Itoa(limitBucket(want))
	} else if seek := q.Offset > 0 && len(conds) == 0 && sortExpr == "" && t.keyIndex != ""; seek {
		// An unfiltered page in key order (how identity providers walk
		// every user with startIndex): OFFSET would step over every
		// earlier row of the table, documents and all, so the offset is
		// counted off in the narrow key index and the page read from the
		// key found on. One statement: one snapshot.
		cmp := ">="
		if q.Descending {
			cmp = "<="
		}
		s.sql = "SELECT " + cols + t.from + fmt.Sprintf(" WHERE %s %s (SELECT k.key FROM %s k INDEXED BY %s ORDER BY k.key %s LIMIT 1 OFFSET ?)",
			key, cmp, t.name, t.keyIndex, dir) + order + " LIMIT " + strconv.Itoa(limitBucket(want))
		s.args = append(s.args, q.Offset)
	} else {
		s.sql += " LIMIT " + strconv.Itoa(limitBucket(want)) + " OFFSET ?"
		s.args = append(s.args, q.Offset)
	}
	s.countSQL = "SELECT count(*)" + from
	if filterSQL != "" {
		s.countSQL += " WHERE " + filterSQL
		s.countArgs = filterArgs
	}
	return s, nil
}

var limitBuckets = []int{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000}

// limitBucket rounds n up to the next bucket (n itself past the last).
func limitBucket(n int) int {
	for _, b := range limitBuckets {
		if n <= b {
			return b
		}
	}
	return n
}

// sortExpr returns the expression and collation to order by def.
func (t *table) sortExpr(def store.AttrDef) (string, string, error) {
	if c, ok := t.columns[def.Name]; ok {
		if c.kind == colTextNoCase {
			return c.expr, " COLLATE NOCASE", nil
		}
		return c.expr, "", nil
	}
	if !t.hasDoc {
		return "", "", store.FieldErrorf(store.KindInvalid, "sortBy", "cannot sort by %q", def.Name)
	}
	path := def.Name
	if def.MultiValued {
		// RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its primary
		// (here: first) value.
		parent, sub := def.Parent(), def.Sub()
		if parent == def.Name {
			sub = "value"
		}
		path = parent + "[0]." + sub
	}
	coll := ""
	if !def.CaseExact && def.Type == store.TypeString {
		coll = " COLLATE NOCASE"
	}
	return fmt.Sprintf("json_extract(%s.doc, '%s')", t.alias, jsonPath(path)), coll, nil
}

// jsonPath turns a dotted attribute path into a SQLite JSON path, quoting
// elements such as "$ref".
func jsonPath(path string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, el := range strings.Split(path, ".") {
		b.WriteByte('.')
		name, idx, _ := strings.Cut(el, "[")
		if strings.ContainsAny(name, "$\"'") {
			b.WriteString(`"` + strings.ReplaceAll(name, `"`, ``) + `"`)
		} else {
			b.WriteString(name)
		}
		if idx != "" {
			b.WriteString("[" + idx)
		}
	}
	return b.String()
}

// scope resolves attribute names inside one part of a filter to SQL.
type scope func(name string) (expr string, def store.AttrDef, err error)

func (t *table) scope() scope {
	return func(name string) (string, store.AttrDef, error) {
		def, ok := t.catalog.Lookup(name)
		if !ok {
			return "", def, invalidFilter("unknown attribute %q", name)
		}
		if c, ok := t.columns[def.Name]; ok {
			return c.expr, def, nil
		}
		if def.MultiValued {
			return "", def, nil // handled as a value filter
		}
		if !t.hasDoc {
			return "", def, invalidFilter("cannot filter on %q", name)
		}
		return fmt.Sprintf("json_extract(%s.doc, '%s')", t.alias, jsonPath(def.Name)), def, nil
	}
}

type builder struct {
	t *table
	// domain is the provisioning domain whose externalIds filters see.
	domain string
	sb     strings.Builder
	args   []any
}

func (b *builder) expr(e store.Expr, sc scope) error {
	switch e := e.(type) {
	case store.And:
		return b.binary("AND", e.Left, e.Right, sc)
	case store.Or:
		return b.binary("OR", e.Left, e.Right, sc)
	case store.Not:
		b.sb.WriteString("NOT coalesce((")
		if err := b.expr(e.X, sc); err != nil {
			return err
		}
		b.sb.WriteString("), 0)")
		return nil
	case store.Compare:
		return b.compare(e, sc)
	case store.ValueFilter:
		return b.valueFilter(e.Attr, e.Filter, sc)
	}
	return invalidFilter("unsupported filter expression")
}

func (b *builder) binary(op string, l, r store.Expr, sc scope) error {
	b.sb.WriteString("(")
	if err := b.expr(l, sc); err != nil {
		return err
	}
	b.sb.WriteString(" " + op + " ")
	if err := b.expr(r, sc); err != nil {
		return err
	}
	b.sb.WriteString(")")
	return nil
}

func (b *builder) compare(c store.Compare, sc scope) error {
	expr, def, err := sc(c.Attr)
	if err != nil {
		return err
	}
	if def.Name == "externalId" && expr == b.t.columns["externalId"].expr {
		return b.externalID(def, c)
	}
	if expr == "" && def.MultiValued {
		// "emails.value eq x" means some email's value is x; "emails pr"
		// means there is an email.
		parent, sub := def.Parent(), def.Sub()
		if def.Type == store.TypeComplex {
			if c.Op == store.OpPr {
				return b.present(parent)
			}
			// RFC 7644 §3.4.2.2: comparing a multi-valued complex attribute
			// compares its values ("members eq x", "emails co y").
			if _, ok := b.t.catalog.Lookup(parent + ".value"); !ok {
				return invalidFilter("%q is complex: compare one of its sub-attributes", c.Attr)
			}
			sub = "value"
		}
		return b.valueFilter(parent, store.Compare{Attr: sub, Op: c.Op, Value: c.Value}, sc)
	}
	if def.Type == store.TypeComplex {
		if c.Op != store.OpPr {
			return invalidFilter("%q is complex: compare one of its sub-attributes", c.Attr)
		}
		fmt.Fprintf(&b.sb, "json_type(%s.doc, '%s') IS NOT NULL", b.t.alias, jsonPath(def.Name))
		return nil
	}
	return b.comparison(expr, def, c.Op, c.Value)
}

// externalID renders a comparison of externalId in the builder's domain
// as a lookup in external_ids, on its (resource_type, domain, external_id)
// index. ne matches resources without a value too, as for any attribute.
func (b *builder) externalID(def store.AttrDef, c store.Compare) error {
	op, negate := c.Op, false
	if op == store.OpNe {
		op, negate = store.OpEq, true
	}
	if negate {
		b.sb.WriteString("NOT ")
	}
	fmt.Fprintf(&b.sb, "%s.key IN (SELECT x.resource_key FROM external_ids x WHERE x.resource_type = %d AND x.domain = ? AND ",
		b.t.alias, b.t.externalCode)
	b.args = append(b.args, b.domain)
	if err := b.comparison("x.external_id", def, op, c.Value); err != nil {
		return err
	}
	b.sb.WriteString(")")
	return nil
}

// present renders "attr pr" for a multi-valued attribute.
func (b *builder) present(attr string) error {
	switch {
	case b.t == groupTable && attr == "members":
		b.sb.WriteString("EXISTS (SELECT 1 FROM memberships pm WHERE pm.group_key = g.key)")
	case b.t == userTable && attr == "groups":
		b.sb.WriteString("EXISTS (SELECT 1 FROM memberships pm WHERE pm.member_type = 0 AND pm.member_key = u.key)")
	case b.t.hasDoc:
		fmt.Fprintf(&b.sb, "coalesce(json_array_length(%s.doc, '%s'), 0) > 0", b.t.alias, jsonPath(attr))
	default:
		return invalidFilter("cannot filter on %q", attr)
	}
	return nil
}

// valueFilter renders "attr[inner]": some value of attr matches inner.
func (b *builder) valueFilter(attr string, inner store.Expr, outer scope) error {
	_, def, err := outer(attr)
	if err != nil {
		return err
	}
	if !def.MultiValued || def.Type != store.TypeComplex {
		return invalidFilter("%q is not a multi-valued attribute", attr)
	}
	parent := def.Name
	subDef := func(name string) (store.AttrDef, error) {
		d, ok := b.t.catalog.Lookup(parent + "." + name)
		if !ok {
			return d, invalidFilter("unknown attribute %q of %q", name, parent)
		}
		return d, nil
	}
	switch {
	case b.t == userTable && parent == "emails" && onlySubs(inner, "value", "type", "primary"):
		b.sb.WriteString("u.key IN (SELECT e.user_key FROM user_emails e WHERE ")
		err = b.expr(inner, func(name string) (string, store.AttrDef, error) {
			d, err := subDef(name)
			col := map[string]string{"value": "e.value", "type": "e.type", "primary": "e.is_primary"}[d.Sub()]
			return col, d, err
		})
	case b.t == userTable && parent == "groups":
		b.sb.WriteString("u.key IN (SELECT m.member_key FROM memberships m JOIN groups mg ON mg.key = m.group_key WHERE m.member_type = 0 AND ")
		err = b.expr(inner, func(name string) (string, store.AttrDef, error) {
			d, err := subDef(name)
			col, ok := map[string]string{"value": "mg.id", "display": "mg.display_name", "type": "'direct'"}[d.Sub()]
			if err == nil && !ok {
				err = invalidFilter("cannot filter on groups.%s", d.Sub())
			}
			return col, d, err
		})
	case b.t == groupTable && parent == "members":
		if c, ok := inner.(store.Compare); ok && c.Op == store.OpEq && strings.EqualFold(c.Attr, "value") {
			// The common lookup, kept on the indexes.
			v := fmt.Sprint(c.Value)
			b.sb.WriteString(`g.key IN (SELECT group_key FROM memberships WHERE
 (member_type = 0 AND member_key = (SELECT key FROM users WHERE id = ?)) OR
 (member_type = 1 AND member_key = (SELECT key FROM groups WHERE id = ?))`)
			b.args = append(b.args, v, v)
			break
		}
		b.sb.WriteString(`g.key IN (SELECT m.group_key FROM memberships m
 LEFT JOIN users mu ON m.member_type = 0 AND mu.key = m.member_key
 LEFT JOIN groups mg ON m.member_type = 1 AND mg.key = m.member_key WHERE `)
		err = b.expr(inner, func(name string) (string, store.AttrDef, error) {
			d, err := subDef(name)
			col, ok := map[string]string{
				"value":   "coalesce(mu.id, mg.id)",
				"display": "coalesce(mu.display_name, mu.user_name, mg.display_name)",
				"type":    "CASE m.member_type WHEN 0 THEN 'User' ELSE 'Group' END",
			}[d.Sub()]
			if err == nil && !ok {
				err = invalidFilter("cannot filter on members.%s", d.Sub())
			}
			return col, d, err
		})
	case b.t.hasDoc:
		fmt.Fprintf(&b.sb, "EXISTS (SELECT 1 FROM json_each(%s.doc, '%s') j WHERE ", b.t.alias, jsonPath(parent))
		err = b.expr(inner, func(name string) (string, store.AttrDef, error) {
			d, err := subDef(name)
			return fmt.Sprintf("json_extract(j.value, '%s')", jsonPath(d.Sub())), d, err
		})
	default:
		return invalidFilter("cannot filter on %q", attr)
	}
	if err != nil {
		return err
	}
	b.sb.WriteString(")")
	return nil
}

// onlySubs reports whether e names no sub-attribute other than those given.
func onlySubs(e store.Expr, names ...string) bool {
	switch e := e.(type) {
	case store.And:
		return onlySubs(e.Left, names...) && onlySubs(e.Right, names...)
	case store.Or:
		return onlySubs(e.Left, names...) && onlySubs(e.Right, names...)
	case store.Not:
		return onlySubs(e.X, names...)
	case store.Compare:
		for _, n := range names {
			if strings.EqualFold(e.Attr, n) {
				return true
			}
		}
	}
	return false
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
var globEscaper = strings.NewReplacer(`*`, `[*]`, `?`, `[?]`, `[`, `[[]`)

// comparison renders one attribute comparison of the right type.
func (b *builder) comparison(expr string, def store.AttrDef, op store.Op, value any) error {
	if op == store.OpPr {
		if def.Type == store.TypeBoolean {
			fmt.Fprintf(&b.sb, "%s IS NOT NULL", expr)
		} else {
			fmt.Fprintf(&b.sb, "(%s IS NOT NULL AND %s <> '')", expr, expr)
		}
		return nil
	}
	switch def.Type {
	case store.TypeBoolean:
		v, ok := store.FilterBool(value)
		if !ok {
			return invalidFilter("%s needs true or false", def.Name)
		}
		switch op {
		case store.OpEq:
			fmt.Fprintf(&b.sb, "coalesce(%s, 0) = ?", expr)
		case store.OpNe:
			fmt.Fprintf(&b.sb, "coalesce(%s, 0) <> ?", expr)
		default:
			return invalidFilter("operator %s does not apply to boolean %s", op, def.Name)
		}
		b.args = append(b.args, v)
		return nil
	case store.TypeDateTime:
		s, ok := value.(string)
		if !ok {
			return invalidFilter("%s needs a dateTime string", def.Name)
		}
		ts, err := store.ParseDateTime(s)
		if err != nil {
			return invalidFilter("%s: %q is not an RFC 3339 dateTime", def.Name, s)
		}
		return b.ordered(expr, op, ts.UnixMicro(), def)
	case store.TypeInteger, store.TypeDecimal:
		f, ok := value.(float64)
		if !ok {
			return invalidFilter("%s needs a number", def.Name)
		}
		return b.ordered(expr, op, f, def)
	case store.TypeComplex:
		return invalidFilter("%q is complex", def.Name)
	}
	// Strings, references, binary.
	var s string
	switch v := value.(type) {
	case string:
		s = v
	case nil:
		return invalidFilter("%s cannot be compared with null; use pr", def.Name)
	default:
		s = fmt.Sprint(v)
	}
	if def.Type == store.TypeBinary && op != store.OpEq && op != store.OpNe {
		return invalidFilter("operator %s does not apply to binary %s", op, def.Name)
	}
	if b.t == userTable && def.Name == "userName" && (op == store.OpEq || op == store.OpNe) {
		// Equal userNames are those with equal store.UserNameKey, as for
		// uniqueness, looked up on the key's index.
		return b.ordered("u.user_name_key", op, store.UserNameKey(s), def)
	}
	coll := " COLLATE NOCASE"
	if def.CaseExact {
		coll = " COLLATE BINARY"
	}
	switch op {
	case store.OpCo, store.OpSw, store.OpEw:
		if def.CaseExact {
			pat := globEscaper.Replace(s)
			fmt.Fprintf(&b.sb, "%s GLOB ?", expr)
			b.args = append(b.args, wrap(op, pat, "*"))
		} else {
			pat := likeEscaper.Replace(s)
			fmt.Fprintf(&b.sb, `%s LIKE ? ESCAPE '\'`, expr)
			b.args = append(b.args, wrap(op, pat, "%"))
		}
		return nil
	}
	return b.ordered(expr+coll, op, s, def)
}

func wrap(op store.Op, pat, any string) string {
	switch op {
	case store.OpCo:
		return any + pat + any
	case store.OpSw:
		return pat + any
	}
	return any + pat
}

func (b *builder) ordered(expr string, op store.Op, v any, def store.AttrDef) error {
	sqlOp := map[store.Op]string{store.OpEq: "=", store.OpGt: ">", store.OpGe: ">=", store.OpLt: "<", store.OpLe: "<="}[op]
	switch {
	case op == store.OpNe:
		fmt.Fprintf(&b.sb, "(%s IS NULL OR %s <> ?)", strings.TrimSuffix(strings.TrimSuffix(expr, " COLLATE NOCASE"), " COLLATE BINARY"), expr)
	case sqlOp != "":
		fmt.Fprintf(&b.sb, "%s %s ?", expr, sqlOp)
	default:
		return invalidFilter("operator %s does not apply to %s", op, def.Name)
	}
	b.args = append(b.args, v)
	return nil
}

// sortValue reads the sort expression's value for one row, for a cursor.
func (r *reader) sortValue(ctx context.Context, t *table, q store.Query, key int64) (any, error) {
	if q.SortBy == "" {
		return nil, nil
	}
	def, _ := t.catalog.Lookup(q.SortBy)
	expr, _, err := t.sortExpr(def)
	if err != nil {
		return nil, err
	}
	args := []any{key}
	if expr == externalIDAlias {
		// The alias exists in the page query only.
		expr, args = t.externalExpr, []any{store.DomainOf(ctx), key}
	}
	var v any
	err = r.queryRow(ctx, []any{&v}, fmt.Sprintf("SELECT %s%s WHERE %s.key = ?", expr, t.from, t.alias), args...)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	return v, err
}
