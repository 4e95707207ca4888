package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Filter is the WHERE, ORDER BY and paging of a list query. Conditions are
// ANDed. Values are always bound parameters, never SQL text.
type Filter struct {
	conds []string
	args  []any
	// OrderBy is a column of the listed table; Desc reverses it.
	OrderBy string
	Desc    bool
	// Limit and Offset page the result; Limit 0 means no limit.
	Limit, Offset int
}

// Where adds a condition; each "?" in cond is bound to the next arg. A
// placeholder written "?::uuid[]" takes a []string of which only valid UUIDs
// are kept: a malformed guid in a filter matches nothing instead of failing
// the cast, and columns are compared as uuid so that indexes apply.
func (f *Filter) Where(cond string, args ...any) {
	var b strings.Builder
	i := 0
	for pos, r := range cond {
		if r == '?' && i < len(args) {
			arg := args[i]
			if vals, ok := arg.([]string); ok && strings.HasPrefix(cond[pos+1:], "::uuid[]") {
				arg = validUUIDs(vals)
			}
			f.args = append(f.args, arg)
			fmt.Fprintf(&b, "$%d", len(f.args))
			i++
			continue
		}
		b.WriteRune(r)
	}
	f.conds = append(f.conds, b.String())
}

// validUUIDs keeps the values that parse as UUIDs.
func validUUIDs(vals []string) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if _, err := uuid.Parse(v); err == nil && len(v) == 36 {
			out = append(out, v)
		}
	}
	return out
}

// In adds "column = ANY(values)".
func (f *Filter) In(column string, values []string) {
	f.Where(column+" = ANY(?)", values)
}

// Time adds a created_at/updated_at condition.
func (f *Filter) Time(column, op string, times []time.Time) {
	switch op {
	case "lt":
		f.Where(column+" < ?", times[0])
	case "lte":
		f.Where(column+" <= ?", times[0])
	case "gt":
		f.Where(column+" > ?", times[0])
	case "gte":
		f.Where(column+" >= ?", times[0])
	default:
		f.Where(column+" = ANY(?)", times)
	}
}

// Args returns the bound arguments so far.
func (f *Filter) Args() []any { return f.args }

// clause renders WHERE … ORDER BY … LIMIT … OFFSET … for a table aliased
// t; allowedOrder maps API order names to columns.
func (f *Filter) clause(allowedOrder map[string]string) string {
	var b strings.Builder
	if len(f.conds) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(f.conds, " AND "))
	}
	col, ok := allowedOrder[f.OrderBy]
	if !ok {
		col = allowedOrder["created_at"]
	}
	dir := "ASC"
	if f.Desc {
		dir = "DESC"
	}
	fmt.Fprintf(&b, " ORDER BY %s %s, t.guid %s", col, dir, dir)
	if f.Limit > 0 {
		fmt.Fprintf(&b, " LIMIT %d", f.Limit)
	}
	if f.Offset > 0 {
		fmt.Fprintf(&b, " OFFSET %d", f.Offset)
	}
	return b.String()
}

// Metadata are a resource's labels and annotations.
type Metadata struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func (m *Metadata) normalize() {
	if m.Labels == nil {
		m.Labels = map[string]string{}
	}
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
}

func joinConds(c []string) string { return strings.Join(c, " AND ") }
