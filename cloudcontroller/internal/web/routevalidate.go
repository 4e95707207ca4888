package web

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
)

// CF's limits on route and domain names.
const (
	maxDomainLength = 253 // a fully qualified name, without the root dot
	minDomainLength = 3
	maxLabelLength  = 63 // one DNS label, and so a route's host
	maxPathLength   = 128
)

var (
	// domainPattern is CF's DomainDecorator::DOMAIN_REGEX: two or more
	// RFC 1035 labels.
	domainPattern = regexp.MustCompile(`(?i)^(([a-z0-9]|[a-z0-9][a-z0-9-]{0,61}[a-z0-9])\.)+([a-z0-9]|[a-z0-9][a-z0-9-]{0,61}[a-z0-9])$`)
	// hostPattern is CF's route host format: "*" or word characters and
	// hyphens (Ruby's \w is ASCII).
	hostPattern = regexp.MustCompile(`^([A-Za-z0-9_-]+|\*)?$`)
)

// problems collects CF validation messages; CF joins a message's errors
// with ", " in one 422 detail.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return apierr.Unprocessable(strings.Join(p, ", "))
}

// ValidateDomainName checks a domain name as CF's DomainCreateMessage does
// and returns its 422 with every problem, or nil.
func ValidateDomainName(name string) error {
	var p problems
	n := utf8.RuneCountInString(name)
	if strings.TrimSpace(name) == "" {
		p.add("Name can't be blank")
	}
	if n < minDomainLength {
		p.add("Name is too short (minimum is %d characters)", minDomainLength)
	}
	if n > maxDomainLength {
		p.add("Name is too long (maximum is %d characters)", maxDomainLength)
	}
	if !domainPattern.MatchString(name) {
		p.add("Name does not comply with RFC 1035 standards")
	}
	if !strings.Contains(name, ".") {
		p.add(`Name must contain at least one "."`)
	}
	for _, label := range strings.Split(name, ".") {
		if utf8.RuneCountInString(label) > maxLabelLength {
			p.add("Name subdomains must each be at most %d characters", maxLabelLength)
			break
		}
	}
	if strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.')
	}) >= 0 {
		p.add("Name must consist of alphanumeric characters and hyphens")
	}
	return p.err()
}

// hostProblems checks a route's host as CF's RouteCreateMessage does.
func hostProblems(host string) problems {
	var p problems
	if utf8.RuneCountInString(host) > maxLabelLength {
		p.add("Host is too long (maximum is %d characters)", maxLabelLength)
	}
	if !hostPattern.MatchString(host) {
		p.add(`Host must be either "*" or contain only alphanumeric characters, "_", or "-"`)
	}
	return p
}

// pathProblems checks a route's path as CF's RouteCreateMessage does.
func pathProblems(path string) problems {
	var p problems
	if utf8.RuneCountInString(path) > maxPathLength {
		p.add("Path is too long (maximum is %d characters)", maxPathLength)
	}
	if path != "" && (path[0] != '/' || strings.ContainsAny(path, "\n")) {
		p.add("Path must begin with /")
	}
	if strings.Contains(path, "?") {
		p.add("Path cannot contain ?")
	}
	if path == "/" {
		p.add("Path cannot be exactly /")
	}
	return p
}

// validPathChars reports whether path is made of URI path characters
// (RFC 3986 pchar and "/", with well-formed %XX escapes); CF calls anything
// else "Path is invalid.".
func validPathChars(path string) bool {
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0:
		case c == '%':
			if i+2 >= len(path) || !isHex(path[i+1]) || !isHex(path[i+2]) {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// Route options (CF's RouteOptionsMessage, with hash-based routing on).
const (
	optLoadBalancing = "loadbalancing"
	optHashHeader    = "hash_header"
	optHashBalance   = "hash_balance"
	lbHash           = "hash"
)

var loadBalancingAlgorithms = []string{"round-robin", "least-connection", lbHash}

// parseRouteOptions validates the options object of a route create or
// update body. A value of null means "unset" and comes back as nil.
func parseRouteOptions(raw json.RawMessage) (map[string]*string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, apierr.Unprocessable("Options 'options' is not a valid object")
	}
	var p problems
	out := map[string]*string{}
	var unknown []string
	for k, v := range obj {
		if string(v) == "null" {
			out[k] = nil
			continue
		}
		switch k {
		case optLoadBalancing, optHashHeader:
			var s string
			if json.Unmarshal(v, &s) != nil {
				s = string(v) // reported below as not a valid value
			}
			out[k] = &s
		case optHashBalance:
			var s string
			if json.Unmarshal(v, &s) != nil {
				var f json.Number
				if json.Unmarshal(v, &f) != nil {
					p.add("Options Hash balance must be a numeric value")
					continue
				}
				s = f.String()
			}
			out[k] = &s
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		p.add("Options Unknown field(s): '%s'", strings.Join(unknown, "', '"))
	}
	lb, hasLB := out[optLoadBalancing]
	if hasLB && lb != nil && *lb != "" && !slices.Contains(loadBalancingAlgorithms, *lb) {
		p.add("Options Loadbalancing must be one of '%s' if present", strings.Join(loadBalancingAlgorithms, ", "))
	}
	if h := out[optHashHeader]; h != nil && utf8.RuneCountInString(*h) > 128 {
		p.add("Options Hash header must be at most 128 characters")
	}
	if b := out[optHashBalance]; b != nil && *b != "" {
		if len(*b) > 16 {
			p.add("Options Hash balance must be at most 16 characters")
		} else if f, err := strconv.ParseFloat(*b, 64); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			p.add("Options Hash balance must be a numeric value")
		} else if f != 0 && (f < 1.1 || f > 10) {
			p.add("Options Hash balance must be either 0 or between 1.1 and 10.0")
		}
	}
	nonHashLB := hasLB && lb != nil && *lb != "" && *lb != lbHash
	if h := out[optHashHeader]; h != nil && *h != "" && nonHashLB {
		p.add("Options Hash header can only be set when loadbalancing is hash")
	}
	if b := out[optHashBalance]; b != nil && *b != "" && nonHashLB {
		p.add("Options Hash balance can only be set when loadbalancing is hash")
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// mergeRouteOptions applies a validated options patch to current the way
// CF's Route model stores options: null and empty values are dropped, hash
// options are dropped unless loadbalancing is hash, and hash_balance is
// rounded to one decimal and kept as a string.
func mergeRouteOptions(current map[string]string, patch map[string]*string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range current {
		out[k] = v
	}
	for k, v := range patch {
		if v == nil || *v == "" {
			delete(out, k)
			continue
		}
		out[k] = *v
	}
	if out[optLoadBalancing] != lbHash {
		delete(out, optHashHeader)
		delete(out, optHashBalance)
	} else if out[optHashHeader] == "" {
		return nil, apierr.Unprocessable("Hash header must be present when loadbalancing is set to hash.")
	}
	if b, ok := out[optHashBalance]; ok {
		f, err := strconv.ParseFloat(b, 64)
		if err != nil {
			return nil, apierr.Unprocessable("Options Hash balance must be a numeric value")
		}
		out[optHashBalance] = strconv.FormatFloat(math.Round(f*10)/10, 'f', 1, 64)
	}
	return out, nil
}
