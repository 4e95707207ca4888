package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// App usage events: CF's billing feed (/v3/app_usage_events), read by
// admins and global readers (admin_read_only, global_auditor). Recorded:
//   - STARTED / STOPPED per process when its app starts or stops, and
//     STARTED again when a started process's instances or memory change
//     (CF's ProcessModel#create_app_usage_event);
//   - STAGING_STARTED when a build is created, STAGING_STOPPED when it
//     ends, BUILDPACK_SET when it staged (CF's create_from_build);
//   - TASK_STARTED when a task runs, TASK_STOPPED when it ends.
//
// Recording is best effort: a failure is logged, the request goes on.

func (s *Server) registerUsageEvents() {
	s.authed("GET /v3/app_usage_events", s.listUsageEvents)
	s.authed("GET /v3/app_usage_events/{guid}", s.getUsageEvent)
	s.authed("POST /v3/app_usage_events/actions/destructively_purge_all_and_reseed", s.purgeUsageEvents)
}

var usageListSpec = query.Spec{Filters: []string{"after_guid", "guids"}, Timestamps: true}

type guidName struct {
	GUID *string `json:"guid"`
	Name *string `json:"name"`
}

type currentPrevious struct {
	Current  any `json:"current"`
	Previous any `json:"previous"`
}

