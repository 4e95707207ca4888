package web

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Processes: /v3/processes, /v3/apps/:guid/processes[/:type], update,
// scale, stats, sidecars and instance restarts. Reads follow the app's
// space visibility; update needs a space developer, scale a developer or
// supporter (see apps.go).

const (
	hiddenInLists = "[PRIVATE DATA HIDDEN IN LISTS]"
	hidden        = "[PRIVATE DATA HIDDEN]"
	maxDBInt      = math.MaxInt32
)

type healthCheckJSON struct {
	Type string         `json:"type"`
	Data map[string]any `json:"data"`
}

func healthCheckOf(h store.HealthCheck, liveness bool) healthCheckJSON {
	data := map[string]any{"invocation_timeout": h.InvocationTimeout, "interval": h.Interval}
	if liveness {
		data["timeout"] = h.Timeout
	}
	if h.Type == "http" {
		data["endpoint"] = h.Endpoint
	}
	return healthCheckJSON{Type: h.Type, Data: data}
}

type processRelationships struct {
	App      ToOne `json:"app"`
	Revision ToOne `json:"revision"`
}

type processLinks struct {
	Self  Link `json:"self"`
	Scale Link `json:"scale"`
	App   Link `json:"app"`
	Space Link `json:"space"`
	Stats Link `json:"stats"`
}

type processJSON struct {
	GUID                 string               `json:"guid"`
	CreatedAt            string               `json:"created_at"`
	UpdatedAt            string               `json:"updated_at"`
	Type                 string               `json:"type"`
	Command              *string              `json:"command"`
	Instances            int                  `json:"instances"`
	MemoryInMB           int                  `json:"memory_in_mb"`
	DiskInMB             int                  `json:"disk_in_mb"`
	LogRateLimit         int64                `json:"log_rate_limit_in_bytes_per_second"`
	HealthCheck          healthCheckJSON      `json:"health_check"`
	ReadinessHealthCheck healthCheckJSON      `json:"readiness_health_check"`
	Relationships        processRelationships `json:"relationships"`
	Metadata             Metadata             `json:"metadata"`
	Links                processLinks         `json:"links"`
}

// processJSON renders p; command is shown only with showCommand (a get by
// someone who reads secrets), as CF redacts it otherwise.
func (s *Server) processJSON(p store.Process, command string) processJSON {
	self := s.url("/v3/processes/" + p.GUID)
	out := processJSON{
		GUID: p.GUID, CreatedAt: timestamp(p.CreatedAt), UpdatedAt: timestamp(p.UpdatedAt), Type: p.Type,
		Command: p.Command, Instances: p.Instances, MemoryInMB: p.MemoryMB, DiskInMB: p.DiskMB, LogRateLimit: p.LogRateLimit,
		HealthCheck:          healthCheckOf(p.HealthCheck, true),
		ReadinessHealthCheck: healthCheckOf(p.Readiness, false),
		Relationships:        processRelationships{App: toOne(p.AppGUID)},
		Metadata:             toMetadata(p.Metadata),
		Links: processLinks{
			Self:  Link{Href: self},
			Scale: Link{Href: self + "/actions/scale", Method: "POST"},
			App:   Link{Href: s.url("/v3/apps/" + p.AppGUID)},
			Space: Link{Href: s.url("/v3/spaces/" + p.SpaceGUID)},
			Stats: Link{Href: self + "/stats"},
		},
	}
	if p.Command != nil && command != "" {
		out.Command = &command
	}
	return out
}

var processListSpec = query.Spec{
	Filters:       []string{"guids", "types", "app_guids", "space_guids", "organization_guids"},
	LabelSelector: true,
	Timestamps:    true,
	Extra:         []string{"embed"},
}

func (s *Server) registerProcesses() {
	s.authed("GET /v3/processes", s.listProcesses)
	s.authed("GET /v3/processes/{guid}", s.getProcess)
	s.authed("PATCH /v3/processes/{guid}", s.updateProcess)
	s.authed("POST /v3/processes/{guid}/actions/scale", s.scaleProcess)
	s.authed("GET /v3/processes/{guid}/stats", s.processStats)
	s.authed("GET /v3/processes/{guid}/sidecars", s.processSidecars)
	s.authed("DELETE /v3/processes/{guid}/instances/{index}", s.terminateInstance)
	s.authed("GET /v3/apps/{guid}/processes", s.listAppProcesses)
	s.authed("GET /v3/apps/{guid}/processes/{type}", s.getProcess)
	s.authed("PATCH /v3/apps/{guid}/processes/{type}", s.updateProcess)
	s.authed("POST /v3/apps/{guid}/processes/{type}/actions/scale", s.scaleProcess)
	s.authed("GET /v3/apps/{guid}/processes/{type}/stats", s.processStats)
	s.authed("GET /v3/apps/{guid}/processes/{type}/sidecars", s.processSidecars)
	s.authed("DELETE /v3/apps/{guid}/processes/{type}/instances/{index}", s.terminateInstance)
}

