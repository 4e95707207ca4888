package web

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/manifest"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Manifests: POST /v3/spaces/:guid/actions/apply_manifest (what `cf push`
// sends, with or without a manifest file), POST /v3/spaces/:guid/
// manifest_diff and GET /v3/apps/:guid/manifest.
//
// apply_manifest validates the whole manifest in the request (422 with
// CF's "For application 'x': …" texts), creates the apps that are missing
// (as CF's AppFindOrCreateSkeleton does), records audit.app.apply_manifest
// and queues a job that applies the rest: lifecycle, env, metadata,
// processes and routes. The job is idempotent, so a retried attempt
// converges to the same state.

func (s *Server) registerManifests() {
	s.authed("POST /v3/spaces/{guid}/actions/apply_manifest", s.applyManifest)
	s.authed("POST /v3/spaces/{guid}/manifest_diff", s.manifestDiff)
}

// readManifest checks the content type and reads and parses the body.
func readManifest(r *http.Request) (*manifest.Manifest, []byte, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-yaml" && mt != "text/yaml" && mt != "application/yaml" && mt != "text/x-yaml" {
		return nil, nil, apierr.BadRequest("Content-Type must be yaml")
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, manifest.MaxBytes+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, nil, apierr.RequestTooLarge()
		}
		return nil, nil, apierr.MessageParseError("could not read body")
	}
	if len(data) > manifest.MaxBytes {
		return nil, nil, apierr.RequestTooLarge()
	}
	m, err := manifest.Parse(data)
	var errs manifest.Errors
	switch {
	case errors.As(err, &errs):
		return nil, nil, apierr.Unprocessable(errs.Error())
	case err != nil:
		return nil, nil, apierr.MessageParseError("invalid YAML")
	}
	return m, data, nil
}

// manifestSpace loads the space of a manifest request: visible (else 404)
// and writable by the caller (a space developer).
func (s *Server) manifestSpace(r *http.Request, a *Actor) (store.Space, error) {
	sp, err := s.visibleSpace(r, a, r.PathValue("guid"))
	if err != nil {
		return sp, err
	}
	return sp, requireAppWrite(r.Context(), a, sp)
}

type applyPayload struct {
	SpaceGUID string `json:"space_guid"`
	Manifest  string `json:"manifest"`
	// Admin skips the route_creation flag, as for the request itself.
	Admin bool `json:"admin"`
}

