package scimfilter

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Expr is a parsed filter: *Compare, *And, *Or or *Not.
type Expr interface {
	// String renders the expression in canonical form (lowercase keywords,
	// single spaces, only the parentheses the structure needs); Parse of
	// the result yields an equal tree.
	String() string
	expr()
}

// Op is a comparison operator, always lowercase.
type Op string

// The SCIM comparison operators.
const (
	OpEq Op = "eq" // equal
	OpNe Op = "ne" // not equal
	OpCo Op = "co" // contains
	OpSw Op = "sw" // starts with
	OpEw Op = "ew" // ends with
	OpPr Op = "pr" // present (has a non-empty value); takes no value
	OpGt Op = "gt" // greater than
	OpGe Op = "ge" // greater than or equal
	OpLt Op = "lt" // less than
	OpLe Op = "le" // less than or equal
)

var ops = map[string]Op{
	"eq": OpEq, "ne": OpNe, "co": OpCo, "sw": OpSw, "ew": OpEw,
	"pr": OpPr, "gt": OpGt, "ge": OpGe, "lt": OpLt, "le": OpLe,
}

// Kind is the type of a comparison value.
type Kind int

// Value kinds. The zero Kind is the missing value of a "pr" comparison.
const (
	KindString Kind = iota + 1
	KindNumber
	KindBool
	KindNull
)

// Value is a comparison value.
type Value struct {
	Kind Kind
	Str  string // KindString: the decoded string
	Num  string // KindNumber: the literal as written, valid JSON number syntax
	Bool bool   // KindBool
}

// String renders v as it would appear in a filter.
func (v Value) String() string {
	switch v.Kind {
	case KindString:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v.Str) // cannot fail for a string
		return strings.TrimSuffix(b.String(), "\n")
	case KindNumber:
		return v.Num
	case KindBool:
		if v.Bool {
			return "true"
		}
		return "false"
	case KindNull:
		return "null"
	}
	return ""
}

// Compare is "Attr Op Value", or "Attr pr" (then Value is the zero Value).
type Compare struct {
	Attr  string // as written; match it case-insensitively
	Op    Op
	Value Value
}

// And is "Left and Right".
type And struct{ Left, Right Expr }

// Or is "Left or Right".
type Or struct{ Left, Right Expr }

// Not is "not (X)".
type Not struct{ X Expr }

func (*Compare) expr() {}
func (*And) expr()     {}
func (*Or) expr()      {}
func (*Not) expr()     {}

func (c *Compare) String() string {
	if c.Op == OpPr {
		return c.Attr + " pr"
	}
	return c.Attr + " " + string(c.Op) + " " + c.Value.String()
}

func (a *And) String() string {
	var b strings.Builder
	writeOperand(&b, a.Left, func(e Expr) bool { _, ok := e.(*Or); return ok })
	b.WriteString(" and ")
	writeOperand(&b, a.Right, func(e Expr) bool {
		switch e.(type) {
		case *Or, *And:
			return true
		}
		return false
	})
	return b.String()
}

func (o *Or) String() string {
	var b strings.Builder
	writeOperand(&b, o.Left, func(Expr) bool { return false })
	b.WriteString(" or ")
	writeOperand(&b, o.Right, func(e Expr) bool { _, ok := e.(*Or); return ok })
	return b.String()
}

func (n *Not) String() string { return "not (" + n.X.String() + ")" }

func writeOperand(b *strings.Builder, e Expr, needParens func(Expr) bool) {
	if needParens(e) {
		b.WriteString("(" + e.String() + ")")
		return
	}
	b.WriteString(e.String())
}
