// Package appenv builds the environment of an app instance or task process
// as Cloud Foundry sets it: Cloud Controller's variables (LANG, PORT,
// MEMORY_LIMIT, VCAP_APP_HOST, VCAP_APP_PORT), the LRP's and the
// RunAction's own variables, Diego's instance variables (INSTANCE_GUID,
// CF_INSTANCE_GUID, CF_INSTANCE_INDEX, CF_INSTANCE_IP, …) and
// VCAP_APPLICATION with the instance's fields merged in, as the buildpack
// lifecycle's launcher does.
//
// Precedence, lowest first: the defaults Cloud Controller would set, the
// LRP's (or task's) env, the RunAction's env, then the instance variables
// (PORT and VCAP_APP_PORT too, when the LRP has ports: the runtime decides
// where the app listens), which the app cannot override. Each name appears once, so that getenv's
// first-match semantics cannot pick a stale value. Names that are empty or
// contain "=" or NUL, and values containing NUL, are dropped: execve cannot
// carry them.
//
// The LRP's VCAP_APPLICATION and the cf-router routes come from the BBS and
// are untrusted JSON: a VCAP_APPLICATION that is not a JSON object is
// replaced, and routes that do not parse give no URIs.
package appenv

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// Net is where an instance is reachable, from its container.
type Net struct {
	// HostIP is the cell's address (CF_INSTANCE_IP).
	HostIP string
	// IP is the container's own address (CF_INSTANCE_INTERNAL_IP).
	IP    string
	Ports []runtime.PortMapping
}

// LRP returns the environment of instance index (instanceGUID) of lrp.
// The app's PORT is the container port of its first mapping, which is the
// LRP's first port unless the runtime remapped it (host networking, where
// the app listens on its host port).
func LRP(lrp *bbsv1.DesiredLRP, index int32, instanceGUID string, net Net) []string {
	var l list
	port := appPort(lrp, net)
	l.set("LANG", "en_US.UTF-8")
	if lrp.GetMemoryMb() > 0 {
		l.set("MEMORY_LIMIT", fmt.Sprintf("%dm", lrp.GetMemoryMb()))
	}
	l.set("VCAP_APP_HOST", "0.0.0.0")
	l.add(lrp.GetEnv())
	l.add(lrp.GetAction().GetEnv())
	if port != 0 {
		// Where the app must listen: the rep's, whatever the LRP says.
		l.set("PORT", strconv.FormatUint(uint64(port), 10))
		l.set("VCAP_APP_PORT", strconv.FormatUint(uint64(port), 10))
	}

	idx := strconv.Itoa(int(index))
	l.set("INSTANCE_GUID", instanceGUID)
	l.set("INSTANCE_INDEX", idx)
	l.set("CF_INSTANCE_GUID", instanceGUID)
	l.set("CF_INSTANCE_INDEX", idx)
	l.networking(net)
	base, _ := l.get("VCAP_APPLICATION")
	l.set("VCAP_APPLICATION", VCAPApplication(base, lrp, index, instanceGUID, port))
	return l.strings()
}

func appPort(lrp *bbsv1.DesiredLRP, net Net) uint32 {
	if len(net.Ports) > 0 {
		return net.Ports[0].ContainerPort
	}
	if ps := lrp.GetPorts(); len(ps) > 0 {
		return ps[0]
	}
	return 0
}

// Task returns the environment of a task's process.
func Task(def *bbsv1.TaskDefinition, net Net) []string {
	var l list
	l.set("LANG", "en_US.UTF-8")
	if def.GetMemoryMb() > 0 {
		l.set("MEMORY_LIMIT", fmt.Sprintf("%dm", def.GetMemoryMb()))
	}
	l.add(def.GetEnv())
	l.add(def.GetAction().GetEnv())
	l.networking(net)
	return l.strings()
}

// cfPortMapping is one entry of CF_INSTANCE_PORTS, as Diego writes it.
type cfPortMapping struct {
	External uint32 `json:"external,omitempty"`
	Internal uint32 `json:"internal"`
}

// networking sets Diego's networking variables (executor run step).
func (l *list) networking(net Net) {
	l.set("CF_INSTANCE_IP", net.HostIP)
	l.set("CF_INSTANCE_INTERNAL_IP", net.IP)
	if len(net.Ports) == 0 {
		l.set("CF_INSTANCE_PORT", "")
		l.set("CF_INSTANCE_ADDR", "")
		l.set("CF_INSTANCE_PORTS", "[]")
		return
	}
	if hp := net.Ports[0].HostPort; hp > 0 {
		l.set("CF_INSTANCE_PORT", strconv.FormatUint(uint64(hp), 10))
		l.set("CF_INSTANCE_ADDR", fmt.Sprintf("%s:%d", net.HostIP, hp))
	}
	mappings := make([]cfPortMapping, len(net.Ports))
	for i, p := range net.Ports {
		mappings[i] = cfPortMapping{External: p.HostPort, Internal: p.ContainerPort}
	}
	b, _ := json.Marshal(mappings) // cannot fail
	l.set("CF_INSTANCE_PORTS", string(b))
}

