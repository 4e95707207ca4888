// Package manifest parses and validates Cloud Foundry application
// manifests: the YAML the cf CLI sends to
// POST /v3/spaces/:guid/actions/apply_manifest and …/manifest_diff.
//
// The input is untrusted. Parse bounds the document's size, nesting depth,
// node count and number of applications, relies on the YAML decoder's
// alias-expansion limit, and never panics. Keys are accepted with dashes or
// underscores (disk-quota and disk_quota), as CF does; unknown keys (path,
// services, sidecars, …) are ignored.
//
// Validation problems come back as Errors, one message per problem, each
// prefixed as CF prefixes them: "For application 'x': Process \"web\":
// Instances must be greater than or equal to 0".
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Bounds on untrusted input.
const (
	MaxBytes        = 1 << 20
	MaxDepth        = 24
	MaxNodes        = 200_000
	MaxApplications = 1000
	maxInstances    = 2_000_000
	maxInt32        = math.MaxInt32
)

// Manifest is a parsed manifest.
type Manifest struct {
	Applications []App
}

// App is one entry of applications.
type App struct {
	Name string
	// Buildpacks is set when the manifest names buildpacks (buildpack: or
	// buildpacks:); an empty list means auto-detection.
	Buildpacks    []string
	HasBuildpacks bool
	Stack         *string
	Docker        *Docker
	// Env is merged into the app's variables (values rendered as strings).
	Env map[string]string
	// Web is the app-level process settings, which apply to the web
	// process.
	Web       Process
	Processes []Process
	// Routes are route URLs (host.domain/path) when HasRoutes.
	Routes       []Route
	HasRoutes    bool
	NoRoute      bool
	RandomRoute  bool
	DefaultRoute bool
	Metadata     *Metadata
	// Raw is the application's map as written (original key spelling),
	// for manifest_diff.
	Raw map[string]any
}

// Docker is the docker section.
type Docker struct {
	Image    string
	Username string
}

// Route is one entry of routes.
type Route struct {
	URL      string
	Protocol string
}

// Metadata is labels and annotations (nil value deletes).
type Metadata struct {
	Labels      map[string]*string
	Annotations map[string]*string
}

// Process holds the process settings a manifest can give. Nil is "not
// given". HasCommand with a nil Command resets the command.
type Process struct {
	Type                         string
	Instances                    *int
	MemoryMB                     *int64
	DiskMB                       *int64
	LogRate                      *int64
	Command                      *string
	HasCommand                   bool
	HealthCheckType              *string
	HealthCheckEndpoint          *string
	HealthCheckTimeout           *int
	HealthCheckInvocationTimeout *int
	HealthCheckInterval          *int
	ReadinessType                *string
	ReadinessEndpoint            *string
	ReadinessInvocationTimeout   *int
	ReadinessInterval            *int
}

// Errors are validation problems, in CF's words.
type Errors []string

func (e Errors) Error() string { return strings.Join(e, ", ") }

// ErrSyntax is a document that is not YAML, or exceeds the bounds.
var ErrSyntax = errors.New("manifest: invalid YAML")

// Parse parses and validates a manifest. It returns an error wrapping
// ErrSyntax for malformed or oversized input and Errors for a manifest
// that parses but is invalid.
func Parse(data []byte) (m *Manifest, err error) {
	defer func() {
		// The YAML decoder is third-party code on hostile input; a panic
		// in it must not take the request down.
		if v := recover(); v != nil {
			m, err = nil, fmt.Errorf("%w: %v", ErrSyntax, v)
		}
	}()
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrSyntax, MaxBytes)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	nodes := 0
	if err := bound(&doc, 0, &nodes); err != nil {
		return nil, err
	}
	var raw any
	if err := doc.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	top, ok := raw.(map[string]any)
	if !ok {
		return nil, Errors{"Cannot parse manifest with no 'applications' field."}
	}
	if v, ok := top["version"]; ok && v != nil {
		if n, isInt := v.(int); !isInt || n != 1 {
			return nil, Errors{"Unsupported manifest schema version. Currently supported versions: [1]."}
		}
	}
	apps, ok := top["applications"].([]any)
	if !ok || len(apps) == 0 {
		return nil, Errors{"Cannot parse manifest with no 'applications' field."}
	}
	if len(apps) > MaxApplications {
		return nil, Errors{fmt.Sprintf("Manifest may list at most %d applications", MaxApplications)}
	}
	m = &Manifest{}
	var all Errors
	for i, a := range apps {
		app, problems := parseApp(a)
		if len(problems) > 0 {
			prefix := fmt.Sprintf("For application at index %d: ", i)
			if app.Name != "" {
				prefix = fmt.Sprintf("For application '%s': ", app.Name)
			}
			for _, p := range problems {
				all = append(all, prefix+p)
			}
			continue
		}
		m.Applications = append(m.Applications, app)
	}
	if len(all) > 0 {
		return nil, all
	}
	return m, nil
}