func processFilter(l query.List) store.Filter {
	f := store.Filter{OrderBy: l.OrderBy, Desc: l.Desc, Limit: l.PerPage, Offset: l.Offset()}
	if v, ok := l.Filters["guids"]; ok {
		f.Where("t.guid = ANY(?::uuid[])", v)
	}
	if v, ok := l.Filters["types"]; ok {
		f.In("t.type", v)
	}
	if v, ok := l.Filters["app_guids"]; ok {
		f.Where("t.app_guid = ANY(?::uuid[])", v)
	}
	if v, ok := l.Filters["space_guids"]; ok {
		f.Where("t.app_guid IN (SELECT fa.guid FROM apps fa WHERE fa.space_guid = ANY(?::uuid[]))", v)
	}
	if v, ok := l.Filters["organization_guids"]; ok {
		f.Where("t.app_guid IN (SELECT fa.guid FROM apps fa JOIN spaces fs ON fs.guid = fa.space_guid WHERE fs.organization_guid = ANY(?::uuid[]))", v)
	}
	return f
}

// processVisibility restricts a process filter to the caller's spaces.
func processVisibility(r *http.Request, a *Actor, f *store.Filter) error {
	if a.GlobalReader() {
		return nil
	}
	spaces, orgs, err := a.SpaceVisibility(r.Context())
	if err != nil {
		return err
	}
	f.Where(`t.app_guid IN (SELECT va.guid FROM apps va WHERE va.space_guid = ANY(?::uuid[])
		OR va.space_guid IN (SELECT vs.guid FROM spaces vs WHERE vs.organization_guid = ANY(?::uuid[])))`, spaces, orgs)
	return nil
}

func (s *Server) listProcesses(w http.ResponseWriter, r *http.Request, a *Actor) error {
	return s.writeProcessList(w, r, a, "/v3/processes", "")
}

func (s *Server) listAppProcesses(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, _, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	return s.writeProcessList(w, r, a, "/v3/apps/"+app.GUID+"/processes", app.GUID)
}

func (s *Server) writeProcessList(w http.ResponseWriter, r *http.Request, a *Actor, path, app string) error {
	l, err := query.Parse(r.URL.Query(), processListSpec)
	if err != nil {
		return err
	}
	embed := r.URL.Query().Get("embed")
	if embed != "" && embed != "process_instances" {
		return apierr.BadQueryParameter("Embed is invalid")
	}
	f := processFilter(l)
	if app != "" {
		f.Where("t.app_guid = ?::uuid", app)
	}
	if err := applyCommon(&f, l); err != nil {
		return err
	}
	if err := processVisibility(r, a, &f); err != nil {
		return err
	}
	procs, total, err := s.store.ListProcesses(r.Context(), f)
	if err != nil {
		return err
	}
	resp := list{Pagination: l.Pagination(s.url(path), total)}
	if embed == "" {
		out := make([]processJSON, 0, len(procs))
		for _, p := range procs {
			out = append(out, s.processJSON(p, hiddenInLists))
		}
		resp.Resources = out
		return writeJSON(w, http.StatusOK, resp)
	}
	type embedded struct {
		processJSON
		ProcessInstances []map[string]any `json:"process_instances"`
	}
	out := make([]embedded, 0, len(procs))
	for _, p := range procs {
		states, err := s.instanceStates(r.Context(), p)
		if err != nil {
			return err
		}
		inst := make([]map[string]any, 0, len(states))
		for _, st := range states {
			inst = append(inst, map[string]any{"index": st.Index, "state": st.State, "since": uptime(st)})
		}
		out = append(out, embedded{s.processJSON(p, hiddenInLists), inst})
	}
	resp.Resources = out
	return writeJSON(w, http.StatusOK, resp)
}

