package web

import (
	"slices"
	"strings"
)

// scopeAllowed reports whether scope is granted by one of patterns; a
// pattern may end in ".*" ("cloud_controller.*").
func scopeAllowed(scope string, patterns []string) bool {
	for _, p := range patterns {
		if p == scope {
			return true
		}
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(scope, prefix) && len(scope) > len(prefix) {
			return true
		}
	}
	return false
}

// intersectScopes returns the scopes of have that patterns allow, sorted
// and without duplicates.
func intersectScopes(have, patterns []string) []string {
	var out []string
	for _, s := range have {
		if scopeAllowed(s, patterns) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// parseScopeParam splits the space- (or comma-) separated scope parameter.
func parseScopeParam(v string) []string {
	f := strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '+' })
	slices.Sort(f)
	return slices.Compact(f)
}

// narrowScopes applies a requested scope list to the allowed one: an empty
// request gets everything allowed; otherwise every requested scope must be
// allowed.
func narrowScopes(allowed []string, requested string) ([]string, *oauthError) {
	req := parseScopeParam(requested)
	if len(req) == 0 {
		return allowed, nil
	}
	var bad []string
	for _, s := range req {
		if !slices.Contains(allowed, s) {
			bad = append(bad, s)
		}
	}
	if len(bad) > 0 {
		return nil, errorf(400, "invalid_scope", "Invalid scope: "+strings.Join(bad, ",")+". Did you know that you can get default scopes by simply sending no value?")
	}
	return req, nil
}
