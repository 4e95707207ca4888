// Package query parses the query string of CF v3 list endpoints and builds
// their pagination envelope.
//
// Rules (CF's, and what the cf CLI relies on):
//   - page ≥ 1, per_page 1..5000 (default 50);
//   - order_by names one allowed field, "-" in front sorts descending;
//   - filters are comma-separated lists; a comma inside a value arrives as
//     "%2C" after the first decoding and is restored;
//   - a filter with an empty value means "equals the empty string";
//   - created_ats / updated_ats take a list of timestamps, or one with a
//     relational operator: created_ats[lt]=2026-01-01T00:00:00Z;
//   - unknown parameters are a 400 naming the valid ones;
//   - pagination hrefs are absolute and carry every parameter.
package query

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
)

// Bounds.
const (
	DefaultPerPage = 50
	MaxPerPage     = 5000
	// MaxValues bounds the values of one filter (the cf CLI batches GUIDs
	// by 200).
	MaxValues = 1000
	// MaxPage bounds page so that offsets cannot overflow.
	MaxPage = 10_000_000
	// MaxQueryBytes bounds the whole query string.
	MaxQueryBytes = 64 << 10
)

// Spec says what a list endpoint accepts.
type Spec struct {
	// Filters are the accepted filter keys, e.g. "names", "guids".
	Filters []string
	// OrderBy are the accepted order_by fields; "created_at" and
	// "updated_at" are always accepted.
	OrderBy []string
	// Includes are the accepted include= values.
	Includes []string
	// Extra are other accepted parameters the handler reads itself.
	Extra []string
	// LabelSelector accepts label_selector.
	LabelSelector bool
	// Timestamps accepts created_ats and updated_ats.
	Timestamps bool
}

// TimeFilter is a created_ats or updated_ats condition.
type TimeFilter struct {
	Field string // "created_at" or "updated_at"
	Op    string // "eq" (any of Times), "lt", "lte", "gt", "gte"
	Times []time.Time
}

// List is a parsed list request.
type List struct {
	Page, PerPage int
	OrderBy       string // a column name, e.g. "created_at"
	Desc          bool
	Filters       map[string][]string
	LabelSelector string
	Include       []string
	Times         []TimeFilter
	values        url.Values
}

// Has reports whether filter key was given.
func (l List) Has(key string) bool { _, ok := l.Filters[key]; return ok }

// Offset is the row offset of the page.
func (l List) Offset() int { return (l.Page - 1) * l.PerPage }

// Includes reports whether include=name was asked for.
func (l List) Includes(name string) bool { return slices.Contains(l.Include, name) }

// Values returns the raw query (for handlers reading Extra parameters).
func (l List) Values() url.Values { return l.values }

// Parse parses q against spec.
func Parse(q url.Values, spec Spec) (List, error) {
	l := List{Page: 1, PerPage: DefaultPerPage, OrderBy: "created_at", Filters: map[string][]string{}, values: q}
	size := 0
	for k, vs := range q {
		size += len(k)
		for _, v := range vs {
			size += len(v)
		}
	}
	if size > MaxQueryBytes {
		return l, apierr.BadQueryParameter("the query string is too long")
	}
	var unknown []string
	for key, vs := range q {
		v := ""
		if len(vs) > 0 {
			v = vs[len(vs)-1]
		}
		switch {
		case key == "page":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return l, apierr.BadQueryParameter("Page must be greater than 0")
			}
			if n > MaxPage {
				return l, apierr.BadQueryParameter(fmt.Sprintf("Page must be at most %d", MaxPage))
			}
			l.Page = n
		case key == "per_page":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxPerPage {
				return l, apierr.BadQueryParameter(fmt.Sprintf("Per page must be between 1 and %d", MaxPerPage))
			}
			l.PerPage = n
		case key == "order_by":
			field, desc := strings.CutPrefix(v, "-")
			if !desc {
				field = strings.TrimPrefix(field, "+")
			}
			allowed := append([]string{"created_at", "updated_at"}, spec.OrderBy...)
			if !slices.Contains(allowed, field) {
				return l, apierr.BadQueryParameter("Order by can only be: " + quoteList(allowed))
			}
			l.OrderBy, l.Desc = field, desc
		case key == "label_selector" && spec.LabelSelector:
			l.LabelSelector = v
		case key == "include" && len(spec.Includes) > 0:
			for _, inc := range SplitValues(v) {
				if !slices.Contains(spec.Includes, inc) {
					return l, apierr.BadQueryParameter("Invalid included resource: '" + inc + "'. Valid included resources are: " + quoteList(spec.Includes))
				}
				l.Include = append(l.Include, inc)
			}
		case spec.Timestamps && (strings.HasPrefix(key, "created_ats") || strings.HasPrefix(key, "updated_ats")):
			tf, err := parseTimeFilter(key, v)
			if err != nil {
				return l, err
			}
			l.Times = append(l.Times, tf)
		case slices.Contains(spec.Filters, key):
			vals := SplitValues(v)
			if len(vals) > MaxValues {
				return l, apierr.BadQueryParameter(fmt.Sprintf("%s has more than %d values", key, MaxValues))
			}
			l.Filters[key] = vals
		case slices.Contains(spec.Extra, key) || matchesExtra(spec.Extra, key):
		default:
			unknown = append(unknown, key)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		valid := []string{"page", "per_page", "order_by"}
		valid = append(valid, spec.Filters...)
		if spec.LabelSelector {
			valid = append(valid, "label_selector")
		}
		if len(spec.Includes) > 0 {
			valid = append(valid, "include")
		}
		if spec.Timestamps {
			valid = append(valid, "created_ats", "updated_ats")
		}
		valid = append(valid, spec.Extra...)
		return l, apierr.BadQueryParameter(fmt.Sprintf("Unknown query parameter(s): %s. Valid parameters are: %s", quoteList(unknown), quoteList(valid)))
	}
	return l, nil
}

