package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimbridge/scimbridge/store"
)

// This file translates store queries to SQL, as store/sqlite/filter.go does
// for SQLite. Every value is a bound parameter; only attribute names from
// the catalogue, never client text, become SQL. Case-insensitive
// comparisons are lower(expr) against a folded parameter: on the indexed
// columns that is exactly the expression the index holds.

type colKind int

const (
	colText colKind = iota
	colTextNoCase
	colBool
	colTime
)

type column struct {
	expr string
	kind colKind
}

type table struct {
	name    string
	alias   string
	catalog *store.Catalog
	columns map[string]column // canonical attribute name → column
	hasDoc  bool
	// externalCode is the table's resource_type in external_ids.
	externalCode int
}

// externalIDCol stands for externalId in the column maps: the value lives
// in external_ids, per provisioning domain, and every use of it
// (comparison, sort, cursor) goes through that table with the domain
// bound (externalid.go).
const externalIDCol = "x.external_id"

var userTable = &table{
	name: "users", alias: "u", catalog: store.UserAttrs, hasDoc: true, externalCode: externalUser,
	columns: map[string]column{
		"id":                {"u.id", colText},
		"externalId":        {externalIDCol, colText},
		"userName":          {"u.user_name", colTextNoCase},
		"displayName":       {"u.display_name", colTextNoCase},
		"active":            {"u.active", colBool},
		"meta.created":      {"u.created", colTime},
		"meta.lastModified": {"u.last_modified", colTime},
		"meta.version":      {`(('W/"' || u.version || '"') COLLATE "C")`, colText},
		"meta.resourceType": {`('User'::text COLLATE "C")`, colText},
	},
}

var groupTable = &table{
	name: "groups", alias: "g", catalog: store.GroupAttrs, externalCode: externalGroup,
	columns: map[string]column{
		"id":                {"g.id", colText},
		"externalId":        {externalIDCol, colText},
		"displayName":       {"g.display_name", colTextNoCase},
		"meta.created":      {"g.created", colTime},
		"meta.lastModified": {"g.last_modified", colTime},
		"meta.version":      {`(('W/"' || g.version || '"') COLLATE "C")`, colText},
		"meta.resourceType": {`('Group'::text COLLATE "C")`, colText},
	},
}

type selectSQL struct {
	table     string // its row in counts
	sql       string
	args      []any
	countSQL  string
	countArgs []any
}

func invalidFilter(format string, args ...any) error {
	return store.FieldErrorf(store.KindInvalid, "filter", format, args...)
}

