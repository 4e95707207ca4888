package diego

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// The desired LRP of a process, as Cloud Foundry's AppRecipeBuilder makes
// it for a buildpack app.

const (
	// launcherPath is the lifecycle launcher the rep mounts at
	// /tmp/lifecycle.
	launcherPath = "/tmp/lifecycle/launcher"
	appDir       = "/home/vcap/app"
	// defaultPort is the port apps listen on ($PORT is mapped to it).
	defaultPort = 8080
	// fdsLimit is every instance's open-file limit (CF's default).
	fdsLimit = 16384
	// annotationPrefix starts the annotation the sync writes.
	annotationPrefix = "anvil-sync/v1"
)

// routeDest is a route mapped to a process.
type routeDest struct {
	URL      string // host.domain/path
	Port     int
	Protocol string
	Options  map[string]string
}

// lrpInput is everything a process's LRP is built from.
type lrpInput struct {
	Process     store.Process
	App         store.App
	Space       store.Space
	Org         store.Org
	Droplet     store.DropletDownload
	DropletURL  string
	Routes      []routeDest
	ExternalURL string
	// RunningEnv is the running environment variable group.
	RunningEnv map[string]string
	// Rollout is the ACTIVE deployment moving the process to this
	// definition, if any (rollout.go).
	Rollout store.Rollout
}

// cfRoute is one element of the cf-router routes entry.
type cfRoute struct {
	Hostnames []string          `json:"hostnames"`
	Port      int               `json:"port"`
	Protocol  string            `json:"protocol,omitempty"`
	Options   map[string]string `json:"options,omitempty"`
}

// lrpGUID is the LRP process guid of a process version.
func lrpGUID(processGUID, version string) string { return processGUID + "-" + version }

// processOf returns the process guid of an LRP process guid ("" if it is
// not one the sync made).
func processOf(lrp string) string {
	if len(lrp) < 38 || lrp[36] != '-' {
		return ""
	}
	return lrp[:36]
}

// annotation records the run definition's and metric tags' hashes.
func annotation(run, tags string) string {
	return annotationPrefix + " run=" + run + " tags=" + tags
}

// parseAnnotation returns the hashes of an annotation the sync wrote.
func parseAnnotation(a string) (run, tags string) {
	f := strings.Fields(a)
	if len(f) != 3 || f[0] != annotationPrefix {
		return "", ""
	}
	return strings.TrimPrefix(f[1], "run="), strings.TrimPrefix(f[2], "tags=")
}

// builtLRP is a process's desired LRP (without process_guid) and what
// tells its versions apart.
type builtLRP struct {
	LRP *bbsv1.DesiredLRP
	// RunHash changes when a new version is needed.
	RunHash string
	// TagsHash covers the metric tags (updatable in place).
	TagsHash string
}

// runDefinition is what makes a version: a change of any of these needs
// new instances. Environment variables are left out on purpose: as in CF
// they take effect at the next restart.
type runDefinition struct {
	Droplet      string `json:"droplet"`
	SHA256       string `json:"sha256"`
	Command      string `json:"command"`
	Stack        string `json:"stack"`
	MemoryMB     int    `json:"memory_mb"`
	DiskMB       int    `json:"disk_mb"`
	LogRateLimit int64  `json:"log_rate_limit"`
	HealthCheck  store.HealthCheck
	Readiness    store.HealthCheck
	Ports        []uint32 `json:"ports"`
}