func (s *Server) applyManifest(w http.ResponseWriter, r *http.Request, a *Actor) error {
	sp, err := s.manifestSpace(r, a)
	if err != nil {
		return err
	}
	m, data, err := readManifest(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	for _, ma := range m.Applications {
		if ma.Docker != nil {
			if err := s.requireFlag(ctx, a, store.FlagDiegoDocker); err != nil {
				e, _ := apierr.As(err)
				return apierr.Unprocessable(fmt.Sprintf("For application '%s': %s", ma.Name, e.Detail))
			}
		}
	}
	apps := make([]store.App, 0, len(m.Applications))
	for _, ma := range m.Applications {
		app, err := s.findOrCreateApp(ctx, sp, ma)
		if err != nil {
			return err
		}
		apps = append(apps, app)
	}
	for i, app := range apps {
		raw, _ := yaml.Marshal(map[string]any{"applications": []any{auditManifest(m.Applications[i].Raw)}})
		s.audit(r, a, appEvent(eventAppApplyManifest, app, sp, map[string]any{"manifest": string(raw)}))
	}
	return s.enqueue(w, r, a, "space.apply_manifest", applyPayload{SpaceGUID: sp.GUID, Manifest: string(data), Admin: a.Admin()})
}

// auditManifest is an application's manifest as audit events record it:
// environment values hidden, as CF's audit_hash does.
func auditManifest(raw map[string]any) map[string]any {
	out := make(map[string]any, len(raw))
	for k, v := range raw {
		if k == "env" {
			v = "[PRIVATE DATA HIDDEN]"
		}
		out[k] = v
	}
	return out
}

// findOrCreateApp returns the app named in ma, creating it (with its web
// process) if the space has none of that name.
func (s *Server) findOrCreateApp(ctx context.Context, sp store.Space, ma manifest.App) (store.App, error) {
	prefix := fmt.Sprintf("For application '%s': ", ma.Name)
	app, err := s.store.FindApp(ctx, sp.GUID, ma.Name)
	if err == nil {
		if app.LifecycleType == store.LifecycleDocker && ma.HasBuildpacks {
			return app, apierr.Unprocessable(prefix + "Buildpacks cannot be configured for a docker lifecycle app.")
		}
		if app.LifecycleType == store.LifecycleBuildpack && ma.Docker != nil {
			return app, apierr.Unprocessable(prefix + "Docker cannot be configured for a buildpack lifecycle app.")
		}
		return app, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return app, err
	}
	if len(ma.Name) > 255 {
		return app, apierr.Unprocessable(prefix + "Name is too long (maximum is 255 characters)")
	}
	app = store.App{Name: ma.Name, SpaceGUID: sp.GUID, LifecycleType: store.LifecycleBuildpack, EnableSSH: true, RevisionsEnabled: true}
	if ma.Docker != nil {
		app.LifecycleType = store.LifecycleDocker
	} else {
		if ma.Stack != nil {
			app.Stack = *ma.Stack
		}
		if err := s.checkStack(ctx, &app); err != nil {
			return app, prefixed(prefix, err)
		}
	}
	web, err := s.newWebProcess(ctx, sp.GUID)
	if err != nil {
		return app, err
	}
	created, err := s.store.CreateApp(ctx, app, web)
	if errors.Is(err, store.ErrConflict) {
		// Created concurrently: use that one.
		return s.store.FindApp(ctx, sp.GUID, ma.Name)
	}
	return created, err
}

// prefixed puts prefix in front of a CF error's detail.
func prefixed(prefix string, err error) error {
	e, ok := apierr.As(err)
	if !ok {
		return err
	}
	c := *e
	c.Detail = prefix + c.Detail
	return &c
}

// runApplyManifest is the space.apply_manifest job.
func (s *Server) runApplyManifest(ctx context.Context, p json.RawMessage) error {
	var pl applyPayload
	if err := json.Unmarshal(p, &pl); err != nil {
		return apierr.ServerError()
	}
	m, err := manifest.Parse([]byte(pl.Manifest))
	if err != nil {
		return apierr.Unprocessable(err.Error())
	}
	sp, err := s.store.GetSpace(ctx, pl.SpaceGUID)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("Space")
	}
	if err != nil {
		return err
	}
	for _, ma := range m.Applications {
		if err := s.applyApp(ctx, sp, ma, pl.Admin); err != nil {
			return prefixed(fmt.Sprintf("For application '%s': ", ma.Name), err)
		}
	}
	return nil
}

// applyApp applies one application of a manifest.
func (s *Server) applyApp(ctx context.Context, sp store.Space, ma manifest.App, admin bool) error {
	app, err := s.findOrCreateApp(ctx, sp, ma)
	if err != nil {
		return err
	}
	if ma.HasBuildpacks && app.LifecycleType == store.LifecycleBuildpack {
		if err := s.validateBuildpacks(ctx, ma.Buildpacks); err != nil {
			return err
		}
		app.Buildpacks = ma.Buildpacks
	}
	if ma.Stack != nil && app.LifecycleType == store.LifecycleBuildpack {
		app.Stack = *ma.Stack
		if err := s.checkStack(ctx, &app); err != nil {
			return err
		}
	}
	for k, v := range ma.Env {
		app.Env[k] = v
	}
	if ma.Metadata != nil {
		mp := metadataPatch{Labels: ma.Metadata.Labels, Annotations: ma.Metadata.Annotations}
		if err := mp.apply(&app.Metadata); err != nil {
			return err
		}
	}
	if app, err = s.store.UpdateApp(ctx, app); err != nil {
		return err
	}
	web := ma.Web
	var others []manifest.Process
	for _, p := range ma.Processes {
		if p.Type == store.ProcessWeb {
			web = p
		} else {
			others = append(others, p)
		}
	}
	for _, mp := range append([]manifest.Process{web}, others...) {
		if err := s.applyManifestProcess(ctx, app, mp); err != nil {
			return err
		}
	}
	return s.applyManifestRoutes(ctx, sp, app, ma, admin)
}