// visibleProcess loads the process of the request: /v3/processes/{guid}
// or /v3/apps/{guid}/processes/{type}. A process the caller cannot see is
// 404 "Process not found" (an unknown app is "App not found").
func (s *Server) visibleProcess(r *http.Request, a *Actor) (store.Process, store.Space, error) {
	ctx := r.Context()
	if typ := r.PathValue("type"); typ != "" {
		app, sp, err := s.visibleApp(r, a, r.PathValue("guid"))
		if err != nil {
			return store.Process{}, sp, err
		}
		p, err := s.store.GetAppProcess(ctx, app.GUID, typ)
		if errors.Is(err, store.ErrNotFound) {
			return p, sp, apierr.NotFound("Process")
		}
		return p, sp, err
	}
	p, err := s.store.GetProcess(ctx, r.PathValue("guid"))
	if errors.Is(err, store.ErrNotFound) {
		return p, store.Space{}, apierr.NotFound("Process")
	}
	if err != nil {
		return p, store.Space{}, err
	}
	sp, err := s.visibleSpace(r, a, p.SpaceGUID)
	if err != nil {
		if e, _ := apierr.As(err); e.Status == http.StatusNotFound {
			return p, sp, apierr.NotFound("Process")
		}
		return p, sp, err
	}
	return p, sp, nil
}

func (s *Server) processCommandFor(ctx context.Context, a *Actor, sp store.Space, p store.Process) (string, error) {
	if p.Command == nil {
		return "", nil
	}
	ok, err := canReadSecrets(ctx, a, sp)
	if err != nil || ok {
		return *p.Command, err
	}
	return hidden, nil
}

func (s *Server) writeProcess(w http.ResponseWriter, r *http.Request, a *Actor, status int, p store.Process, sp store.Space) error {
	cmd, err := s.processCommandFor(r.Context(), a, sp, p)
	if err != nil {
		return err
	}
	return writeJSON(w, status, s.processJSON(p, cmd))
}

func (s *Server) getProcess(w http.ResponseWriter, r *http.Request, a *Actor) error {
	p, sp, err := s.visibleProcess(r, a)
	if err != nil {
		return err
	}
	return s.writeProcess(w, r, a, http.StatusOK, p, sp)
}

type healthCheckBody struct {
	Type *string `json:"type"`
	Data *struct {
		Timeout           json.RawMessage `json:"timeout"`
		InvocationTimeout json.RawMessage `json:"invocation_timeout"`
		Interval          json.RawMessage `json:"interval"`
		Endpoint          json.RawMessage `json:"endpoint"`
	} `json:"data"`
}

type processBody struct {
	Command              json.RawMessage  `json:"command"`
	HealthCheck          *healthCheckBody `json:"health_check"`
	ReadinessHealthCheck *healthCheckBody `json:"readiness_health_check"`
	Metadata             *metadataPatch   `json:"metadata"`
}

// optionalInt parses a JSON integer or null; set reports whether the key
// was given.
func optionalInt(raw json.RawMessage, field string, min int64, p *problems) (v *int, set bool) {
	if len(raw) == 0 {
		return nil, false
	}
	if string(raw) == "null" {
		return nil, true
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		if _, ferr := strconv.ParseFloat(string(raw), 64); ferr == nil {
			p.add("%s must be an integer", field)
		} else {
			p.add("%s is not a number", field)
		}
		return nil, true
	}
	if n < min {
		p.add("%s must be greater than or equal to %d", field, min)
		return nil, true
	}
	if n > maxDBInt {
		p.add("%s must be less than or equal to %d", field, maxDBInt)
		return nil, true
	}
	i := int(n)
	return &i, true
}

// applyHealthCheck validates body and applies it to h (CF's
// ProcessUpdateMessage texts). prefix is "Health check" or "Readiness
// health check".
func applyHealthCheck(b *healthCheckBody, h *store.HealthCheck, prefix string, liveness bool, p *problems) {
	if b == nil {
		return
	}
	if b.Type != nil {
		switch *b.Type {
		case "port", "process", "http":
			if *b.Type != h.Type {
				h.Type = *b.Type
				if h.Type != "http" {
					h.Endpoint = nil
				}
			}
		default:
			p.add(`%s type must be "port", "process", or "http"`, prefix)
		}
	}
	if b.Data == nil {
		return
	}
	if liveness {
		if v, set := optionalInt(b.Data.Timeout, prefix+" timeout", 1, p); set {
			h.Timeout = v
		}
	}
	if v, set := optionalInt(b.Data.InvocationTimeout, prefix+" invocation timeout", 1, p); set {
		h.InvocationTimeout = v
	}
	if v, set := optionalInt(b.Data.Interval, prefix+" interval", 1, p); set {
		h.Interval = v
	}
	if raw := b.Data.Endpoint; len(raw) > 0 {
		if string(raw) == "null" {
			h.Endpoint = nil
		} else {
			var e string
			if json.Unmarshal(raw, &e) != nil || len(e) > 255 || !strings.HasPrefix(e, "/") || strings.ContainsAny(e, " ") {
				p.add("%s endpoint must be a valid URI path", prefix)
			} else {
				h.Endpoint = &e
			}
		}
	}
	if h.Endpoint != nil && h.Type != "http" {
		p.add(`%s type must be "http" to set a health check HTTP endpoint`, prefix)
	}
}

