package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Bounds of quota limits (CF's MAX_DB_INT and MAX_DB_BIGINT).
const (
	maxQuotaInt    = 2147483647
	maxQuotaBigint = 9223372036854775807
	// maxQuotaName is CF's MAX_ORGANIZATION_QUOTA_NAME_LENGTH.
	maxQuotaName = 250
)

// limitField is one numeric limit of a quota's apps, services, routes or
// domains section. null in JSON (nil here) is unlimited.
type limitField struct {
	section, key string
	max          int64
	ptr          func(*store.Limits) **int64
}

// limitFields is in CF's validation order, which orders error messages.
var limitFields = []limitField{
	{"apps", "total_memory_in_mb", maxQuotaInt, func(l *store.Limits) **int64 { return &l.TotalMemoryMB }},
	{"apps", "per_process_memory_in_mb", maxQuotaInt, func(l *store.Limits) **int64 { return &l.PerProcessMemoryMB }},
	{"apps", "total_instances", maxQuotaInt, func(l *store.Limits) **int64 { return &l.TotalInstances }},
	{"apps", "per_app_tasks", maxQuotaInt, func(l *store.Limits) **int64 { return &l.PerAppTasks }},
	{"apps", "log_rate_limit_in_bytes_per_second", maxQuotaBigint, func(l *store.Limits) **int64 { return &l.LogRateLimit }},
	{"services", "total_service_keys", maxQuotaInt, func(l *store.Limits) **int64 { return &l.TotalServiceKeys }},
	{"services", "total_service_instances", maxQuotaInt, func(l *store.Limits) **int64 { return &l.TotalServiceInstances }},
	{"routes", "total_routes", maxQuotaInt, func(l *store.Limits) **int64 { return &l.TotalRoutes }},
	{"routes", "total_reserved_ports", maxQuotaInt, func(l *store.Limits) **int64 { return &l.TotalReservedPorts }},
	{"domains", "total_domains", maxQuotaInt, func(l *store.Limits) **int64 { return &l.TotalDomains }},
}

const paidServicesKey = "paid_services_allowed"

// limitsPatch is what a quota request body sets: only the keys it names.
type limitsPatch struct {
	// ints maps "section.key" to the new limit; nil is unlimited.
	ints map[string]*int64
	paid *bool
}

// apply writes the patch over l.
func (p limitsPatch) apply(l *store.Limits) {
	for _, f := range limitFields {
		if v, ok := p.ints[f.section+"."+f.key]; ok {
			*f.ptr(l) = v
		}
	}
	if p.paid != nil {
		l.PaidServicesAllowed = *p.paid
	}
}

// quotaSections are the raw limit sections of a body; nil means the
// section was not given.
type quotaSections struct {
	Apps, Services, Routes, Domains json.RawMessage
}

// parseLimits validates the given sections as CF does and returns the
// patch, or a 422 listing every problem, e.g. "Apps Total memory in mb
// must be greater than or equal to 0".
func parseLimits(q quotaSections) (limitsPatch, error) {
	p := limitsPatch{ints: map[string]*int64{}}
	var problems []string
	for _, sec := range []struct {
		name string
		raw  json.RawMessage
	}{{"apps", q.Apps}, {"services", q.Services}, {"routes", q.Routes}, {"domains", q.Domains}} {
		if sec.raw == nil {
			continue
		}
		problems = append(problems, parseLimitSection(sec.name, sec.raw, &p)...)
	}
	if len(problems) > 0 {
		return limitsPatch{}, apierr.Unprocessable(strings.Join(problems, ", "))
	}
	return p, nil
}

// parseLimitSection reads one section into p and returns its problems.
func parseLimitSection(section string, raw json.RawMessage, p *limitsPatch) []string {
	prefix := railsAttrName(section) + " "
	var m map[string]json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &m) != nil {
		return []string{prefix + "must be an object"}
	}
	var problems, unknown []string
	for k := range m {
		known := section == "services" && k == paidServicesKey
		for _, f := range limitFields {
			known = known || (f.section == section && f.key == k)
		}
		if !known {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		problems = append(problems, prefix+"Unknown field(s): '"+strings.Join(unknown, "', '")+"'")
	}
	for _, f := range limitFields {
		v, ok := m[f.key]
		if f.section != section || !ok {
			continue
		}
		n, msg := parseLimitValue(v, f.max)
		if msg != "" {
			problems = append(problems, prefix+railsAttrName(f.key)+" "+msg)
			continue
		}
		p.ints[f.section+"."+f.key] = n
	}
	if v, ok := m[paidServicesKey]; ok && section == "services" {
		switch string(bytes.TrimSpace(v)) {
		case "true", "false":
			b := string(bytes.TrimSpace(v)) == "true"
			p.paid = &b
		case "null":
			// CF: a null paid_services_allowed is the default, allowed.
			b := true
			p.paid = &b
		default:
			problems = append(problems, prefix+railsAttrName(paidServicesKey)+" must be a boolean")
		}
	}
	return problems
}

// parseLimitValue parses a limit: null (unlimited) or an integer in
// [0, max]. It returns Rails' numericality message on failure.
func parseLimitValue(raw json.RawMessage, max int64) (*int64, string) {
	s := string(bytes.TrimSpace(raw))
	if s == "null" {
		return nil, ""
	}
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return nil, "is not a number"
	}
	if strings.ContainsAny(s, ".eE") {
		return nil, "must be an integer"
	}
	if digits, neg := strings.CutPrefix(s, "-"); neg && strings.Trim(digits, "0") != "" {
		return nil, "must be greater than or equal to 0"
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > max {
		return nil, fmt.Sprintf("must be less than or equal to %d", max)
	}
	return &n, ""
}

// railsAttrName turns a JSON key into Rails' attribute name: "total_memory_in_mb"
// → "Total memory in mb".
func railsAttrName(key string) string {
	s := strings.ReplaceAll(key, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// checkQuotaLimits validates a quota's limits together.
func checkQuotaLimits(l store.Limits) error {
	if l.TotalReservedPorts != nil && l.TotalRoutes != nil && *l.TotalReservedPorts > *l.TotalRoutes {
		return apierr.Unprocessable("Total reserved ports must be -1, 0, or a positive integer, and must be less than or equal to total routes.")
	}
	return nil
}

// quotaName validates a quota name.
func quotaName(name *string) error {
	switch {
	case name == nil:
		return apierr.Unprocessable("Name must be a string")
	case strings.TrimSpace(*name) == "":
		return apierr.Unprocessable("Name can't be blank")
	case len(*name) > maxQuotaName:
		return apierr.Unprocessable(fmt.Sprintf("Name is too long (maximum is %d characters)", maxQuotaName))
	}
	return nil
}

// quotaRelBody is a to-many relationship in a request: {"data":[{"guid":…}]}.
type quotaRelBody struct {
	Data []GUIDRef `json:"data"`
}

// guids returns the relationship's distinct guids; an entry without a
// guid is a 422 naming the relationship as CF does (what "Relationships
// Organizations", key "organizations").
func (b *quotaRelBody) guids(what, key string) ([]string, error) {
	if b == nil {
		return []string{}, nil
	}
	out := make([]string, 0, len(b.Data))
	for _, d := range b.Data {
		if d.GUID == "" {
			return nil, apierr.Unprocessable(fmt.Sprintf(`%s must be structured like this: "%s: [{"guid": "valid-guid"},{"guid": "valid-guid"}]"`, what, key))
		}
		if !slices.Contains(out, d.GUID) {
			out = append(out, d.GUID)
		}
	}
	return out, nil
}

// quotaRelJSON is a to-many relationship in a response.
type quotaRelJSON struct {
	Data []GUIDRef `json:"data"`
}

func quotaRel(guids []string) quotaRelJSON {
	out := quotaRelJSON{Data: make([]GUIDRef, 0, len(guids))}
	for _, g := range guids {
		out.Data = append(out.Data, GUIDRef{GUID: g})
	}
	return out
}

// rubyGUIDList formats guids as CF's messages do (a Ruby array):
// ["a", "b"].
func rubyGUIDList(guids []string) string {
	q := make([]string, len(guids))
	for i, g := range guids {
		q[i] = strconv.Quote(g)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// missingGUIDs returns the wanted guids not in found, in order.
func missingGUIDs(wanted []string, found map[string]bool) []string {
	var out []string
	for _, g := range wanted {
		if !found[g] {
			out = append(out, g)
		}
	}
	return out
}

type appsLimitsJSON struct {
	TotalMemoryInMB      *int64 `json:"total_memory_in_mb"`
	PerProcessMemoryInMB *int64 `json:"per_process_memory_in_mb"`
	LogRateLimit         *int64 `json:"log_rate_limit_in_bytes_per_second"`
	TotalInstances       *int64 `json:"total_instances"`
	PerAppTasks          *int64 `json:"per_app_tasks"`
}

type servicesLimitsJSON struct {
	PaidServicesAllowed   bool   `json:"paid_services_allowed"`
	TotalServiceInstances *int64 `json:"total_service_instances"`
	TotalServiceKeys      *int64 `json:"total_service_keys"`
}

type routesLimitsJSON struct {
	TotalRoutes        *int64 `json:"total_routes"`
	TotalReservedPorts *int64 `json:"total_reserved_ports"`
}

type domainsLimitsJSON struct {
	TotalDomains *int64 `json:"total_domains"`
}

func appsLimits(l store.Limits) appsLimitsJSON {
	return appsLimitsJSON{TotalMemoryInMB: l.TotalMemoryMB, PerProcessMemoryInMB: l.PerProcessMemoryMB, LogRateLimit: l.LogRateLimit,
		TotalInstances: l.TotalInstances, PerAppTasks: l.PerAppTasks}
}

func servicesLimits(l store.Limits) servicesLimitsJSON {
	return servicesLimitsJSON{PaidServicesAllowed: l.PaidServicesAllowed, TotalServiceInstances: l.TotalServiceInstances, TotalServiceKeys: l.TotalServiceKeys}
}

func routesLimits(l store.Limits) routesLimitsJSON {
	return routesLimitsJSON{TotalRoutes: l.TotalRoutes, TotalReservedPorts: l.TotalReservedPorts}
}
