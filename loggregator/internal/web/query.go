package web

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"code.cloudfoundry.org/go-log-cache/v2/rpc/logcache_v1"

	"github.com/anvilpaas/anvil/loggregator/internal/store"
)

// Bounds of a read query, as log-cache has them.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
	// MaxNameFilter bounds the length of name_filter, a regular expression.
	MaxNameFilter = 1024
	// maxTypes bounds the envelope_types values of one request.
	maxTypes = 16
)

// errBadQuery marks a query-string problem (HTTP 400).
var errBadQuery = errors.New("bad query")

// ParseRead turns the query string of GET /api/v1/read/{source_id} into a
// store query: start_time (ns, inclusive, default 0, negative allowed),
// end_time (ns, exclusive; absent or 0 means no bound), envelope_types
// (repeatable: LOG, COUNTER, GAUGE, TIMER, EVENT, ANY), limit (1..1000,
// default 100; 0 means the default), descending (a boolean) and
// name_filter (an RE2 regular expression). Unknown parameters are ignored,
// as log-cache's gateway does; a repeated scalar parameter uses its first
// value. Every error wraps errBadQuery.
func ParseRead(v url.Values) (store.Query, error) {
	q := store.Query{Start: 0, End: math.MaxInt64, Limit: DefaultLimit}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if s, ok := first(v, "start_time"); ok {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			bad("start_time must be an integer (nanoseconds)")
		}
		q.Start = n
	}
	if s, ok := first(v, "end_time"); ok {
		n, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil:
			bad("end_time must be an integer (nanoseconds)")
		case n != 0:
			q.End = n
		}
	}
	if q.End <= q.Start {
		bad("end_time must be after start_time")
	}
	if s, ok := first(v, "limit"); ok {
		n, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil || n < 0:
			bad("limit must be a non-negative integer")
		case n > MaxLimit:
			bad("limit must be at most %d", MaxLimit)
		case n > 0:
			q.Limit = int(n)
		}
	}
	if s, ok := first(v, "descending"); ok && s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			bad("descending must be true or false")
		}
		q.Descending = b
	}
	types := v["envelope_types"]
	if len(types) > maxTypes {
		bad("too many envelope_types")
		types = nil
	}
	for _, s := range types {
		n, ok := logcache_v1.EnvelopeType_value[strings.ToUpper(s)]
		if !ok {
			bad("envelope_types: unknown type %q (LOG, COUNTER, GAUGE, TIMER, EVENT or ANY)", truncate(s))
			continue
		}
		q.Types = append(q.Types, logcache_v1.EnvelopeType(n))
	}
	if s, ok := first(v, "name_filter"); ok && s != "" {
		if len(s) > MaxNameFilter {
			bad("name_filter is longer than %d bytes", MaxNameFilter)
		} else if re, err := regexp.Compile(s); err != nil {
			bad("name_filter is not a valid regular expression")
		} else {
			q.NameFilter = re
		}
	}
	if len(errs) > 0 {
		return store.Query{}, fmt.Errorf("%w: %w", errBadQuery, errors.Join(errs...))
	}
	return q, nil
}

func first(v url.Values, key string) (string, bool) {
	vs, ok := v[key]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// truncate shortens untrusted input echoed in an error.
func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
