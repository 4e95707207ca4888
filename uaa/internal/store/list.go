package store

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/anvilpaas/anvil/uaa/internal/scimfilter"
)

// ListOptions selects one page of a SCIM list.
type ListOptions struct {
	// Filter restricts the results; nil means all.
	Filter scimfilter.Expr
	// SortBy is a SCIM attribute (userName, meta.created, …); empty means
	// meta.created. Ties are broken by creation order.
	SortBy     string
	Descending bool
	// StartIndex is the 1-based index of the first result; values below 1
	// mean 1.
	StartIndex int
	// Count is the most results to return. As in SCIM, 0 returns none
	// (only the total); a negative Count means no limit. The zero
	// ListOptions therefore returns no resources: set Count.
	Count int
}

// listSpec describes how to list one resource type.
type listSpec struct {
	from  string // table and alias, "users u"
	cols  string // selected columns
	seq   string // tie-breaking column, "u.seq"
	attrs map[string]scimfilter.Column
}

// queries builds the count and page queries for opts; pageArgs extends
// args.
func (l listSpec) queries(opts ListOptions) (countSQL, pageSQL string, args, pageArgs []any, err error) {
	where, args, err := scimfilter.ToSQL(opts.Filter, l.attrs, 1)
	if err != nil {
		return "", "", nil, nil, err
	}
	sortBy := opts.SortBy
	if sortBy == "" {
		sortBy = "meta.created"
	}
	col, ok := lookupAttr(l.attrs, sortBy)
	if !ok || col.Exists != "" {
		return "", "", nil, nil, fmt.Errorf("cannot sort by %q: %w", sortBy, ErrInvalid)
	}
	order := col.SQL
	if col.Type == scimfilter.String {
		order = "lower(" + order + ")"
	}
	dir := " ASC"
	if opts.Descending {
		dir = " DESC"
	}
	countSQL = "SELECT count(*) FROM " + l.from + " WHERE " + where
	var b strings.Builder
	b.WriteString("SELECT " + l.cols + " FROM " + l.from + " WHERE " + where)
	b.WriteString(" ORDER BY " + order + dir + ", " + l.seq + dir)
	pageArgs = append(pageArgs, args...)
	if opts.Count >= 0 {
		pageArgs = append(pageArgs, opts.Count)
		b.WriteString(" LIMIT $" + strconv.Itoa(len(pageArgs)))
	}
	if opts.StartIndex > 1 {
		pageArgs = append(pageArgs, int64(opts.StartIndex)-1)
		b.WriteString(" OFFSET $" + strconv.Itoa(len(pageArgs)))
	}
	return countSQL, b.String(), args, pageArgs, nil
}

// lookupAttr finds a SCIM attribute the way scimfilter.ToSQL does: without
// regard to case, and with or without a schema URN prefix.
func lookupAttr(attrs map[string]scimfilter.Column, name string) (scimfilter.Column, bool) {
	for k, c := range attrs {
		if strings.EqualFold(k, name) {
			return c, true
		}
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 && strings.HasPrefix(strings.ToLower(name), "urn:") {
		return lookupAttr(attrs, name[i+1:])
	}
	return scimfilter.Column{}, false
}
