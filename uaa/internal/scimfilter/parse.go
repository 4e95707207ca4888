package scimfilter

import (
	"fmt"
	"strings"
)

// Limits on what Parse accepts.
const (
	// MaxLength is the longest filter, in bytes.
	MaxLength = 4096
	// MaxDepth is how deeply parentheses may nest.
	MaxDepth = 32
	// MaxComparisons is the most comparisons one filter may hold.
	MaxComparisons = 100
)

// Parse parses a SCIM filter. The error, if any, is an *Error matching
// ErrInvalidFilter.
func Parse(s string) (Expr, error) {
	if len(s) > MaxLength {
		return nil, &Error{Pos: -1, Msg: fmt.Sprintf("filter is %d bytes long, more than the limit of %d", len(s), MaxLength)}
	}
	if strings.TrimLeft(s, " \t\r\n") == "" {
		return nil, &Error{Pos: 0, Msg: "empty filter"}
	}
	p := &parser{lx: lexer{src: s}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.expected(`"and", "or" or end of input`)
	}
	return e, nil
}

type parser struct {
	lx          lexer
	tok         token // current token
	depth       int   // open parentheses
	comparisons int
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// peek returns the token after the current one without consuming it.
func (p *parser) peek() (token, error) {
	lx := p.lx
	return lx.next()
}

func (p *parser) expected(what string) error {
	return &Error{Pos: p.tok.pos, Msg: fmt.Sprintf("expected %s at position %d, found %s", what, p.tok.pos, p.tok.describe())}
}

func (p *parser) or() (Expr, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.tok.is("or") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		left = &Or{Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) and() (Expr, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.tok.is("and") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		left = &And{Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) unary() (Expr, error) {
	switch {
	case p.tok.kind == tokLParen:
		return p.parens()
	case p.tok.is("not"):
		next, err := p.peek()
		if err != nil {
			return nil, err
		}
		if next.kind == tokLParen {
			if err := p.advance(); err != nil {
				return nil, err
			}
			x, err := p.parens()
			if err != nil {
				return nil, err
			}
			return &Not{X: x}, nil
		}
		if _, isOp := ops[strings.ToLower(next.text)]; next.kind != tokWord || !isOp {
			// Not an attribute called "not": "not" without its parentheses.
			p.tok = next
			return nil, p.expected(`"(" after "not"`)
		}
		return p.comparison()
	case p.tok.kind == tokWord:
		return p.comparison()
	}
	return nil, p.expected(`attribute name, "not" or "("`)
}

// parens parses "(" filter ")"; the current token is "(".
func (p *parser) parens() (Expr, error) {
	if p.depth == MaxDepth {
		return nil, &Error{Pos: p.tok.pos, Msg: fmt.Sprintf("parentheses nest deeper than %d levels at position %d", MaxDepth, p.tok.pos)}
	}
	p.depth++
	if err := p.advance(); err != nil {
		return nil, err
	}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokRParen {
		return nil, p.expected(`")"`)
	}
	p.depth--
	if err := p.advance(); err != nil {
		return nil, err
	}
	return e, nil
}

// comparison parses "attr op value" or "attr pr"; the current token is a
// word.
func (p *parser) comparison() (Expr, error) {
	attr := p.tok
	if err := checkAttr(attr); err != nil {
		return nil, err
	}
	if p.comparisons == MaxComparisons {
		return nil, &Error{Pos: attr.pos, Msg: fmt.Sprintf("more than %d comparisons, at position %d", MaxComparisons, attr.pos)}
	}
	p.comparisons++
	if err := p.advance(); err != nil {
		return nil, err
	}
	op, ok := ops[strings.ToLower(p.tok.text)]
	if p.tok.kind != tokWord || !ok {
		return nil, p.expected("operator")
	}
	c := &Compare{Attr: attr.text, Op: op}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if op == OpPr {
		return c, nil
	}
	switch {
	case p.tok.kind == tokString:
		c.Value = Value{Kind: KindString, Str: p.tok.str}
	case p.tok.kind == tokNumber:
		c.Value = Value{Kind: KindNumber, Num: p.tok.text}
	case p.tok.is("true"), p.tok.is("false"):
		c.Value = Value{Kind: KindBool, Bool: p.tok.is("true")}
	case p.tok.is("null"):
		c.Value = Value{Kind: KindNull}
	default:
		return nil, p.expected("value (string, number, true, false or null)")
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return c, nil
}

// checkAttr rejects attribute paths with empty segments ("a..b", "a.").
func checkAttr(t token) error {
	path := t.text
	if i := strings.LastIndexByte(path, ':'); i >= 0 {
		path = path[i+1:] // schema URN prefix
	}
	for seg := range strings.SplitSeq(path, ".") {
		if seg == "" {
			return &Error{Pos: t.pos, Msg: fmt.Sprintf("invalid attribute name %s at position %d", t.describe(), t.pos)}
		}
	}
	return nil
}