// VCAPApplication returns the instance's VCAP_APPLICATION: base (the LRP's
// own, from Cloud Controller) when it is a JSON object, or one built from
// the LRP's metric tags and routes, with the instance's fields set (host,
// instance_id, instance_index, and port unless it is 0), as the launcher
// sets them.
func VCAPApplication(base string, lrp *bbsv1.DesiredLRP, index int32, instanceGUID string, port uint32) string {
	app := map[string]any{}
	var parsed map[string]json.RawMessage
	if err := json.Unmarshal([]byte(base), &parsed); err == nil && parsed != nil {
		for k, v := range parsed {
			app[k] = v
		}
	} else {
		fromLRP(app, lrp)
	}
	app["host"] = "0.0.0.0"
	app["instance_id"] = instanceGUID
	app["instance_index"] = index
	if port != 0 {
		app["port"] = port
	}
	b, err := json.Marshal(app)
	if err != nil { // a RawMessage that is not valid JSON cannot come from Unmarshal
		return "{}"
	}
	return string(b)
}

// fromLRP fills app with what Cloud Controller puts in VCAP_APPLICATION,
// as far as the LRP's metric tags and routes carry it.
func fromLRP(app map[string]any, lrp *bbsv1.DesiredLRP) {
	tags := lrp.GetMetricTags()
	appID := tags["app_id"]
	if appID == "" {
		appID = lrp.GetLogGuid()
	}
	uris := URIs(lrp.GetRoutes()["cf-router"])
	app["application_id"] = appID
	app["application_name"] = tags["app_name"]
	app["name"] = tags["app_name"]
	app["application_uris"] = uris
	app["uris"] = uris
	app["space_id"] = tags["space_id"]
	app["space_name"] = tags["space_name"]
	app["organization_id"] = tags["organization_id"]
	app["organization_name"] = tags["organization_name"]
	if v := tags["process_id"]; v != "" {
		app["process_id"] = v
	} else {
		app["process_id"] = lrp.GetProcessGuid()
	}
	if v := tags["process_type"]; v != "" {
		app["process_type"] = v
	}
	limits := map[string]any{"mem": lrp.GetMemoryMb(), "disk": lrp.GetDiskMb()}
	if n := lrp.GetAction().GetResourceLimits().GetNofile(); n > 0 {
		limits["fds"] = n
	}
	app["limits"] = limits
	app["users"] = nil
}

// cfRoute is one route in the cf-router routes JSON Cloud Controller
// writes into a desired LRP.
type cfRoute struct {
	Hostnames []string `json:"hostnames"`
}

// URIs returns the hostnames of cf-router routes JSON, sorted and without
// duplicates; nothing when it does not parse.
func URIs(routes []byte) []string {
	var rs []cfRoute
	if err := json.Unmarshal(routes, &rs); err != nil {
		return []string{}
	}
	seen := map[string]bool{}
	uris := []string{}
	for _, r := range rs {
		for _, h := range r.Hostnames {
			if h != "" && !seen[h] {
				seen[h] = true
				uris = append(uris, h)
			}
		}
	}
	sort.Strings(uris)
	return uris
}

// list is an environment where a later value replaces an earlier one of
// the same name, keeping the first position.
type list struct {
	names []string
	vals  map[string]string
}

func (l *list) set(name, value string) {
	if name == "" || strings.ContainsAny(name, "=\x00") || strings.Contains(value, "\x00") {
		return
	}
	if l.vals == nil {
		l.vals = map[string]string{}
	}
	if _, ok := l.vals[name]; !ok {
		l.names = append(l.names, name)
	}
	l.vals[name] = value
}

func (l *list) add(env []*bbsv1.EnvironmentVariable) {
	for _, e := range env {
		l.set(e.GetName(), e.GetValue())
	}
}

func (l *list) get(name string) (string, bool) {
	v, ok := l.vals[name]
	return v, ok
}

func (l *list) strings() []string {
	out := make([]string, len(l.names))
	for i, n := range l.names {
		out[i] = n + "=" + l.vals[n]
	}
	return out
}