// buildSelect turns q into a page query and a count query; externalIds
// are those of domain. cols renders the selected columns given the
// placeholder that binds domain.
func buildSelect(t *table, cols func(domain string) string, q store.Query, domain string) (*selectSQL, error) {
	b := &builder{t: t, domain: domain}
	if q.Filter != nil {
		if err := b.expr(q.Filter, t.scope()); err != nil {
			return nil, err
		}
	}
	filterSQL, filterArgs := b.sb.String(), len(b.args)

	var conds []string
	if filterSQL != "" {
		conds = append(conds, "("+filterSQL+")")
	}
	var sortDef store.AttrDef
	sortExpr := ""
	if q.SortBy != "" {
		def, ok := t.catalog.Lookup(q.SortBy)
		if !ok || def.Type == store.TypeComplex {
			return nil, store.FieldErrorf(store.KindInvalid, "sortBy", "cannot sort by %q", q.SortBy)
		}
		if def.Name == "externalId" {
			sortExpr = externalIDExpr(t.externalCode, t.alias, b.param(domain))
		} else {
			var err error
			if sortExpr, err = t.sortExpr(def); err != nil {
				return nil, err
			}
		}
		sortDef = def
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
			conds = append(conds, key+" "+cmp+" "+b.param(c.Key))
		case c.Null:
			conds = append(conds, fmt.Sprintf("(%s IS NULL AND %s %s %s)", sortExpr, key, cmp, b.param(c.Key)))
		default:
			v, err := cursorValue(sortDef, c.Value)
			if err != nil {
				return nil, err
			}
			pv, pk := b.param(v), b.param(c.Key)
			conds = append(conds, fmt.Sprintf("((%[1]s IS NOT NULL AND (%[1]s %[2]s %[3]s OR (%[1]s = %[3]s AND %[4]s %[2]s %[5]s))) OR %[1]s IS NULL)",
				sortExpr, cmp, pv, key, pk))
		}
	}
	whereSQL := ""
	if len(conds) > 0 {
		whereSQL = " WHERE " + strings.Join(conds, " AND ")
	}
	order := fmt.Sprintf(" ORDER BY %s %s", key, dir)
	if sortExpr != "" {
		order = fmt.Sprintf(" ORDER BY (%s IS NULL), %s %s, %s %s", sortExpr, sortExpr, dir, key, dir)
	}
	from := fmt.Sprintf(" FROM %s %s", t.name, t.alias)
	limit := ""
	if q.UseCursor {
		// One more row tells whether a next page exists.
		limit = " LIMIT " + b.param(q.Limit+1)
	} else {
		limit = " LIMIT " + b.param(q.Limit) + " OFFSET " + b.param(q.Offset)
	}
	// The page's keys first, then its rows: PostgreSQL would otherwise
	// compute every selected column (a user's groups, its document) for
	// the rows OFFSET skips too.
	s := &selectSQL{table: t.name, sql: "SELECT " + cols(b.param(domain)) + from + " JOIN (SELECT " + key + from + whereSQL + order + limit +
		") page ON page.key = " + key + order}
	s.args = b.args
	s.countSQL = "SELECT count(*)" + from
	if filterSQL != "" {
		s.countSQL += " WHERE " + filterSQL
		s.countArgs = b.args[:filterArgs]
	}
	return s, nil
}

// sortExpr returns the expression to order by def, folded when def sorts
// case-insensitively.
func (t *table) sortExpr(def store.AttrDef) (string, error) {
	if c, ok := t.columns[def.Name]; ok {
		if c.kind == colTextNoCase {
			return "lower(" + c.expr + ")", nil
		}
		return c.expr, nil
	}
	if !t.hasDoc {
		return "", store.FieldErrorf(store.KindInvalid, "sortBy", "cannot sort by %q", def.Name)
	}
	path := strings.Split(def.Name, ".")
	if def.MultiValued {
		// RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its primary
		// (here: first) value.
		parent, sub := def.Parent(), def.Sub()
		if parent == def.Name {
			sub = "value"
		}
		path = []string{parent, "0", sub}
	}
	expr := docText(t.alias+".doc", path)
	if !def.CaseExact && def.Type == store.TypeString {
		expr = "lower(" + expr + ")"
	}
	return expr, nil
}

// jsonPath renders path elements as a PostgreSQL text[] literal for #> and
// #>>. The elements are catalogue names ("$ref" included), never client
// text; quotes are dropped all the same.
func jsonPath(path []string) string {
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = `"` + strings.NewReplacer(`"`, ``, `'`, ``, `\`, ``).Replace(p) + `"`
	}
	return "'{" + strings.Join(parts, ",") + "}'"
}

// docText is the text at path of a JSON document, in byte order.
func docText(base string, path []string) string {
	return fmt.Sprintf(`((%s #>> %s) COLLATE "C")`, base, jsonPath(path))
}

// docValue is the value at path as an SQL value of the attribute's type,
// NULL when the document holds something else there.
func docValue(base string, path []string, typ store.AttrType) (string, error) {
	j := fmt.Sprintf("(%s #> %s)", base, jsonPath(path))
	switch typ {
	case store.TypeBoolean:
		return fmt.Sprintf("(CASE jsonb_typeof(%[1]s) WHEN 'boolean' THEN %[1]s::boolean END)", j), nil
	case store.TypeInteger, store.TypeDecimal:
		return fmt.Sprintf("(CASE jsonb_typeof(%[1]s) WHEN 'number' THEN %[1]s::numeric END)", j), nil
	case store.TypeDateTime:
		return "", invalidFilter("cannot compare %q as a dateTime", strings.Join(path, "."))
	}
	return docText(base, path), nil
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
		if def.Type == store.TypeComplex {
			return "", def, nil // only pr applies; compare renders it
		}
		expr, err := docValue(t.alias+".doc", strings.Split(def.Name, "."), def.Type)
		return expr, def, err
	}
}