func (s *Server) updateProcess(w http.ResponseWriter, r *http.Request, a *Actor) error {
	p, sp, err := s.visibleProcess(r, a)
	if err != nil {
		return err
	}
	var b processBody
	if err := decode(r, &b); err != nil {
		return err
	}
	var pr problems
	if len(b.Command) > 0 {
		if string(b.Command) == "null" {
			p.Command = nil
		} else {
			var c string
			if json.Unmarshal(b.Command, &c) != nil {
				pr.add("Command must be a string")
			} else if len(c) < 1 || len(c) > 4096 {
				pr.add("Command must be between 1 and 4096 characters")
			} else {
				p.Command = &c
			}
		}
	}
	applyHealthCheck(b.HealthCheck, &p.HealthCheck, "Health check", true, &pr)
	applyHealthCheck(b.ReadinessHealthCheck, &p.Readiness, "Readiness health check", false, &pr)
	if err := pr.err(); err != nil {
		return err
	}
	ctx := r.Context()
	if err := requireAppWrite(ctx, a, sp); err != nil {
		return err
	}
	if err := b.Metadata.apply(&p.Metadata); err != nil {
		return err
	}
	updated, err := s.store.UpdateProcess(ctx, p)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("Process")
	}
	if err != nil {
		return err
	}
	s.desire(ctx, updated)
	s.auditProcess(r, a, eventAppProcessUpdate, updated, sp, b)
	s.apiLogApp(ctx, updated.AppGUID, logProcessUpdate(updated.Type))
	return s.writeProcess(w, r, a, http.StatusOK, updated, sp)
}

func (s *Server) auditProcess(r *http.Request, a *Actor, typ string, p store.Process, sp store.Space, request any) {
	app, err := s.store.GetApp(context.WithoutCancel(r.Context()), p.AppGUID)
	if err != nil {
		app = store.App{GUID: p.AppGUID}
	}
	e := appEvent(typ, app, sp, request)
	e.Data["process_guid"], e.Data["process_type"] = p.GUID, p.Type
	s.audit(r, a, e)
}

// scaleBody is POST …/actions/scale.
type scaleBody struct {
	Instances    json.RawMessage `json:"instances"`
	MemoryInMB   json.RawMessage `json:"memory_in_mb"`
	DiskInMB     json.RawMessage `json:"disk_in_mb"`
	LogRateLimit json.RawMessage `json:"log_rate_limit_in_bytes_per_second"`
}

// scaleChange is a validated scale request (nil: unchanged).
type scaleChange struct {
	Instances, MemoryMB, DiskMB *int
	LogRate                     *int64
}

func (b scaleBody) check() (scaleChange, error) {
	var c scaleChange
	var p problems
	c.Instances, _ = optionalInt(b.Instances, "Instances", 0, &p)
	c.MemoryMB, _ = optionalInt(b.MemoryInMB, "Memory in mb", 1, &p)
	if c.MemoryMB == nil && len(b.MemoryInMB) > 0 && string(b.MemoryInMB) == "0" {
		p = p[:len(p)-1]
		p.add("Memory in mb must be greater than 0")
	}
	c.DiskMB, _ = optionalInt(b.DiskInMB, "Disk in mb", 1, &p)
	if c.DiskMB == nil && len(b.DiskInMB) > 0 && string(b.DiskInMB) == "0" {
		p = p[:len(p)-1]
		p.add("Disk in mb must be greater than 0")
	}
	if raw := b.LogRateLimit; len(raw) > 0 && string(raw) != "null" {
		n, err := strconv.ParseInt(string(raw), 10, 64)
		switch {
		case err != nil:
			p.add("Log rate limit in bytes per second must be an integer")
		case n < -1:
			p.add("Log rate limit in bytes per second must be greater than or equal to -1")
		default:
			c.LogRate = &n
		}
	}
	return c, p.err()
}