// bound walks the node tree (aliases are not followed) and enforces depth
// and node count.
func bound(n *yaml.Node, depth int, count *int) error {
	if depth > MaxDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrSyntax, MaxDepth)
	}
	*count++
	if *count > MaxNodes {
		return fmt.Errorf("%w: more than %d nodes", ErrSyntax, MaxNodes)
	}
	for _, c := range n.Content {
		if err := bound(c, depth+1, count); err != nil {
			return err
		}
	}
	return nil
}

// normalize maps dashed keys to CF's underscored ones.
func normalize(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[strings.ReplaceAll(k, "-", "_")] = v
	}
	return out
}

type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func parseApp(v any) (App, problems) {
	var app App
	var p problems
	raw, ok := v.(map[string]any)
	if !ok {
		p.add("Application must be an object")
		return app, p
	}
	app.Raw = raw
	m := normalize(raw)
	switch n := m["name"].(type) {
	case string:
		app.Name = strings.TrimSpace(n)
	case nil:
	default:
		p.add("Name must be a string")
	}
	if app.Name == "" && len(p) == 0 {
		p.add("Name must not be empty")
	}
	_, hasBuildpack := m["buildpack"]
	_, hasBuildpacks := m["buildpacks"]
	if hasBuildpack && hasBuildpacks {
		p.add("Buildpack and Buildpacks fields cannot be used together.")
	}
	if hasBuildpacks {
		app.HasBuildpacks = true
		switch bs := m["buildpacks"].(type) {
		case nil:
			app.Buildpacks = []string{}
		case []any:
			app.Buildpacks = []string{}
			for _, b := range bs {
				s, ok := b.(string)
				if !ok {
					p.add("Buildpacks must only contain strings")
					break
				}
				if s != "" && s != "default" && s != "null" {
					app.Buildpacks = append(app.Buildpacks, s)
				}
			}
		default:
			p.add("Buildpacks must be an array")
		}
	} else if hasBuildpack {
		app.HasBuildpacks = true
		app.Buildpacks = []string{}
		switch b := m["buildpack"].(type) {
		case nil:
		case string:
			if b != "" && b != "default" && b != "null" {
				app.Buildpacks = []string{b}
			}
		default:
			p.add("Buildpack must be a string")
		}
	}
	if v, ok := m["stack"]; ok {
		s, isStr := v.(string)
		if !isStr {
			p.add("Stack must be a string")
		} else {
			app.Stack = &s
		}
	}
	if v, ok := m["docker"]; ok && v != nil {
		d, isMap := v.(map[string]any)
		img, _ := d["image"].(string)
		if !isMap || img == "" {
			p.add("Docker image must be a string")
		} else {
			user, _ := d["username"].(string)
			app.Docker = &Docker{Image: img, Username: user}
		}
		if app.HasBuildpacks {
			p.add("Docker cannot be used together with buildpacks")
		}
	}
	if v, ok := m["env"]; ok {
		env, err := parseEnv(v)
		if err != "" {
			p.add("%s", err)
		}
		app.Env = env
	}
	app.Web = parseProcess(m, true, &p)
	app.Web.Type = "web"
	if v, ok := m["processes"]; ok {
		list, isList := v.([]any)
		if !isList {
			p.add("Processes must be an array of process configurations")
		} else {
			seen := map[string]bool{}
			dup := map[string]bool{}
			for _, item := range list {
				pm, isMap := item.(map[string]any)
				if !isMap {
					p.add("Processes must be an array of process configurations")
					break
				}
				pm = normalize(pm)
				typ, _ := pm["type"].(string)
				if strings.TrimSpace(typ) == "" {
					p.add("All Processes must specify a type")
					continue
				}
				if seen[typ] && !dup[typ] {
					dup[typ] = true
					p.add(`Process "%s" may only be present once`, typ)
				}
				seen[typ] = true
				pr := parseProcess(pm, false, &p)
				pr.Type = typ
				app.Processes = append(app.Processes, pr)
			}
		}
	}
	if v, ok := m["routes"]; ok {
		app.HasRoutes = true
		routes, err := parseRoutes(v)
		if err != "" {
			p.add("%s", err)
		}
		app.Routes = routes
	}
	app.NoRoute = boolKey(m, "no_route", "No-route", &p)
	app.RandomRoute = boolKey(m, "random_route", "Random-route", &p)
	app.DefaultRoute = boolKey(m, "default_route", "Default-route", &p)
	if v, ok := m["metadata"]; ok && v != nil {
		md, err := parseMetadata(v)
		if err != "" {
			p.add("%s", err)
		}
		app.Metadata = md
	}
	return app, p
}

