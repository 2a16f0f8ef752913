package store

import "strings"

// Op is a filter comparison operator (RFC 7644 §3.4.2.2).
type Op string

// The comparison operators.
const (
	OpEq Op = "eq"
	OpNe Op = "ne"
	OpCo Op = "co"
	OpSw Op = "sw"
	OpEw Op = "ew"
	OpGt Op = "gt"
	OpGe Op = "ge"
	OpLt Op = "lt"
	OpLe Op = "le"
	OpPr Op = "pr"
)

// ParseOp returns the operator named s, case-insensitively.
func ParseOp(s string) (Op, bool) {
	switch op := Op(strings.ToLower(s)); op {
	case OpEq, OpNe, OpCo, OpSw, OpEw, OpGt, OpGe, OpLt, OpLe, OpPr:
		return op, true
	}
	return "", false
}

// Expr is a filter expression over a resource's attributes.
type Expr interface{ isExpr() }

// And matches when both sides match.
type And struct{ Left, Right Expr }

// Or matches when either side matches.
type Or struct{ Left, Right Expr }

// Not matches when X does not.
type Not struct{ X Expr }

// Compare compares an attribute with a value. Attr is a canonical attribute
// name (see Catalog); Value is a string, bool, float64, or nil, converted by
// the backend to the attribute's type. Op pr ignores Value.
type Compare struct {
	Attr  string
	Op    Op
	Value any
}

// ValueFilter matches when some value of the multi-valued attribute Attr
// matches Filter, whose attribute names are sub-attributes of Attr
// ("emails[type eq "work" and value co "@x"]").
type ValueFilter struct {
	Attr   string
	Filter Expr
}

func (And) isExpr()         {}
func (Or) isExpr()          {}
func (Not) isExpr()         {}
func (Compare) isExpr()     {}
func (ValueFilter) isExpr() {}

// Query selects, orders and pages resources. Filters and sorting on
// externalId, like the externalIds read, are those of the provisioning
// domain of the context the query runs with (WithDomain), and a cursor
// belongs to that domain.
type Query struct {
	Filter Expr
	// SortBy is a canonical attribute name; "" keeps creation order.
	SortBy     string
	Descending bool
	// Offset is 0-based. Limit 0 returns no resources (a count only).
	Offset int
	Limit  int
	// UseCursor selects keyset paging (RFC 9865): Cursor is "" for the first
	// page, else a NextCursor from the previous page. Offset is then ignored.
	UseCursor bool
	Cursor    string
	// Related fills each user's Groups, or each group's Members.
	Related bool
}