func (s *Server) scaleProcess(w http.ResponseWriter, r *http.Request, a *Actor) error {
	p, sp, err := s.visibleProcess(r, a)
	if err != nil {
		return err
	}
	var b scaleBody
	if err := decode(r, &b); err != nil {
		return err
	}
	c, err := b.check()
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := requireAppManage(ctx, a, sp); err != nil {
		return err
	}
	if err := s.requireFlag(ctx, a, store.FlagAppScaling); err != nil {
		return err
	}
	updated, err := s.applyScale(ctx, p, c)
	if err != nil {
		return err
	}
	s.auditProcess(r, a, eventAppProcessScale, updated, sp, b.audit())
	s.apiLogApp(ctx, updated.AppGUID, logProcessScale(updated.Type))
	return s.writeProcess(w, r, a, http.StatusAccepted, updated, sp)
}

func (b scaleBody) audit() map[string]any {
	out := map[string]any{}
	for k, raw := range map[string]json.RawMessage{"instances": b.Instances, "memory_in_mb": b.MemoryInMB, "disk_in_mb": b.DiskInMB, "log_rate_limit_in_bytes_per_second": b.LogRateLimit} {
		if len(raw) > 0 {
			out[k] = json.RawMessage(raw)
		}
	}
	return out
}

// applyScale checks the quotas (for a started app) and writes the new
// scale, then desires the process.
func (s *Server) applyScale(ctx context.Context, p store.Process, c scaleChange) (store.Process, error) {
	next := p
	if c.Instances != nil {
		next.Instances = *c.Instances
	}
	if c.MemoryMB != nil {
		next.MemoryMB = *c.MemoryMB
	}
	if c.DiskMB != nil {
		next.DiskMB = *c.DiskMB
	}
	if c.LogRate != nil {
		next.LogRateLimit = *c.LogRate
	}
	if p.AppState == store.AppStarted {
		used, err := s.store.StartedUsage(ctx, p.SpaceGUID, "")
		if err != nil {
			return p, err
		}
		before := quotaUsage{MemoryMB: int64(p.MemoryMB) * int64(p.Instances), Instances: int64(p.Instances), LogRate: max(p.LogRateLimit, 0) * int64(p.Instances)}
		after := quotaUsage{MemoryMB: int64(next.MemoryMB) * int64(next.Instances), Instances: int64(next.Instances), LogRate: max(next.LogRateLimit, 0) * int64(next.Instances)}
		if err := s.checkAppQuota(ctx, appQuotaRequest{
			SpaceGUID: p.SpaceGUID, InstanceMemoryMB: int64(next.MemoryMB), InstanceLogRate: next.LogRateLimit,
			Added: quotaUsage{MemoryMB: after.MemoryMB - before.MemoryMB, Instances: after.Instances - before.Instances, LogRate: after.LogRate - before.LogRate},
			// used includes this process as it is now.
			OrgUsed:   quotaUsage{MemoryMB: used.OrgMemoryMB, Instances: used.OrgInstances, LogRate: used.OrgLogRate},
			SpaceUsed: quotaUsage{MemoryMB: used.SpaceMemoryMB, Instances: used.SpaceInstances, LogRate: used.SpaceLogRate},
		}); err != nil {
			return p, err
		}
	} else if err := s.checkAppQuota(ctx, appQuotaRequest{SpaceGUID: p.SpaceGUID, InstanceMemoryMB: int64(next.MemoryMB), InstanceLogRate: next.LogRateLimit}); err != nil {
		// A stopped app uses nothing, but the per-instance limits still
		// apply (CF validates them on every save).
		return p, err
	}
	updated, err := s.store.UpdateProcess(ctx, next)
	if errors.Is(err, store.ErrNotFound) {
		return p, apierr.NotFound("Process")
	}
	if err != nil {
		return p, err
	}
	if p.AppState == store.AppStarted && (p.Instances != updated.Instances || p.MemoryMB != updated.MemoryMB) {
		// CF records a new STARTED event when a started process's footprint changes.
		if app, err := s.store.GetApp(ctx, p.AppGUID); err == nil {
			s.usageProcesses(ctx, store.UsageStarted, store.AppStarted, app, store.Space{}, []store.Process{updated}, map[string]store.Process{p.GUID: p})
		}
	}
	s.desire(ctx, updated)
	return updated, nil
}