func boolKey(m map[string]any, key, field string, p *problems) bool {
	v, ok := m[key]
	if !ok || v == nil {
		return false
	}
	b, isBool := v.(bool)
	if !isBool {
		p.add("%s must be a boolean", field)
	}
	return b
}

// scalarString renders a YAML scalar as CF does for env values.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	case nil:
		return "", true
	}
	return "", false
}

func parseEnv(v any) (map[string]string, string) {
	raw, ok := v.(map[string]any)
	if !ok {
		if v == nil {
			return map[string]string{}, ""
		}
		return nil, "Env must be an object of keys and values"
	}
	env := make(map[string]string, len(raw))
	for k, val := range raw {
		if msg := EnvKeyProblem(k); msg != "" {
			return nil, "Env " + msg
		}
		s, ok := scalarString(val)
		if !ok {
			return nil, "Env must be an object of keys and values"
		}
		env[k] = s
	}
	return env, ""
}

// EnvKeyProblem is CF's check of an environment variable name: "" if k
// may be set, else the problem ("cannot start with VCAP_").
func EnvKeyProblem(k string) string {
	u := strings.ToUpper(k)
	switch {
	case k == "":
		return "key must be a minimum length of 1"
	case strings.HasPrefix(u, "VCAP_"):
		return "cannot start with VCAP_"
	case strings.HasPrefix(u, "VMC"):
		return "cannot start with VMC_"
	case u == "PORT":
		return "cannot set PORT"
	}
	return ""
}

func parseRoutes(v any) ([]Route, string) {
	list, ok := v.([]any)
	if !ok {
		return nil, "Routes must be a list of route objects"
	}
	var out []Route
	for _, item := range list {
		m, isMap := item.(map[string]any)
		if !isMap {
			return nil, "Routes must be a list of route objects"
		}
		u, _ := m["route"].(string)
		if !routeURL.MatchString(u) {
			return nil, fmt.Sprintf("The route '%v' is not a properly formed URL", m["route"])
		}
		proto, _ := m["protocol"].(string)
		if proto != "" && proto != "http1" && proto != "http2" && proto != "tcp" {
			return nil, "Route protocol must be 'http1', 'http2' or 'tcp'."
		}
		out = append(out, Route{URL: strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")), Protocol: proto})
	}
	return out, ""
}

// routeURL is a host.domain[:port][/path] route, optionally with a scheme.
var routeURL = regexp.MustCompile(`^(https?://)?(\*|[A-Za-z0-9_-]+)(\.[A-Za-z0-9_-]+)+(:\d{1,5})?(/[^\s?#]*)?$`)

func parseMetadata(v any) (*Metadata, string) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, "Metadata must be an object"
	}
	md := &Metadata{}
	for key, field := range map[string]*map[string]*string{"labels": &md.Labels, "annotations": &md.Annotations} {
		raw, present := m[key]
		if !present || raw == nil {
			continue
		}
		vals, isMap := raw.(map[string]any)
		if !isMap {
			return nil, fmt.Sprintf("Metadata %s must be an object", key)
		}
		out := make(map[string]*string, len(vals))
		for k, val := range vals {
			if val == nil {
				out[k] = nil
				continue
			}
			s, ok := scalarString(val)
			if !ok {
				return nil, fmt.Sprintf("Metadata %s values must be strings", key)
			}
			out[k] = &s
		}
		*field = out
	}
	return md, ""
}