// applyManifestProcess creates the process if missing and applies the
// manifest's scale and settings.
func (s *Server) applyManifestProcess(ctx context.Context, app store.App, mp manifest.Process) error {
	p, err := s.store.GetAppProcess(ctx, app.GUID, mp.Type)
	if errors.Is(err, store.ErrNotFound) {
		np, err := s.newWebProcess(ctx, app.SpaceGUID)
		if err != nil {
			return err
		}
		np.AppGUID, np.Type = app.GUID, mp.Type
		if p, err = s.store.CreateProcess(ctx, np); errors.Is(err, store.ErrConflict) {
			p, err = s.store.GetAppProcess(ctx, app.GUID, mp.Type)
		}
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if mp.HasCommand {
		p.Command = mp.Command
	}
	applyManifestHealthCheck(&p.HealthCheck, mp.HealthCheckType, mp.HealthCheckEndpoint, mp.HealthCheckInvocationTimeout, mp.HealthCheckInterval)
	if mp.HealthCheckTimeout != nil {
		p.HealthCheck.Timeout = mp.HealthCheckTimeout
	}
	applyManifestHealthCheck(&p.Readiness, mp.ReadinessType, mp.ReadinessEndpoint, mp.ReadinessInvocationTimeout, mp.ReadinessInterval)
	if p, err = s.store.UpdateProcess(ctx, p); err != nil {
		return err
	}
	c := scaleChange{Instances: mp.Instances, LogRate: mp.LogRate}
	if mp.MemoryMB != nil {
		v := int(*mp.MemoryMB)
		c.MemoryMB = &v
	}
	if mp.DiskMB != nil {
		v := int(*mp.DiskMB)
		c.DiskMB = &v
	}
	if c.Instances == nil && c.MemoryMB == nil && c.DiskMB == nil && c.LogRate == nil {
		s.desire(ctx, p)
		return nil
	}
	_, err = s.applyScale(ctx, p, c)
	return err
}

func applyManifestHealthCheck(h *store.HealthCheck, typ, endpoint *string, invocation, interval *int) {
	if typ != nil {
		h.Type = *typ
		if h.Type != "http" {
			h.Endpoint = nil
		}
	}
	if endpoint != nil {
		h.Endpoint = endpoint
	}
	if invocation != nil {
		h.InvocationTimeout = invocation
	}
	if interval != nil {
		h.Interval = interval
	}
}

// applyManifestRoutes applies routes, no-route, random-route and
// default-route as CF does: no-route unmaps every route; routes creates
// the missing routes and maps them to the web process (other mappings
// stay); random-route and default-route apply only when routes is not
// given and the app has no route.
func (s *Server) applyManifestRoutes(ctx context.Context, sp store.Space, app store.App, ma manifest.App, admin bool) error {
	if ma.NoRoute {
		return s.store.UnmapApp(ctx, app.GUID)
	}
	if ma.HasRoutes {
		for _, mr := range ma.Routes {
			rt, err := s.routeForURL(ctx, sp, mr.URL, admin)
			if err != nil {
				return err
			}
			if err := s.mapWeb(ctx, rt, app, mr.Protocol); err != nil {
				return err
			}
		}
		return nil
	}
	if !ma.RandomRoute && !ma.DefaultRoute {
		return nil
	}
	existing, err := s.store.AppRouteGUIDs(ctx, app.GUID)
	if err != nil || len(existing) > 0 {
		return err
	}
	f := store.Filter{Limit: 1}
	f.Where("t.organization_guid IS NULL AND NOT t.internal")
	domains, _, err := s.store.ListDomains(ctx, f)
	if err != nil {
		return err
	}
	if len(domains) == 0 {
		// The organization's default domain: else its first private one.
		f = store.Filter{Limit: 1}
		f.Where("t.organization_guid IS NOT NULL")
		usableByOrg(&f, sp.OrgGUID)
		if domains, _, err = s.store.ListDomains(ctx, f); err != nil {
			return err
		}
	}
	if len(domains) == 0 {
		return apierr.Unprocessable("No default domains available")
	}
	var host string
	if ma.RandomRoute {
		host = routeHost(app.Name) + "-" + randomWord(adjectives) + "-" + randomWord(nouns)
		if len(host) > 63 {
			host = host[len(host)-63:]
		}
	} else {
		// CF uses the app name as it is, and says so when it cannot.
		const prefix = "Failed to create default route from app name: "
		if len(app.Name) > 63 {
			return apierr.Unprocessable(prefix + "Host cannot exceed 63 characters")
		}
		if !dnsLabel.MatchString(app.Name) {
			return apierr.Unprocessable(prefix + `Host must be either "*" or contain only alphanumeric characters, "_", or "-"`)
		}
		host = strings.ToLower(app.Name)
	}
	rt, err := s.ensureRoute(ctx, sp, domains[0], host, "", admin)
	if err != nil {
		return err
	}
	return s.mapWeb(ctx, rt, app, "")
}

var dnsLabel = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// routeHost turns an app name into a host: lowercase, characters other
// than letters, digits, '-' and '_' replaced by '-', at most 63.
func routeHost(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	h := strings.Trim(b.String(), "-")
	if len(h) > 63 {
		h = h[:63]
	}
	if h == "" {
		h = "app"
	}
	return h
}

var (
	adjectives = []string{"brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "kind", "lively", "proud", "quiet", "shiny", "silly", "sturdy", "wise", "zany"}
	nouns      = []string{"badger", "bear", "crane", "dolphin", "eagle", "fox", "gecko", "heron", "ibex", "koala", "lynx", "otter", "panda", "quokka", "wombat", "zebra"}
)

func randomWord(words []string) string {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
	if err != nil {
		return words[0]
	}
	return words[n.Int64()]
}

// routeForURL finds or creates the route of a manifest route URL
// (host.domain/path): the whole host name as a domain with no host, else
// the first label as host on the rest.
func (s *Server) routeForURL(ctx context.Context, sp store.Space, u string, admin bool) (store.Route, error) {
	hostport, path, _ := strings.Cut(u, "/")
	if path != "" {
		path = "/" + path
	}
	if strings.Contains(hostport, ":") {
		return store.Route{}, apierr.Unprocessable("Routes with protocol 'http' do not support ports.")
	}
	candidates := [][2]string{{"", hostport}}
	if host, domain, ok := strings.Cut(hostport, "."); ok {
		candidates = append(candidates, [2]string{host, domain})
	}
	for _, c := range candidates {
		d, err := s.store.GetDomainByName(ctx, c[1])
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.Route{}, err
		}
		if !d.UsableBy(sp.OrgGUID) {
			continue
		}
		return s.ensureRoute(ctx, sp, d, c[0], path, admin)
	}
	return store.Route{}, apierr.Unprocessable(fmt.Sprintf("The route '%s' did not match any existing domains.", u))
}

// ensureRoute returns the route host/path on d, creating it in sp (with
// the checks of POST /v3/routes) when it does not exist. A route of
// another space is refused, as CF refuses mapping across spaces.
func (s *Server) ensureRoute(ctx context.Context, sp store.Space, d store.Domain, host, path string, admin bool) (store.Route, error) {
	host = strings.ToLower(host)
	rt, err := s.store.FindRoute(ctx, d.GUID, host, path)
	if err == nil {
		if rt.SpaceGUID != sp.GUID {
			return rt, apierr.Unprocessable(fmt.Sprintf("The app cannot be mapped to route %s because the route is not in this space. Apps must be mapped to routes in the same space.", routeURL(rt)))
		}
		return rt, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return rt, err
	}
	var p problems
	if host != "" {
		p = append(p, hostProblems(host)...)
	}
	if path != "" {
		p = append(p, pathProblems(path)...)
	}
	if err := p.err(); err != nil {
		return rt, err
	}
	if !admin {
		enabled, err := s.flagEnabled(ctx, store.FlagRouteCreation)
		if err != nil {
			return rt, err
		}
		if !enabled {
			f, err := s.store.FeatureFlag(ctx, store.FlagRouteCreation)
			if err != nil {
				return rt, err
			}
			return rt, featureDisabled(f)
		}
	}
	if host == "*" && d.Shared() && !admin {
		return rt, apierr.Unprocessable("You do not have sufficient permissions to create a route with a wildcard host on a domain not scoped to an organization.")
	}
	spaceRoutes, orgRoutes, err := s.store.RouteCounts(ctx, sp.GUID)
	if err != nil {
		return rt, err
	}
	if err := s.checkRouteQuota(ctx, routeQuotaRequest{SpaceGUID: sp.GUID, SpaceRoutes: spaceRoutes, OrgRoutes: orgRoutes}); err != nil {
		return rt, err
	}
	rt = store.Route{SpaceGUID: sp.GUID, DomainGUID: d.GUID, DomainName: d.Name, Host: host, Path: path}
	if err := s.checkNewRoute(ctx, rt, nil, sp, d); err != nil {
		return rt, err
	}
	created, err := s.store.CreateRoute(ctx, rt)
	if errors.Is(err, store.ErrConflict) {
		return s.store.FindRoute(ctx, d.GUID, host, path)
	}
	return created, err
}

// mapWeb maps rt to the app's web process on the default port, unless
// that destination exists.
func (s *Server) mapWeb(ctx context.Context, rt store.Route, app store.App, protocol string) error {
	if protocol == "" || protocol == "tcp" {
		protocol = defaultDestinationProtocol
	}
	_, err := s.store.UpdateDestinations(ctx, rt.GUID, func(current []store.Destination) (store.DestinationChange, error) {
		var c store.DestinationChange
		for _, d := range current {
			if d.AppGUID == app.GUID && d.ProcessType == defaultDestinationProcess && d.Port == defaultDestinationPort {
				return c, nil
			}
			if d.Weight != nil {
				return c, apierr.Unprocessable("Destinations cannot be inserted when there are weighted destinations already configured.")
			}
		}
		if len(current) >= maxRouteDestinations {
			return c, apierr.Unprocessable(fmt.Sprintf("Routes can be mapped to at most %d destinations.", maxRouteDestinations))
		}
		c.Add = []store.Destination{{AppGUID: app.GUID, ProcessType: defaultDestinationProcess, Port: defaultDestinationPort, Protocol: protocol}}
		return c, nil
	})
	return err
}

// appManifest is the manifest of an existing app, as GET
// /v3/apps/:guid/manifest renders it and manifest_diff compares.
func (s *Server) appManifest(ctx context.Context, app store.App) (map[string]any, error) {
	m := map[string]any{"name": app.Name}
	if app.LifecycleType == store.LifecycleBuildpack {
		if len(app.Buildpacks) > 0 {
			m["buildpacks"] = app.Buildpacks
		}
		if app.Stack != "" {
			m["stack"] = app.Stack
		}
	}
	if len(app.Env) > 0 {
		m["env"] = app.Env
	}
	if len(app.Metadata.Labels) > 0 || len(app.Metadata.Annotations) > 0 {
		md := map[string]any{}
		if len(app.Metadata.Labels) > 0 {
			md["labels"] = app.Metadata.Labels
		}
		if len(app.Metadata.Annotations) > 0 {
			md["annotations"] = app.Metadata.Annotations
		}
		m["metadata"] = md
	}
	guids, err := s.store.AppRouteGUIDs(ctx, app.GUID)
	if err != nil {
		return nil, err
	}
	if len(guids) == 0 {
		m["no-route"] = true
	} else {
		f := store.Filter{OrderBy: "created_at"}
		f.Where("t.guid = ANY(?::uuid[])", guids)
		routes, _, err := s.store.ListRoutes(ctx, f)
		if err != nil {
			return nil, err
		}
		rs := make([]map[string]string, 0, len(routes))
		for _, rt := range routes {
			rs = append(rs, map[string]string{"route": routeURL(rt), "protocol": "http1"})
		}
		m["routes"] = rs
	}
	procs, err := s.store.AppProcesses(ctx, app.GUID)
	if err != nil {
		return nil, err
	}
	ps := make([]map[string]any, 0, len(procs))
	for _, p := range procs {
		pm := map[string]any{
			"type": p.Type, "instances": p.Instances,
			"memory": strconv.Itoa(p.MemoryMB) + "M", "disk_quota": strconv.Itoa(p.DiskMB) + "M",
			"health-check-type":           p.HealthCheck.Type,
			"readiness-health-check-type": p.Readiness.Type,
		}
		if p.LogRateLimit >= 0 {
			pm["log-rate-limit-per-second"] = humanBytes(p.LogRateLimit)
		} else {
			pm["log-rate-limit-per-second"] = "-1"
		}
		if p.Command != nil {
			pm["command"] = *p.Command
		}
		if p.HealthCheck.Endpoint != nil {
			pm["health-check-http-endpoint"] = *p.HealthCheck.Endpoint
		}
		if p.HealthCheck.Timeout != nil {
			pm["timeout"] = *p.HealthCheck.Timeout
		}
		if p.HealthCheck.InvocationTimeout != nil {
			pm["health-check-invocation-timeout"] = *p.HealthCheck.InvocationTimeout
		}
		if p.Readiness.Endpoint != nil {
			pm["readiness-health-check-http-endpoint"] = *p.Readiness.Endpoint
		}
		ps = append(ps, pm)
	}
	m["processes"] = ps
	return m, nil
}

// humanBytes renders bytes in the largest unit that divides them (CF's
// ByteConverter#human_readable_byte_value).
func humanBytes(b int64) string {
	units := []string{"T", "G", "M", "K"}
	for i, u := range units {
		size := int64(1) << (10 * (4 - i))
		if b != 0 && b%size == 0 {
			return strconv.FormatInt(b/size, 10) + u
		}
	}
	return strconv.FormatInt(b, 10) + "B"
}

func (s *Server) getAppManifest(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, sp, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if err := requireSecrets(r.Context(), a, sp); err != nil {
		return err
	}
	m, err := s.appManifest(r.Context(), app)
	if err != nil {
		return err
	}
	out, err := yaml.Marshal(map[string]any{"applications": []any{m}})
	if err != nil {
		return fmt.Errorf("render manifest: %w", err)
	}
	w.Header().Set("Content-Type", "application/x-yaml")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(out)
	return err
}

type diffOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Was   any    `json:"was,omitempty"`
	Value any    `json:"value,omitempty"`
}

