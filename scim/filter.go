package scim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

// Filter syntax (RFC 7644 §3.4.2.2), parsed to store expressions. Besides
// the RFC grammar it accepts what real clients send: Entra's
// `emails[type eq "work"].value eq "x"` (a value path followed by a
// sub-attribute comparison) and unquoted values (`name.familyName eq Smith`).
// Attribute names are checked later, against the resource's catalogue.

const (
	maxFilterLen   = 8 << 10
	maxFilterDepth = 64
	// maxFilterTerms bounds the comparisons in one filter. Identity
	// providers send one (Okta's userName eq, Entra's value paths) or a
	// few; each term is one more SQL condition for the store to plan and
	// run, and 8 KiB of filter holds about 900 of them.
	maxFilterTerms = 100
)

// ParseFilter parses a SCIM filter.
func ParseFilter(s string) (store.Expr, error) {
	if len(s) > maxFilterLen {
		return nil, fmt.Errorf("filter longer than %d bytes", maxFilterLen)
	}
	p := &parser{lex: lexer{src: s}}
	p.next()
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.err != nil {
		return nil, p.err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf("unexpected %s", p.tok)
	}
	return e, nil
}

type tokKind int

const (
	tokEOF  tokKind = iota
	tokWord         // attribute path, operator, keyword or bare value
	tokString
	tokLParen
	tokRParen
	tokLBracket
	tokRBracket
	tokDotWord // ".sub" right after "]"
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of filter"
	case tokString:
		return strconv.Quote(t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

type lexer struct {
	src string
	pos int
}

func isWordByte(c byte) bool {
	return c > ' ' && c != '(' && c != ')' && c != '[' && c != ']' && c != '"' && c < 0x7f
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t' || l.src[l.pos] == '\n' || l.src[l.pos] == '\r') {
		l.pos++
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	switch c := l.src[l.pos]; c {
	case '(':
		l.pos++
		return token{tokLParen, "(", start}, nil
	case ')':
		l.pos++
		return token{tokRParen, ")", start}, nil
	case '[':
		l.pos++
		return token{tokLBracket, "[", start}, nil
	case ']':
		l.pos++
		return token{tokRBracket, "]", start}, nil
	case '.':
		l.pos++
		w := l.word()
		if w == "" {
			return token{}, fmt.Errorf("position %d: unexpected \".\"", start)
		}
		return token{tokDotWord, w, start}, nil
	case '"':
		end := l.pos + 1
		for end < len(l.src) && l.src[end] != '"' {
			if l.src[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(l.src) {
			return token{}, fmt.Errorf("position %d: unterminated string", start)
		}
		var s string
		if err := json.Unmarshal([]byte(l.src[start:end+1]), &s); err != nil {
			return token{}, fmt.Errorf("position %d: bad string %s", start, l.src[start:end+1])
		}
		l.pos = end + 1
		return token{tokString, s, start}, nil
	}
	w := l.word()
	if w == "" {
		return token{}, fmt.Errorf("position %d: unexpected character %q", start, l.src[start])
	}
	return token{tokWord, w, start}, nil
}

func (l *lexer) word() string {
	start := l.pos
	for l.pos < len(l.src) && isWordByte(l.src[l.pos]) {
		l.pos++
	}
	return l.src[start:l.pos]
}

type parser struct {
	lex lexer
	tok token
	err error
	// terms counts the comparisons parsed so far.
	terms int
}

func (p *parser) next() {
	if p.err != nil {
		return
	}
	p.tok, p.err = p.lex.next()
	if p.err != nil {
		p.tok = token{kind: tokEOF}
	}
}

func (p *parser) errorf(format string, args ...any) error {
	if p.err != nil {
		return p.err
	}
	return fmt.Errorf("position %d: %s", p.tok.pos, fmt.Sprintf(format, args...))
}

func (p *parser) keyword(k string) bool {
	return p.tok.kind == tokWord && strings.EqualFold(p.tok.text, k)
}

func (p *parser) or(depth int) (store.Expr, error) {
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		p.next()
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		left = store.Or{Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) and(depth int) (store.Expr, error) {
	left, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		p.next()
		right, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		left = store.And{Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) unary(depth int) (store.Expr, error) {
	if depth > maxFilterDepth {
		return nil, p.errorf("filter nested too deeply")
	}
	if p.keyword("not") {
		p.next()
		if p.tok.kind != tokLParen {
			return nil, p.errorf(`expected "(" after not`)
		}
		e, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return store.Not{X: e}, nil
	}
	if p.tok.kind == tokLParen {
		p.next()
		e, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, p.errorf(`expected ")"`)
		}
		p.next()
		return e, nil
	}
	return p.attrExpr(depth)
}

func (p *parser) attrExpr(depth int) (store.Expr, error) {
	if p.tok.kind != tokWord {
		return nil, p.errorf("expected an attribute, got %s", p.tok)
	}
	path := p.tok.text
	if _, isOp := store.ParseOp(path); isOp || strings.EqualFold(path, "and") || strings.EqualFold(path, "or") {
		return nil, p.errorf("expected an attribute, got %s", p.tok)
	}
	p.next()
	if p.tok.kind == tokLBracket {
		p.next()
		inner, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRBracket {
			return nil, p.errorf(`expected "]"`)
		}
		p.next()
		if p.tok.kind == tokDotWord {
			// emails[type eq "work"].value eq "x": both must hold for one value.
			sub := p.tok.text
			p.next()
			cmp, err := p.comparison(sub)
			if err != nil {
				return nil, err
			}
			inner = store.And{Left: inner, Right: cmp}
		}
		return store.ValueFilter{Attr: path, Filter: inner}, nil
	}
	return p.comparison(path)
}

func (p *parser) comparison(path string) (store.Expr, error) {
	if p.terms++; p.terms > maxFilterTerms {
		return nil, p.errorf("filter has more than %d comparisons", maxFilterTerms)
	}
	if p.tok.kind != tokWord {
		return nil, p.errorf("expected an operator after %q, got %s", path, p.tok)
	}
	op, ok := store.ParseOp(p.tok.text)
	if !ok {
		return nil, p.errorf("unknown operator %q", p.tok.text)
	}
	p.next()
	if op == store.OpPr {
		return store.Compare{Attr: path, Op: op}, nil
	}
	var v any
	switch p.tok.kind {
	case tokString:
		v = p.tok.text
	case tokWord:
		switch w := p.tok.text; {
		case w == "true":
			v = true
		case w == "false":
			v = false
		case w == "null":
			v = nil
		default:
			if f, err := strconv.ParseFloat(w, 64); err == nil && (w[0] == '-' || (w[0] >= '0' && w[0] <= '9')) {
				v = f
			} else {
				v = w // an unquoted value, as some clients send
			}
		}
	default:
		return nil, p.errorf("expected a value after %q %s, got %s", path, op, p.tok)
	}
	p.next()
	return store.Compare{Attr: path, Op: op, Value: v}, nil
}