// parseProcess reads the process keys of m (an app, for the web process,
// or an entry of processes).
func parseProcess(m map[string]any, appLevel bool, p *problems) Process {
	var pr Process
	var pp problems
	typ := "web"
	if !appLevel {
		typ, _ = m["type"].(string)
	}
	if v, ok := m["instances"]; ok && v != nil {
		if n, ok := intValue(v, "Instances", 0, maxInstances, &pp); ok {
			pr.Instances = &n
		}
	}
	pr.MemoryMB = megabytes(m, "memory", "Memory", &pp)
	pr.DiskMB = megabytes(m, "disk_quota", "Disk quota", &pp)
	if v, ok := m["log_rate_limit_per_second"]; ok && v != nil {
		s, _ := scalarString(v)
		s = strings.TrimSpace(s)
		switch s {
		case "-1", "0":
			n, _ := strconv.ParseInt(s, 10, 64)
			pr.LogRate = &n
		default:
			b, msg := ToBytes(s)
			if msg != "" {
				pp.add("Log rate limit per second %s", msg)
			} else if b < -1 {
				pp.add("Log rate limit must be an integer greater than or equal to -1")
			} else {
				pr.LogRate = &b
			}
		}
	}
	if v, ok := m["command"]; ok {
		pr.HasCommand = true
		switch c := v.(type) {
		case nil:
		case string:
			if c == "" || c == "null" || c == "default" {
				break
			}
			if len(c) > 4096 {
				pp.add("Command must be between 1 and 4096 characters")
			}
			pr.Command = &c
		default:
			pp.add("Command must be a string")
		}
	}
	pr.HealthCheckType = healthCheckType(m, "health_check_type", "Health check type", &pp)
	pr.ReadinessType = healthCheckType(m, "readiness_health_check_type", "Readiness health check type", &pp)
	pr.HealthCheckEndpoint = endpoint(m, "health_check_http_endpoint", "Health check http endpoint", &pp)
	pr.ReadinessEndpoint = endpoint(m, "readiness_health_check_http_endpoint", "Readiness health check http endpoint", &pp)
	pr.HealthCheckTimeout = optInt(m, "timeout", "Timeout", &pp)
	if pr.HealthCheckTimeout == nil {
		pr.HealthCheckTimeout = optInt(m, "health_check_timeout", "Health check timeout", &pp)
	}
	pr.HealthCheckInvocationTimeout = optInt(m, "health_check_invocation_timeout", "Health check invocation timeout", &pp)
	pr.HealthCheckInterval = optInt(m, "health_check_interval", "Health check interval", &pp)
	pr.ReadinessInvocationTimeout = optInt(m, "readiness_health_check_invocation_timeout", "Readiness health check invocation timeout", &pp)
	pr.ReadinessInterval = optInt(m, "readiness_health_check_interval", "Readiness health check interval", &pp)
	if pr.HealthCheckEndpoint != nil && pr.HealthCheckType != nil && *pr.HealthCheckType != "http" {
		pp.add(`Health check type must be "http" to set a health check HTTP endpoint`)
	}
	if pr.ReadinessEndpoint != nil && pr.ReadinessType != nil && *pr.ReadinessType != "http" {
		pp.add(`Readiness health check type must be "http" to set a health check HTTP endpoint`)
	}
	for _, msg := range pp {
		p.add(`Process "%s": %s`, typ, msg)
	}
	return pr
}