// matchesExtra accepts bracketed forms of Extra keys, e.g. "fields" allows
// "fields[space.organization]".
func matchesExtra(extra []string, key string) bool {
	base, _, ok := strings.Cut(key, "[")
	return ok && strings.HasSuffix(key, "]") && slices.Contains(extra, base)
}

// SplitValues splits a filter value on commas; "%2C" inside an element is
// a literal comma (the cf CLI double-encodes commas in names).
func SplitValues(v string) []string {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "%2C", ","), "%2c", ",")
	}
	return parts
}

func parseTimeFilter(key, v string) (TimeFilter, error) {
	field := "created_at"
	if strings.HasPrefix(key, "updated_ats") {
		field = "updated_at"
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(key, "created_ats"), "updated_ats")
	tf := TimeFilter{Field: field, Op: "eq"}
	if rest != "" {
		op := strings.TrimSuffix(strings.TrimPrefix(rest, "["), "]")
		if !strings.HasPrefix(rest, "[") || !strings.HasSuffix(rest, "]") || !slices.Contains([]string{"lt", "lte", "gt", "gte"}, op) {
			return tf, apierr.BadQueryParameter(fmt.Sprintf("Invalid relational operator: '%s'. Valid operators are: 'lt', 'lte', 'gt', 'gte'", rest))
		}
		tf.Op = op
	}
	vals := SplitValues(v)
	if tf.Op != "eq" && len(vals) != 1 {
		return tf, apierr.BadQueryParameter(fmt.Sprintf("%s with a relational operator takes one timestamp", key))
	}
	for _, s := range vals {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return tf, apierr.BadQueryParameter(fmt.Sprintf("%s has an invalid timestamp: '%s'", key, s))
		}
		tf.Times = append(tf.Times, t)
	}
	return tf, nil
}

func quoteList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = "'" + v + "'"
	}
	return strings.Join(q, ", ")
}

// Link is a pagination link.
type Link struct {
	Href string `json:"href"`
}

// Pagination is the pagination object of a list response.
type Pagination struct {
	TotalResults int   `json:"total_results"`
	TotalPages   int   `json:"total_pages"`
	First        Link  `json:"first"`
	Last         Link  `json:"last"`
	Next         *Link `json:"next"`
	Previous     *Link `json:"previous"`
}

// Pagination builds the envelope for a list of total results whose
// absolute URL (without query) is pageURL.
func (l List) Pagination(pageURL string, total int) Pagination {
	pages := int(math.Max(1, math.Ceil(float64(total)/float64(l.PerPage))))
	link := func(page int) Link {
		q := url.Values{}
		for k, vs := range l.values {
			q[k] = vs
		}
		q.Set("page", strconv.Itoa(page))
		q.Set("per_page", strconv.Itoa(l.PerPage))
		return Link{Href: pageURL + "?" + q.Encode()}
	}
	p := Pagination{TotalResults: total, TotalPages: pages, First: link(1), Last: link(pages)}
	if l.Page < pages {
		n := link(l.Page + 1)
		p.Next = &n
	}
	if l.Page > 1 {
		prev := link(min(l.Page-1, pages))
		p.Previous = &prev
	}
	return p
}