type builder struct {
	t *table
	// domain is the provisioning domain whose externalIds filters see.
	domain string
	sb     strings.Builder
	args   []any
}

// param binds v and returns its placeholder.
func (b *builder) param(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
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
		b.sb.WriteString("), false)")
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
		fmt.Fprintf(&b.sb, "(%s.doc #> %s) IS NOT NULL", b.t.alias, jsonPath(strings.Split(def.Name, ".")))
		return nil
	}
	if def.Name == "externalId" && expr == externalIDCol {
		return b.externalID(def, c)
	}
	return b.comparison(expr, def, c.Op, c.Value)
}

// externalID renders a comparison of externalId in the builder's domain
// as a lookup in external_ids, on its (resource_type, domain, external_id)
// index. ne matches resources without a value too, as for any attribute.
func (b *builder) externalID(def store.AttrDef, c store.Compare) error {
	op := c.Op
	if op == store.OpNe {
		op = store.OpEq
		b.sb.WriteString("NOT ")
	}
	fmt.Fprintf(&b.sb, "%s.key IN (SELECT x.resource_key FROM external_ids x WHERE x.resource_type = %d AND x.domain = %s AND ",
		b.t.alias, b.t.externalCode, b.param(b.domain))
	if err := b.comparison(externalIDCol, def, op, c.Value); err != nil {
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
		j := fmt.Sprintf("(%s.doc #> %s)", b.t.alias, jsonPath([]string{attr}))
		fmt.Fprintf(&b.sb, "coalesce(jsonb_array_length(CASE jsonb_typeof(%[1]s) WHEN 'array' THEN %[1]s END), 0) > 0", j)
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
			col, ok := map[string]string{"value": "mg.id", "display": "mg.display_name", "type": `('direct'::text COLLATE "C")`}[d.Sub()]
			if err == nil && !ok {
				err = invalidFilter("cannot filter on groups.%s", d.Sub())
			}
			return col, d, err
		})
	case b.t == groupTable && parent == "members":
		if c, ok := inner.(store.Compare); ok && c.Op == store.OpEq && strings.EqualFold(c.Attr, "value") {
			// The common lookup, kept on the indexes.
			v := b.param(fmt.Sprint(c.Value))
			fmt.Fprintf(&b.sb, `g.key IN (SELECT group_key FROM memberships WHERE
 (member_type = 0 AND member_key = (SELECT key FROM users WHERE id = %[1]s)) OR
 (member_type = 1 AND member_key = (SELECT key FROM groups WHERE id = %[1]s))`, v)
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
				"type":    `((CASE m.member_type WHEN 0 THEN 'User' ELSE 'Group' END) COLLATE "C")`,
			}[d.Sub()]
			if err == nil && !ok {
				err = invalidFilter("cannot filter on members.%s", d.Sub())
			}
			return col, d, err
		})
	case b.t.hasDoc:
		j := fmt.Sprintf("(%s.doc #> %s)", b.t.alias, jsonPath([]string{parent}))
		fmt.Fprintf(&b.sb, "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof(%[1]s) WHEN 'array' THEN %[1]s END) AS j(v) WHERE ", j)
		err = b.expr(inner, func(name string) (string, store.AttrDef, error) {
			d, err := subDef(name)
			if err != nil {
				return "", d, err
			}
			expr, err := docValue("j.v", []string{d.Sub()}, d.Type)
			return expr, d, err
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

// comparison renders one attribute comparison of the right type.
func (b *builder) comparison(expr string, def store.AttrDef, op store.Op, value any) error {
	if op == store.OpPr {
		if isText(def.Type) {
			fmt.Fprintf(&b.sb, "(%s IS NOT NULL AND %s <> '')", expr, expr)
		} else {
			fmt.Fprintf(&b.sb, "%s IS NOT NULL", expr)
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
			fmt.Fprintf(&b.sb, "coalesce(%s, false) = %s", expr, b.param(v))
		case store.OpNe:
			fmt.Fprintf(&b.sb, "coalesce(%s, false) <> %s", expr, b.param(v))
		default:
			return invalidFilter("operator %s does not apply to boolean %s", op, def.Name)
		}
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
		return b.ordered(expr, expr, op, ts, def)
	case store.TypeInteger, store.TypeDecimal:
		f, ok := value.(float64)
		if !ok {
			return invalidFilter("%s needs a number", def.Name)
		}
		return b.ordered(expr, expr, op, f, def)
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
		// uniqueness, looked up on the key's unique index.
		return b.ordered("u.user_name_key", "u.user_name_key", op, store.UserNameKey(s), def)
	}
	lhs := expr
	if !def.CaseExact {
		lhs, s = "lower("+expr+")", fold(s)
	}
	switch op {
	case store.OpCo, store.OpSw, store.OpEw:
		fmt.Fprintf(&b.sb, `%s LIKE %s ESCAPE '\'`, lhs, b.param(wrap(op, likeEscaper.Replace(s))))
		return nil
	}
	return b.ordered(lhs, expr, op, s, def)
}

func isText(t store.AttrType) bool {
	return t == store.TypeString || t == store.TypeReference || t == store.TypeBinary
}

func wrap(op store.Op, pat string) string {
	switch op {
	case store.OpCo:
		return "%" + pat + "%"
	case store.OpSw:
		return pat + "%"
	}
	return "%" + pat
}

// ordered renders lhs op v; raw is the unfolded expression, for ne's NULL
// test (ne matches a missing value, as in store/sqlite).
func (b *builder) ordered(lhs, raw string, op store.Op, v any, def store.AttrDef) error {
	sqlOp := map[store.Op]string{store.OpEq: "=", store.OpGt: ">", store.OpGe: ">=", store.OpLt: "<", store.OpLe: "<="}[op]
	switch {
	case op == store.OpNe:
		fmt.Fprintf(&b.sb, "(%s IS NULL OR %s <> %s)", raw, lhs, b.param(v))
	case sqlOp != "":
		fmt.Fprintf(&b.sb, "%s %s %s", lhs, sqlOp, b.param(v))
	default:
		return invalidFilter("operator %s does not apply to %s", op, def.Name)
	}
	return nil
}

// cursorValue turns a cursor's sort value, as JSON decoded it, back into
// the Go type the sort expression binds.
func cursorValue(def store.AttrDef, v any) (any, error) {
	switch def.Type {
	case store.TypeDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, store.BadCursor()
		}
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, store.BadCursor()
		}
		return ts, nil
	case store.TypeBoolean:
		if _, ok := v.(bool); !ok {
			return nil, store.BadCursor()
		}
	case store.TypeInteger, store.TypeDecimal:
		if _, ok := v.(float64); !ok {
			return nil, store.BadCursor()
		}
	default:
		if _, ok := v.(string); !ok {
			return nil, store.BadCursor()
		}
	}
	return v, nil
}

// sortValue reads the sort expression's value for one row, for a cursor.
func (r *reader) sortValue(ctx context.Context, t *table, q store.Query, key int64) (any, error) {
	if q.SortBy == "" {
		return nil, nil
	}
	def, _ := t.catalog.Lookup(q.SortBy)
	args := []any{key}
	var expr string
	if def.Name == "externalId" {
		expr, args = externalIDExpr(t.externalCode, t.alias, "$2"), append(args, store.DomainOf(ctx))
	} else {
		var err error
		if expr, err = t.sortExpr(def); err != nil {
			return nil, err
		}
	}
	var v any
	err := r.queryRow(ctx, []any{&v}, fmt.Sprintf("SELECT %s FROM %s %s WHERE %s.key = $1", expr, t.name, t.alias, t.alias), args...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if ts, ok := v.(time.Time); ok {
		v = ts.UTC().Format(time.RFC3339Nano)
	}
	return v, err
}