type usageEventJSON struct {
	GUID      string          `json:"guid"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
	State     currentPrevious `json:"state"`
	App       guidName        `json:"app"`
	Process   struct {
		GUID *string `json:"guid"`
		Type *string `json:"type"`
	} `json:"process"`
	Space        guidName `json:"space"`
	Organization struct {
		GUID *string `json:"guid"`
	} `json:"organization"`
	Buildpack     guidName        `json:"buildpack"`
	Task          guidName        `json:"task"`
	Memory        currentPrevious `json:"memory_in_mb_per_instance"`
	InstanceCount currentPrevious `json:"instance_count"`
	Links         map[string]Link `json:"links"`
}

func strPtr(s string) *string { return &s }

func intOrNil(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func ptrOrNil(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func (s *Server) usageEventJSON(e store.UsageEvent) usageEventJSON {
	out := usageEventJSON{
		GUID: e.GUID, CreatedAt: timestamp(e.CreatedAt), UpdatedAt: timestamp(e.CreatedAt),
		State:         currentPrevious{Current: e.State, Previous: ptrOrNil(e.PreviousState)},
		App:           guidName{GUID: strOrNil(e.AppGUID), Name: strOrNil(e.AppName)},
		Space:         guidName{GUID: strOrNil(e.SpaceGUID), Name: strOrNil(e.SpaceName)},
		Buildpack:     guidName{GUID: e.BuildpackGUID, Name: e.BuildpackName},
		Task:          guidName{GUID: e.TaskGUID, Name: e.TaskName},
		Memory:        currentPrevious{Current: intOrNil(e.MemoryMB), Previous: intOrNil(e.PreviousMemory)},
		InstanceCount: currentPrevious{Current: intOrNil(e.Instances), Previous: intOrNil(e.PreviousInst)},
		Links:         map[string]Link{"self": {Href: s.url("/v3/app_usage_events/" + e.GUID)}},
	}
	out.Process.GUID, out.Process.Type = e.ProcessGUID, e.ProcessType
	out.Organization.GUID = strOrNil(e.OrgGUID)
	return out
}

func (s *Server) listUsageEvents(w http.ResponseWriter, r *http.Request, a *Actor) error {
	l, err := query.Parse(r.URL.Query(), usageListSpec)
	if err != nil {
		return err
	}
	for _, tf := range l.Times {
		if tf.Field == "updated_at" {
			return apierr.BadQueryParameter("Filtering by 'updated_ats' is not allowed on this resource.")
		}
	}
	f := store.Filter{OrderBy: l.OrderBy, Desc: l.Desc, Limit: l.PerPage, Offset: l.Offset()}
	if v, ok := l.Filters["guids"]; ok {
		f.Where("t.guid = ANY(?::uuid[])", v)
	}
	if v, ok := l.Filters["after_guid"]; ok {
		if len(v) != 1 {
			return apierr.BadQueryParameter("After guid filter accepts only one guid")
		}
		id, err := s.store.UsageEventID(r.Context(), v[0])
		if errors.Is(err, store.ErrNotFound) {
			return apierr.Unprocessable("After guid filter must be a valid app usage event guid.")
		}
		if err != nil {
			return err
		}
		f.Where("t.id > ?", id)
	}
	if err := applyCommon(&f, l); err != nil {
		return err
	}
	if !a.GlobalReader() {
		f.Where("false") // CF: an empty list for everyone else
	}
	events, total, err := s.store.ListUsageEvents(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]usageEventJSON, 0, len(events))
	for _, e := range events {
		out = append(out, s.usageEventJSON(e))
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url("/v3/app_usage_events"), total), Resources: out})
}

func (s *Server) getUsageEvent(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if !a.GlobalReader() {
		return apierr.NotFound("App usage event")
	}
	e, err := s.store.GetUsageEvent(r.Context(), r.PathValue("guid"))
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("App usage event")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.usageEventJSON(e))
}

// purgeUsageEvents is CF's destructively_purge_all_and_reseed: every
// event goes and each process of a started app gets a STARTED event.
// Admins only.
func (s *Server) purgeUsageEvents(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := a.requireWrite(); err != nil {
		return err
	}
	if !a.Admin() {
		return apierr.NotAuthorized()
	}
	if err := s.store.PurgeAndReseedUsageEvents(r.Context()); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{})
}

// recordUsage records e, logging a failure.
func (s *Server) recordUsage(ctx context.Context, e store.UsageEvent) {
	if _, err := s.store.RecordUsageEvent(context.WithoutCancel(ctx), e); err != nil {
		s.logger.Error("record app usage event", "state", e.State, "app", e.AppGUID, "err", err)
	}
}

// buildpackOf is the buildpack name of an app's usage events: the current
// droplet's first buildpack, else the app's first requested one.
func (s *Server) buildpackOf(ctx context.Context, app store.App) *string {
	if app.DropletGUID != "" {
		if d, err := s.store.GetDroplet(ctx, app.DropletGUID); err == nil && len(d.Buildpacks) > 0 {
			if bn := d.Buildpacks[0].BuildpackName; bn != nil && *bn != "" {
				return strPtr(*bn)
			}
			return strPtr(d.Buildpacks[0].Name)
		}
	}
	if len(app.Buildpacks) > 0 {
		return strPtr(app.Buildpacks[0])
	}
	return nil
}

// usageProcesses records a process event (STARTED, STOPPED,
// BUILDPACK_SET) for each of procs; previous is the state before, and
// prev (optional, by process guid) the instances and memory before.
func (s *Server) usageProcesses(ctx context.Context, state, previous string, app store.App, sp store.Space, procs []store.Process, prev map[string]store.Process) {
	bp := s.buildpackOf(ctx, app)
	for _, p := range procs {
		e := store.UsageEvent{
			State: state, PreviousState: strPtr(previous),
			AppGUID: app.GUID, AppName: app.Name, ProcessGUID: strPtr(p.GUID), ProcessType: strPtr(p.Type),
			SpaceGUID: sp.GUID, SpaceName: sp.Name, OrgGUID: sp.OrgGUID, BuildpackName: bp,
			MemoryMB: &p.MemoryMB, Instances: &p.Instances, PreviousMemory: &p.MemoryMB, PreviousInst: &p.Instances,
		}
		if before, ok := prev[p.GUID]; ok {
			e.PreviousMemory, e.PreviousInst = &before.MemoryMB, &before.Instances
		}
		s.recordUsage(ctx, e)
	}
}

// usageBuild records a build event (STAGING_STARTED, STAGING_STOPPED,
// BUILDPACK_SET).
func (s *Server) usageBuild(ctx context.Context, state string, b store.Build, previous *string, buildpack *string) {
	app, err := s.store.GetApp(ctx, b.AppGUID)
	if err != nil {
		s.logger.Warn("app usage event of build", "build", b.GUID, "err", err)
		return
	}
	if buildpack == nil && len(b.Buildpacks) > 0 {
		buildpack = strPtr(b.Buildpacks[0])
	}
	one, mem := 1, b.StagingMemoryMB
	s.recordUsage(ctx, store.UsageEvent{
		State: state, PreviousState: previous, AppGUID: app.GUID, AppName: app.Name,
		BuildpackName: buildpack, PackageGUID: strPtr(b.PackageGUID),
		MemoryMB: &mem, PreviousMemory: &mem, Instances: &one, PreviousInst: &one,
	})
}

// usageTask records TASK_STARTED or TASK_STOPPED; previous is the task's
// state before.
func (s *Server) usageTask(ctx context.Context, state string, t store.Task, previous string) {
	one, mem := 1, t.MemoryMB
	s.recordUsage(ctx, store.UsageEvent{
		State: state, PreviousState: strPtr(previous), AppGUID: t.AppGUID,
		TaskGUID: strPtr(t.GUID), TaskName: strPtr(t.Name),
		MemoryMB: &mem, PreviousMemory: &mem, Instances: &one, PreviousInst: &one,
	})
}

// buildFinished records the end of a build: STAGING_STOPPED, and
// BUILDPACK_SET when it staged (CF's BuildModel and
// StagingCompletionHandler), with the API log line.
func (s *Server) buildFinished(ctx context.Context, b store.Build) {
	ctx = context.WithoutCancel(ctx)
	var bp *string
	if b.State == store.StateStaged && b.DropletGUID != "" {
		if d, err := s.store.GetDroplet(ctx, b.DropletGUID); err == nil && len(d.Buildpacks) > 0 {
			bp = strPtr(d.Buildpacks[0].Name)
			if n := d.Buildpacks[0].BuildpackName; n != nil && *n != "" {
				bp = strPtr(*n)
			}
		}
	}
	s.usageBuild(ctx, store.UsageStagingStopped, b, strPtr(store.StateStaging), bp)
	if b.State == store.StateStaged {
		s.usageBuild(ctx, store.UsageBuildpackSet, b, strPtr(store.StateStaging), bp)
		s.apiLogApp(ctx, b.AppGUID, logBuildStaged(b.GUID))
		return
	}
	s.apiLogApp(ctx, b.AppGUID, logBuildFailed(b.GUID))
}
