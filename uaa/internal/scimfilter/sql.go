package scimfilter

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ColumnType says how a filter value is compared with a column.
type ColumnType int

// Column types.
const (
	// String is text compared case-insensitively (lower() on both sides).
	String ColumnType = iota + 1
	// CaseExactString is text compared as is.
	CaseExactString
	// Bool is a boolean; only eq, ne and pr apply.
	Bool
	// Time is a timestamptz; values are RFC 3339 strings (or dates,
	// 2006-01-02, meaning midnight UTC).
	Time
	// Int is an integer; values are integral numbers or strings holding
	// one.
	Int
)

// Column maps a SCIM attribute to SQL.
type Column struct {
	// SQL is the column or expression the value is compared with, such as
	// "u.username". It is trusted: it is copied into the clause as is.
	SQL  string
	Type ColumnType
	// Exists, if set, makes the attribute multi-valued: it is the body of
	// a correlated subquery, "SELECT 1 FROM … WHERE …", and a comparison
	// becomes EXISTS (Exists AND <comparison on SQL>), so it holds when
	// any value matches.
	Exists string
}

// ToSQL translates e into a Postgres boolean expression over the columns in
// attrs, whose keys are SCIM attribute paths matched case-insensitively
// (with or without a schema URN prefix). Values become the placeholders
// $firstArg, $firstArg+1, … in order, and args holds their values (string,
// bool, int64 or time.Time). A nil e yields "TRUE". Errors are *Error,
// matching ErrInvalidFilter: an unknown attribute, or an operator or value
// that does not suit the column's type.
func ToSQL(e Expr, attrs map[string]Column, firstArg int) (where string, args []any, err error) {
	if e == nil {
		return "TRUE", nil, nil
	}
	b := &sqlBuilder{first: max(firstArg, 1), attrs: make(map[string]Column, len(attrs))}
	for k, c := range attrs {
		b.attrs[strings.ToLower(k)] = c
	}
	if err := b.expr(e); err != nil {
		return "", nil, err
	}
	return b.sb.String(), b.args, nil
}

type sqlBuilder struct {
	sb    strings.Builder
	args  []any
	first int
	attrs map[string]Column
}

func (b *sqlBuilder) expr(e Expr) error {
	switch e := e.(type) {
	case *And:
		return b.binary(e.Left, " AND ", e.Right)
	case *Or:
		return b.binary(e.Left, " OR ", e.Right)
	case *Not:
		// COALESCE: a comparison with a NULL column is false, so its
		// negation is true, not NULL.
		b.sb.WriteString("NOT COALESCE(")
		if err := b.expr(e.X); err != nil {
			return err
		}
		b.sb.WriteString(", false)")
		return nil
	case *Compare:
		return b.compare(e)
	}
	return &Error{Pos: -1, Msg: fmt.Sprintf("unsupported expression %T", e)}
}

func (b *sqlBuilder) binary(l Expr, op string, r Expr) error {
	b.sb.WriteByte('(')
	if err := b.expr(l); err != nil {
		return err
	}
	b.sb.WriteString(op)
	if err := b.expr(r); err != nil {
		return err
	}
	b.sb.WriteByte(')')
	return nil
}

// arg adds a placeholder for v with a cast to typ.
func (b *sqlBuilder) arg(v any, typ string) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(b.first+len(b.args)-1) + "::" + typ
}

func (b *sqlBuilder) lookup(attr string) (Column, bool) {
	key := strings.ToLower(attr)
	if c, ok := b.attrs[key]; ok {
		return c, true
	}
	if i := strings.LastIndexByte(key, ':'); i >= 0 && strings.HasPrefix(key, "urn:") {
		c, ok := b.attrs[key[i+1:]]
		return c, ok
	}
	return Column{}, false
}

func (b *sqlBuilder) compare(c *Compare) error {
	col, ok := b.lookup(c.Attr)
	if !ok {
		return &Error{Pos: -1, Msg: fmt.Sprintf("unknown attribute %q", c.Attr)}
	}
	cond, err := b.condition(c, col)
	if err != nil {
		return err
	}
	if col.Exists != "" {
		cond = "EXISTS (" + col.Exists + " AND " + cond + ")"
	}
	b.sb.WriteString(cond)
	return nil
}