func hashJSON(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// command is the process's start command: its own, else the droplet's
// for its type ("" lets the launcher use staging_info.yml's).
func command(in lrpInput) string {
	if in.Process.Command != nil {
		return *in.Process.Command
	}
	return in.Droplet.ProcessTypes[in.Process.Type]
}

// stack is the droplet's stack, else the app's.
func stack(in lrpInput) string {
	if in.Droplet.Stack != "" {
		return in.Droplet.Stack
	}
	return in.App.Stack
}

// ports are 8080 and the other ports routes send traffic to.
func ports(routes []routeDest) []uint32 {
	out := []uint32{defaultPort}
	for _, r := range routes {
		if p := uint32(r.Port); p != 0 && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out[1:])
	return out
}

// cpuWeight is CF's: memory between 128 MB and 8 GB maps to 1–100.
func cpuWeight(memoryMB int) uint32 {
	m := min(max(memoryMB, 128), 8192)
	return uint32(100 * m / 8192)
}

// routesJSON is the cf-router entry: one element per mapped route (CF's
// shape; hostnames carry the path as host.domain/path).
func routesJSON(routes []routeDest) []byte {
	elems := make([]cfRoute, 0, len(routes))
	for _, r := range routes {
		port := r.Port
		if port == 0 {
			port = defaultPort
		}
		proto := r.Protocol
		if proto == "" {
			proto = "http1"
		}
		var opts map[string]string
		if len(r.Options) > 0 {
			opts = maps.Clone(r.Options)
		}
		elems = append(elems, cfRoute{Hostnames: []string{r.URL}, Port: port, Protocol: proto, Options: opts})
	}
	sort.SliceStable(elems, func(i, j int) bool {
		if elems[i].Hostnames[0] != elems[j].Hostnames[0] {
			return elems[i].Hostnames[0] < elems[j].Hostnames[0]
		}
		return elems[i].Port < elems[j].Port
	})
	b, _ := json.Marshal(elems)
	return b
}

// metricTags are the tags on the instances' logs and metrics.
func metricTags(in lrpInput) map[string]string {
	return map[string]string{
		"source_id":         in.App.GUID,
		"app_id":            in.App.GUID,
		"app_name":          in.App.Name,
		"space_id":          in.Space.GUID,
		"space_name":        in.Space.Name,
		"organization_id":   in.Org.GUID,
		"organization_name": in.Org.Name,
		"process_id":        in.Process.GUID,
		"process_type":      in.Process.Type,
	}
}

// vcapApplication is the running VCAP_APPLICATION (the launcher adds host,
// port, instance_id and instance_index).
func vcapApplication(in lrpInput, version string) string {
	uris := make([]string, 0, len(in.Routes))
	for _, r := range in.Routes {
		if !slices.Contains(uris, r.URL) {
			uris = append(uris, r.URL)
		}
	}
	v := map[string]any{
		"cf_api":              in.ExternalURL,
		"limits":              map[string]int{"fds": fdsLimit, "mem": in.Process.MemoryMB, "disk": in.Process.DiskMB},
		"application_id":      in.App.GUID,
		"application_name":    in.App.Name,
		"application_uris":    uris,
		"application_version": version,
		"version":             version,
		"name":                in.App.Name,
		"uris":                uris,
		"space_id":            in.Space.GUID,
		"space_name":          in.Space.Name,
		"organization_id":     in.Org.GUID,
		"organization_name":   in.Org.Name,
		"process_id":          in.Process.GUID,
		"process_type":        in.Process.Type,
		"users":               nil,
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// instanceEnv is the instances' environment: CF's system variables, the
// running environment variable group, then the app's own (sorted). PORT, INSTANCE_INDEX, INSTANCE_GUID and CF_INSTANCE_*
// come from the rep.
func instanceEnv(in lrpInput, version string) []*bbsv1.EnvironmentVariable {
	out := []*bbsv1.EnvironmentVariable{
		{Name: "VCAP_APPLICATION", Value: vcapApplication(in, version)},
		{Name: "VCAP_SERVICES", Value: "{}"},
		{Name: "MEMORY_LIMIT", Value: strconv.Itoa(in.Process.MemoryMB) + "m"},
		{Name: "LANG", Value: "en_US.UTF-8"},
		{Name: "CF_STACK", Value: stack(in)},
	}
	for _, k := range slices.Sorted(maps.Keys(in.RunningEnv)) {
		if _, own := in.App.Env[k]; !own { // the app's own variables win
			out = append(out, &bbsv1.EnvironmentVariable{Name: k, Value: in.RunningEnv[k]})
		}
	}
	keys := slices.Sorted(maps.Keys(in.App.Env))
	for _, k := range keys {
		out = append(out, &bbsv1.EnvironmentVariable{Name: k, Value: in.App.Env[k]})
	}
	return out
}

func seconds(p *int) uint32 {
	if p == nil || *p <= 0 {
		return 0
	}
	return uint32(*p)
}

// check converts a CF health check ("process" → a PROCESS check).
func check(h store.HealthCheck) *bbsv1.Check {
	c := &bbsv1.Check{TimeoutMs: seconds(h.InvocationTimeout) * 1000, IntervalMs: seconds(h.Interval) * 1000}
	switch h.Type {
	case "http":
		c.Type, c.Port, c.Endpoint = bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_HTTP, defaultPort, "/"
		if h.Endpoint != nil && *h.Endpoint != "" {
			c.Endpoint = *h.Endpoint
		}
	case "port":
		c.Type, c.Port = bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_PORT, defaultPort
	default:
		c.Type = bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_PROCESS
	}
	return c
}

// healthCheck is the LRP's checks: liveness from health_check (its
// data.timeout is the start timeout), readiness unless it is "process".
func healthCheck(p store.Process) *bbsv1.HealthCheckDefinition {
	h := &bbsv1.HealthCheckDefinition{Check: check(p.HealthCheck), StartTimeoutMs: seconds(p.HealthCheck.Timeout) * 1000}
	if t := p.Readiness.Type; t == "http" || t == "port" {
		h.Readiness = check(p.Readiness)
	}
	return h
}

// buildLRP builds the desired LRP of version (its process_guid included).
func buildLRP(in lrpInput, version string) builtLRP {
	p := in.Process
	cmd := command(in)
	pts := ports(in.Routes)
	run := runDefinition{
		Droplet: in.Droplet.DropletGUID, SHA256: in.Droplet.SHA256, Command: cmd, Stack: stack(in),
		MemoryMB: p.MemoryMB, DiskMB: p.DiskMB, LogRateLimit: p.LogRateLimit,
		HealthCheck: p.HealthCheck, Readiness: p.Readiness, Ports: pts,
	}
	tags := metricTags(in)
	b := builtLRP{RunHash: hashJSON(run), TagsHash: hashJSON(tags)}
	guid := lrpGUID(p.GUID, version)
	b.LRP = &bbsv1.DesiredLRP{
		ProcessGuid:                guid,
		Domain:                     Domain,
		Instances:                  int32(p.Instances),
		RootFs:                     "preloaded:" + stack(in),
		MemoryMb:                   int32(p.MemoryMB),
		DiskMb:                     int32(p.DiskMB),
		LogRateLimitBytesPerSecond: p.LogRateLimit,
		CpuWeight:                  cpuWeight(p.MemoryMB),
		Ports:                      pts,
		Routes:                     map[string][]byte{"cf-router": routesJSON(in.Routes)},
		Env:                        instanceEnv(in, version),
		Setup: []*bbsv1.DownloadAction{{
			Artifact: "droplet", From: in.DropletURL, To: "/home/vcap",
			ChecksumAlgorithm: "sha256", ChecksumValue: in.Droplet.SHA256,
			CacheKey: "droplets-" + guid, User: "vcap",
		}},
		Action: &bbsv1.RunAction{
			Path: launcherPath, Args: []string{appDir, cmd, in.Droplet.ExecutionMetadata}, Dir: "/home/vcap",
			User: "vcap", LogSource: "APP/PROC/" + strings.ToUpper(p.Type),
			ResourceLimits: &bbsv1.ResourceLimits{Nofile: fdsLimit},
		},
		HealthCheck: healthCheck(p),
		MetricTags:  tags,
		Annotation:  annotation(b.RunHash, b.TagsHash),
		LogGuid:     in.App.GUID,
	}
	return b
}

// String describes a built LRP for logs.
func (b builtLRP) String() string {
	return fmt.Sprintf("%s (run %s)", b.LRP.GetProcessGuid(), b.RunHash)
}