func healthCheckType(m map[string]any, key, field string, p *problems) *string {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	s, _ := v.(string)
	if s == "none" {
		s = "process" // CF: none is the deprecated name of process
	}
	if s != "port" && s != "process" && s != "http" {
		p.add(`%s must be "port", "process", or "http"`, field)
		return nil
	}
	return &s
}

func endpoint(m map[string]any, key, field string, p *problems) *string {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	s, isStr := v.(string)
	if !isStr || len(s) > 255 || !strings.HasPrefix(s, "/") {
		p.add("%s must be a valid URI path", field)
		return nil
	}
	return &s
}

func optInt(m map[string]any, key, field string, p *problems) *int {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	n, ok := intValue(v, field, 1, maxInt32, p)
	if !ok {
		return nil
	}
	return &n
}

// intValue reads an integer with Rails numericality's messages.
func intValue(v any, field string, min, max int, p *problems) (int, bool) {
	var n int
	switch x := v.(type) {
	case int:
		n = x
	case float64:
		if x != math.Trunc(x) {
			p.add("%s must be an integer", field)
			return 0, false
		}
		if x > float64(math.MaxInt32)*4 || x < -float64(math.MaxInt32)*4 {
			p.add("%s must be less than or equal to %d", field, max)
			return 0, false
		}
		n = int(x)
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			if _, ferr := strconv.ParseFloat(strings.TrimSpace(x), 64); ferr == nil {
				p.add("%s must be an integer", field)
			} else {
				p.add("%s is not a number", field)
			}
			return 0, false
		}
		n = i
	default:
		p.add("%s is not a number", field)
		return 0, false
	}
	if n < min {
		p.add("%s must be greater than or equal to %d", field, min)
		return 0, false
	}
	if n > max {
		p.add("%s must be less than or equal to %d", field, max)
		return 0, false
	}
	return n, true
}

func megabytes(m map[string]any, key, field string, p *problems) *int64 {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	s, _ := scalarString(v)
	mb, msg := ToMB(s)
	if msg != "" {
		p.add("%s %s", field, msg)
		return nil
	}
	if mb <= 0 {
		p.add("%s must be greater than 0MB", field)
		return nil
	}
	if mb > maxInt32 {
		p.add("%s must be less than or equal to %dMB", field, maxInt32)
		return nil
	}
	return &mb
}

var (
	numericPrefix = regexp.MustCompile(`^-?\d+(?:\.\d+)?`)
	byteQuantity  = regexp.MustCompile(`^(?i)(-?\d+(?:\.\d+)?)\s*(B|K|KB|M|MB|G|GB|T|TB)$`)
)

const unitProblem = "must use a supported unit: B, K, KB, M, MB, G, GB, T, or TB"

// ToBytes converts a CF byte quantity ("512M", "1G", "64KB") to bytes, or
// returns CF's problem ("is not a number", "must use a supported unit…").
func ToBytes(s string) (int64, string) {
	s = strings.TrimSpace(s)
	if !numericPrefix.MatchString(s) {
		return 0, "is not a number"
	}
	m := byteQuantity.FindStringSubmatch(s)
	if m == nil {
		return 0, unitProblem
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, "is not a number"
	}
	mult := map[string]float64{"B": 1, "K": 1 << 10, "KB": 1 << 10, "M": 1 << 20, "MB": 1 << 20, "G": 1 << 30, "GB": 1 << 30, "T": 1 << 40, "TB": 1 << 40}[strings.ToUpper(m[2])]
	b := f * mult
	if b > math.MaxInt64/2 || b < -math.MaxInt64/2 {
		return 0, unitProblem
	}
	return int64(b), ""
}

// ToMB converts a CF byte quantity to megabytes (rounded down).
func ToMB(s string) (int64, string) {
	b, msg := ToBytes(s)
	if msg != "" {
		return 0, msg
	}
	return b / (1 << 20), ""
}