var sqlOps = map[Op]string{OpEq: "=", OpNe: "IS DISTINCT FROM", OpGt: ">", OpGe: ">=", OpLt: "<", OpLe: "<="}

func (b *sqlBuilder) condition(c *Compare, col Column) (string, error) {
	bad := func(format string, a ...any) (string, error) {
		return "", &Error{Pos: -1, Msg: fmt.Sprintf("%s %s: ", c.Attr, c.Op) + fmt.Sprintf(format, a...)}
	}
	text := col.Type == String || col.Type == CaseExactString
	switch {
	case c.Op == OpPr && text:
		return "(" + col.SQL + " IS NOT NULL AND " + col.SQL + " <> '')", nil
	case c.Op == OpPr:
		return col.SQL + " IS NOT NULL", nil
	case c.Value.Kind == KindNull && (c.Op == OpEq || c.Op == OpNe):
		// "eq null" is "not present".
		cond := col.SQL + " IS NULL"
		if text {
			cond = "(" + cond + " OR " + col.SQL + " = '')"
		}
		if c.Op == OpNe {
			return b.condition(&Compare{Attr: c.Attr, Op: OpPr}, col)
		}
		return cond, nil
	case c.Value.Kind == KindNull:
		return bad("null can only be compared with eq or ne")
	}

	switch col.Type {
	case String, CaseExactString:
		if c.Value.Kind != KindString {
			return bad("want a string value, got %s", c.Value)
		}
		lhs, rhs := col.SQL, b.arg(c.Value.Str, "text")
		if col.Type == String {
			lhs, rhs = "lower("+lhs+")", "lower("+rhs+")"
		}
		switch c.Op {
		case OpCo, OpSw, OpEw:
			// The pattern is built here, not in SQL: escape the LIKE
			// metacharacters of the value and add the wildcards.
			pat := likeEscaper.Replace(c.Value.Str)
			switch c.Op {
			case OpCo:
				pat = "%" + pat + "%"
			case OpSw:
				pat += "%"
			case OpEw:
				pat = "%" + pat
			}
			b.args[len(b.args)-1] = pat
			return lhs + " LIKE " + rhs + " ESCAPE '!'", nil
		}
		return lhs + " " + sqlOps[c.Op] + " " + rhs, nil

	case Bool:
		if c.Op != OpEq && c.Op != OpNe {
			return bad("booleans take only eq, ne and pr")
		}
		if c.Value.Kind != KindBool {
			return bad("want true or false, got %s", c.Value)
		}
		return col.SQL + " " + sqlOps[c.Op] + " " + b.arg(c.Value.Bool, "boolean"), nil

	case Time:
		if _, ok := sqlOps[c.Op]; !ok {
			return bad("times take only eq, ne, gt, ge, lt, le and pr")
		}
		t, ok := parseTime(c.Value)
		if !ok {
			return bad(`want a time such as "2026-01-01T00:00:00Z", got %s`, c.Value)
		}
		return col.SQL + " " + sqlOps[c.Op] + " " + b.arg(t, "timestamptz"), nil

	case Int:
		if _, ok := sqlOps[c.Op]; !ok {
			return bad("integers take only eq, ne, gt, ge, lt, le and pr")
		}
		var lit string
		switch c.Value.Kind {
		case KindNumber:
			lit = c.Value.Num
		case KindString:
			lit = c.Value.Str
		}
		n, err := strconv.ParseInt(lit, 10, 64)
		if err != nil {
			return bad("want an integer, got %s", c.Value)
		}
		return col.SQL + " " + sqlOps[c.Op] + " " + b.arg(n, "bigint"), nil
	}
	return "", &Error{Pos: -1, Msg: fmt.Sprintf("attribute %q has unknown column type %d", c.Attr, col.Type)}
}

var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

func parseTime(v Value) (time.Time, bool) {
	if v.Kind != KindString {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339Nano, v.Str); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.DateOnly, v.Str); err == nil {
		return t, true
	}
	return time.Time{}, false
}
