package web

import (
	"fmt"
	"strings"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
)

// Bounds of a label selector.
const (
	maxSelectorBytes        = 4096
	maxSelectorRequirements = 50
)

// labelRequirement is one comma-separated term of a label_selector.
type labelRequirement struct {
	Key    string
	Op     string // "exists", "!exists", "=", "!=", "in", "notin"
	Values []string
}

// parseLabelSelector parses CF's label selector grammar:
//
//	key | !key | key=value | key==value | key!=value | key in (v1,v2) | key notin (v1,v2)
//
// joined with commas (AND).
func parseLabelSelector(sel string) ([]labelRequirement, error) {
	bad := func(msg string) error {
		return apierr.BadQueryParameter("Invalid label_selector value: " + msg)
	}
	if len(sel) > maxSelectorBytes {
		return nil, bad("too long")
	}
	if strings.TrimSpace(sel) == "" {
		return nil, bad("empty")
	}
	var out []labelRequirement
	rest := sel
	for rest != "" {
		if len(out) >= maxSelectorRequirements {
			return nil, bad("too many requirements")
		}
		var term string
		// A set's values contain commas: take the term up to ")".
		if i := strings.IndexAny(rest, ",("); i >= 0 && rest[i] == '(' {
			j := strings.IndexByte(rest, ')')
			if j < 0 {
				return nil, bad("missing closing parenthesis")
			}
			term, rest = rest[:j+1], rest[j+1:]
			if rest != "" {
				if rest[0] != ',' {
					return nil, bad("expected ',' after ')'")
				}
				rest = rest[1:]
				if rest == "" {
					return nil, bad("trailing ','")
				}
			}
		} else if i >= 0 {
			term, rest = rest[:i], rest[i+1:]
			if rest == "" {
				return nil, bad("trailing ','")
			}
		} else {
			term, rest = rest, ""
		}
		req, err := parseRequirement(strings.TrimSpace(term))
		if err != nil {
			return nil, bad(err.Error())
		}
		out = append(out, req)
	}
	return out, nil
}

func parseRequirement(t string) (labelRequirement, error) {
	switch {
	case t == "":
		return labelRequirement{}, fmt.Errorf("empty requirement")
	case strings.HasPrefix(t, "!"):
		k := strings.TrimSpace(t[1:])
		return labelRequirement{Key: k, Op: "!exists"}, checkSelectorKey(k)
	case strings.Contains(t, " notin "), strings.Contains(t, " in "):
		op := "in"
		k, set, _ := strings.Cut(t, " in ")
		if strings.Contains(t, " notin ") {
			op = "notin"
			k, set, _ = strings.Cut(t, " notin ")
		}
		k, set = strings.TrimSpace(k), strings.TrimSpace(set)
		if !strings.HasPrefix(set, "(") || !strings.HasSuffix(set, ")") {
			return labelRequirement{}, fmt.Errorf("a set must be in parentheses")
		}
		var vals []string
		for _, v := range strings.Split(set[1:len(set)-1], ",") {
			v = strings.TrimSpace(v)
			if !labelValue.MatchString(v) || len(v) > 63 {
				return labelRequirement{}, fmt.Errorf("invalid value %q", v)
			}
			vals = append(vals, v)
		}
		return labelRequirement{Key: k, Op: op, Values: vals}, checkSelectorKey(k)
	case strings.Contains(t, "!="):
		k, v, _ := strings.Cut(t, "!=")
		return labelValueReq(k, "!=", v)
	case strings.Contains(t, "=="):
		k, v, _ := strings.Cut(t, "==")
		return labelValueReq(k, "=", v)
	case strings.Contains(t, "="):
		k, v, _ := strings.Cut(t, "=")
		return labelValueReq(k, "=", v)
	}
	return labelRequirement{Key: t, Op: "exists"}, checkSelectorKey(t)
}

func labelValueReq(k, op, v string) (labelRequirement, error) {
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if len(v) > 63 || !labelValue.MatchString(v) {
		return labelRequirement{}, fmt.Errorf("invalid value %q", v)
	}
	return labelRequirement{Key: k, Op: op, Values: []string{v}}, checkSelectorKey(k)
}

func checkSelectorKey(k string) error {
	if err := validKey(k); err != nil {
		return fmt.Errorf("invalid key %q: %w", k, err)
	}
	return nil
}

// labelSQL turns a selector into a condition on the jsonb column
// t.labels, with "?" placeholders.
func labelSQL(sel string) (string, []any, error) {
	reqs, err := parseLabelSelector(sel)
	if err != nil {
		return "", nil, err
	}
	var conds []string
	var args []any
	for _, r := range reqs {
		switch r.Op {
		case "exists":
			conds = append(conds, "(t.labels ->> ?) IS NOT NULL")
			args = append(args, r.Key)
		case "!exists":
			conds = append(conds, "(t.labels ->> ?) IS NULL")
			args = append(args, r.Key)
		case "=":
			conds = append(conds, "(t.labels ->> ?) = ?")
			args = append(args, r.Key, r.Values[0])
		case "!=":
			conds = append(conds, "(t.labels ->> ?) IS DISTINCT FROM ?")
			args = append(args, r.Key, r.Values[0])
		case "in":
			conds = append(conds, "(t.labels ->> ?) = ANY(?)")
			args = append(args, r.Key, r.Values)
		case "notin":
			conds = append(conds, "NOT coalesce((t.labels ->> ?) = ANY(?), false)")
			args = append(args, r.Key, r.Values)
		}
	}
	return "(" + strings.Join(conds, " AND ") + ")", args, nil
}