// diffKeys are the app-level keys manifest_diff compares (normalized to
// underscores), mapped to the key of the generated manifest.
var diffKeys = map[string]string{
	"buildpacks": "buildpacks", "stack": "stack", "env": "env", "routes": "routes", "metadata": "metadata",
}

// diffProcessKeys are compared against the web process.
var diffProcessKeys = map[string]string{
	"instances": "instances", "memory": "memory", "disk_quota": "disk_quota", "command": "command",
	"health_check_type": "health-check-type", "health_check_http_endpoint": "health-check-http-endpoint", "timeout": "timeout",
}

// manifestDiff is POST /v3/spaces/:guid/manifest_diff: add and replace
// operations for the app-level keys the manifest gives that differ from
// the existing app (an app that does not exist yet is all "add").
func (s *Server) manifestDiff(w http.ResponseWriter, r *http.Request, a *Actor) error {
	sp, err := s.manifestSpace(r, a)
	if err != nil {
		return err
	}
	m, _, err := readManifest(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	diff := []diffOp{}
	for i, ma := range m.Applications {
		var current map[string]any
		app, err := s.store.FindApp(ctx, sp.GUID, ma.Name)
		switch {
		case err == nil:
			if current, err = s.appManifest(ctx, app); err != nil {
				return err
			}
		case errors.Is(err, store.ErrNotFound):
		default:
			return err
		}
		var web map[string]any
		if ps, ok := current["processes"].([]map[string]any); ok && len(ps) > 0 && ps[0]["type"] == store.ProcessWeb {
			web = ps[0]
		}
		for key, val := range ma.Raw {
			norm := strings.ReplaceAll(key, "-", "_")
			var was any
			var known bool
			if k, ok := diffKeys[norm]; ok {
				was, known = current[k]
			} else if k, ok := diffProcessKeys[norm]; ok {
				was, known = web[k]
			} else {
				continue
			}
			path := fmt.Sprintf("/applications/%d/%s", i, key)
			switch {
			case current == nil || !known:
				diff = append(diff, diffOp{Op: "add", Path: path, Value: val})
			case !sameValue(norm, was, val):
				diff = append(diff, diffOp{Op: "replace", Path: path, Was: was, Value: val})
			}
		}
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"diff": diff})
}

// sameValue compares a generated manifest value with a given one: byte
// sizes by value, everything else by its JSON form.
func sameValue(key string, was, val any) bool {
	if key == "memory" || key == "disk_quota" {
		a, _ := manifest.ToMB(fmt.Sprint(was))
		b, _ := manifest.ToMB(fmt.Sprint(val))
		return a == b
	}
	if key == "instances" || key == "timeout" {
		return fmt.Sprint(was) == fmt.Sprint(val)
	}
	ja, _ := json.Marshal(was)
	jb, _ := json.Marshal(val)
	var x, y any
	_ = json.Unmarshal(ja, &x)
	_ = json.Unmarshal(jb, &y)
	return reflect.DeepEqual(x, y)
}