// instanceStates returns one state per desired instance: from the
// InstanceReporter when one is wired, else STARTING for a started app and
// DOWN for a stopped one. Indexes the reporter does not know are DOWN.
func (s *Server) instanceStates(ctx context.Context, p store.Process) ([]InstanceState, error) {
	out := make([]InstanceState, p.Instances)
	def := InstanceDown
	if p.AppState == store.AppStarted && s.instances == nil {
		def = InstanceStarting
	}
	for i := range out {
		out[i] = InstanceState{Index: i, State: def}
	}
	if p.AppState != store.AppStarted || s.instances == nil {
		return out, nil
	}
	actual, err := s.instances.Instances(ctx, p.GUID)
	if err != nil {
		return nil, apierr.ServiceUnavailable("Stats server temporarily unavailable.")
	}
	for _, st := range actual {
		if st.Index >= 0 && st.Index < len(out) {
			out[st.Index] = st
		}
	}
	return out, nil
}

func uptime(st InstanceState) int64 {
	if st.Since.IsZero() || st.State != InstanceRunning {
		return 0
	}
	return int64(time.Since(st.Since).Seconds())
}

// processStats is GET …/stats: CF's shape, one entry per desired instance.
func (s *Server) processStats(w http.ResponseWriter, r *http.Request, a *Actor) error {
	p, _, err := s.visibleProcess(r, a)
	if err != nil {
		return err
	}
	states, err := s.instanceStates(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(states))
	for _, st := range states {
		e := map[string]any{
			"type": p.Type, "index": st.Index, "state": st.State, "uptime": uptime(st),
			"isolation_segment": nil, "details": nil,
		}
		if st.Details != "" {
			e["details"] = st.Details
		}
		if st.State != InstanceDown {
			ports := make([]map[string]int, 0, len(st.Ports))
			for _, pt := range st.Ports {
				ports = append(ports, map[string]int{"external": pt.External, "internal": pt.Internal,
					"external_tls_proxy_port": pt.ExternalTLSProxy, "internal_tls_proxy_port": pt.InternalTLSProxy})
			}
			usage := map[string]any{}
			if u := st.Usage; u != nil {
				usage = map[string]any{"time": timestamp(u.Time), "cpu": u.CPU, "cpu_entitlement": u.CPUEntitlement,
					"mem": u.MemBytes, "disk": u.DiskBytes, "log_rate": u.LogRate}
			}
			e["routable"] = st.Routable
			e["host"] = st.Host
			e["instance_ports"] = ports
			e["usage"] = usage
			e["mem_quota"] = int64(p.MemoryMB) << 20
			e["disk_quota"] = int64(p.DiskMB) << 20
			e["log_rate_limit"] = p.LogRateLimit
			e["fds_quota"] = 16384
		}
		out = append(out, e)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"resources": out})
}

// processSidecars is GET …/sidecars: sidecars do not exist yet, so the
// list is empty (the cf CLI reads it during push and cf app).
func (s *Server) processSidecars(w http.ResponseWriter, r *http.Request, a *Actor) error {
	p, _, err := s.visibleProcess(r, a)
	if err != nil {
		return err
	}
	l, err := query.Parse(r.URL.Query(), query.Spec{})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url("/v3/processes/"+p.GUID+"/sidecars"), 0), Resources: []any{}})
}

// terminateInstance is DELETE …/instances/:index: Diego stops the
// instance and starts it again. Without a Desirer that can stop instances
// it is accepted and does nothing.
func (s *Server) terminateInstance(w http.ResponseWriter, r *http.Request, a *Actor) error {
	p, sp, err := s.visibleProcess(r, a)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := requireAppManage(ctx, a, sp); err != nil {
		return err
	}
	idx, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || idx < 0 || idx >= p.Instances {
		return apierr.NotFound("Instance")
	}
	if st, ok := s.desirer.(instanceStopper); ok && p.AppState == store.AppStarted {
		if err := st.StopInstance(ctx, p.GUID, idx); err != nil {
			return err
		}
	}
	s.auditProcess(r, a, eventAppTerminate, p, sp, map[string]any{"index": idx})
	s.apiLogApp(ctx, p.AppGUID, logTerminate(p.Type, idx))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
