package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Builds: POST /v3/builds stages a READY package on Diego (staging.go),
// GET /v3/builds[/:guid] and /v3/apps/:guid/builds read them. States
// STAGING, STAGED, FAILED (the cf CLI polls until STAGED or FAILED).
// Read like the app; created by admins, space developers and supporters.

const stagingInProgressCode = 170017

var buildListSpec = query.Spec{
	Filters:       []string{"guids", "states", "app_guids", "package_guids", "space_guids", "organization_guids"},
	LabelSelector: true,
	Timestamps:    true,
}

var appBuildListSpec = query.Spec{
	Filters:       []string{"guids", "states"},
	LabelSelector: true,
	Timestamps:    true,
}

func (s *Server) registerBuilds() {
	s.authed("GET /v3/builds", s.listBuilds)
	s.authed("POST /v3/builds", s.createBuild)
	s.authed("GET /v3/builds/{guid}", s.getBuild)
	s.authed("PATCH /v3/builds/{guid}", s.updateBuild)
	s.authed("GET /v3/apps/{guid}/builds", s.listAppBuilds)
}

type buildCreatedBy struct {
	GUID  string `json:"guid"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type buildJSON struct {
	GUID              string          `json:"guid"`
	CreatedAt         string          `json:"created_at"`
	UpdatedAt         string          `json:"updated_at"`
	State             string          `json:"state"`
	StagingMemoryInMB int             `json:"staging_memory_in_mb"`
	StagingDiskInMB   int             `json:"staging_disk_in_mb"`
	StagingLogRate    int64           `json:"staging_log_rate_limit_bytes_per_second"`
	Error             *string         `json:"error"`
	Lifecycle         appLifecycle    `json:"lifecycle"`
	Package           GUIDRef         `json:"package"`
	Droplet           *GUIDRef        `json:"droplet"`
	CreatedBy         buildCreatedBy  `json:"created_by"`
	Relationships     map[string]any  `json:"relationships"`
	Metadata          Metadata        `json:"metadata"`
	Links             map[string]Link `json:"links"`
}

func (s *Server) buildJSON(b store.Build) buildJSON {
	out := buildJSON{
		GUID: b.GUID, CreatedAt: timestamp(b.CreatedAt), UpdatedAt: timestamp(b.UpdatedAt), State: b.State,
		StagingMemoryInMB: b.StagingMemoryMB, StagingDiskInMB: b.StagingDiskMB, StagingLogRate: -1,
		Lifecycle:     appLifecycle{Type: b.LifecycleType, Data: appLifecycleData{Buildpacks: nonNil(b.Buildpacks), Stack: b.Stack}},
		Package:       GUIDRef{GUID: b.PackageGUID},
		CreatedBy:     buildCreatedBy{GUID: b.CreatedBy.GUID, Name: b.CreatedBy.Name, Email: b.CreatedBy.Email},
		Relationships: map[string]any{"app": toOne(b.AppGUID)},
		Metadata:      toMetadata(b.Metadata),
		Links: map[string]Link{
			"self": {Href: s.url("/v3/builds/" + b.GUID)},
			"app":  {Href: s.url("/v3/apps/" + b.AppGUID)},
		},
	}
	if b.Error != "" {
		out.Error = &b.Error
	}
	if b.State == store.StateStaged && b.DropletGUID != "" {
		out.Droplet = &GUIDRef{GUID: b.DropletGUID}
		out.Links["droplet"] = Link{Href: s.url("/v3/droplets/" + b.DropletGUID)}
	}
	return out
}

func (s *Server) listBuilds(w http.ResponseWriter, r *http.Request, a *Actor) error {
	return s.writeBuilds(w, r, a, buildListSpec, "/v3/builds", "")
}

func (s *Server) listAppBuilds(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, _, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	return s.writeBuilds(w, r, a, appBuildListSpec, "/v3/apps/"+app.GUID+"/builds", app.GUID)
}

func (s *Server) writeBuilds(w http.ResponseWriter, r *http.Request, a *Actor, spec query.Spec, path, app string) error {
	l, err := query.Parse(r.URL.Query(), spec)
	if err != nil {
		return err
	}
	f, err := appChildFilter(l)
	if err != nil {
		return err
	}
	if v, ok := l.Filters["package_guids"]; ok {
		f.Where("t.package_guid = ANY(?::uuid[])", v)
	}
	if app != "" {
		f.Where("t.app_guid = ?::uuid", app)
	}
	if err := spaceVisibilityOf(r, a, &f, "pa.space_guid"); err != nil {
		return err
	}
	builds, total, err := s.store.ListBuilds(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]buildJSON, 0, len(builds))
	for _, b := range builds {
		out = append(out, s.buildJSON(b))
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url(path), total), Resources: out})
}

func (s *Server) visibleBuild(r *http.Request, a *Actor, guid string) (store.Build, store.Space, error) {
	v, err := s.store.GetBuild(r.Context(), guid)
	return inVisibleSpace(s, r, a, "Build", v, err, func(v store.Build) string { return v.SpaceGUID })
}

func (s *Server) getBuild(w http.ResponseWriter, r *http.Request, a *Actor) error {
	b, _, err := s.visibleBuild(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.buildJSON(s.expireIfLost(r.Context(), b)))
}

// stagingGrace is how long after staging.timeout a build's callback may
// still arrive before the build is given up.
const stagingGrace = 2 * time.Minute

// expireIfLost fails a build still STAGING well past the staging timeout
// (its task or callback was lost, e.g. CC was down while the BBS tried to
// deliver it) and cancels its task, so that the cf CLI's poll ends.
func (s *Server) expireIfLost(ctx context.Context, b store.Build) store.Build {
	if b.State != store.StateStaging || time.Since(b.CreatedAt) < s.opts.Staging.Timeout+stagingGrace {
		return b
	}
	ctx = context.WithoutCancel(ctx)
	out, err := s.store.CompleteBuild(ctx, b.GUID, store.StagingOutcome{
		Error: "StagingTimeExpired - Staging time expired: staging took longer than " + s.opts.Staging.Timeout.String()})
	if err != nil {
		if b, gerr := s.store.GetBuild(ctx, b.GUID); gerr == nil {
			return b // completed meanwhile
		}
		return b
	}
	if s.tasks != nil {
		if err := s.tasks.CancelTask(ctx, b.GUID); err != nil {
			s.logger.Info("cancel expired staging task", "build", b.GUID, "err", err)
		}
	}
	s.buildFinished(ctx, out)
	return out
}

func (s *Server) updateBuild(w http.ResponseWriter, r *http.Request, a *Actor) error {
	b, sp, err := s.visibleBuild(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	var body struct {
		Metadata *metadataPatch `json:"metadata"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if err := requireAppWrite(r.Context(), a, sp); err != nil {
		return err
	}
	if err := body.Metadata.apply(&b.Metadata); err != nil {
		return err
	}
	out, err := s.store.UpdateBuildMetadata(r.Context(), b.GUID, b.Metadata)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.buildJSON(out))
}

type buildBody struct {
	Package *GUIDRef `json:"package"`
	// Lifecycle overrides the app's buildpacks and stack for this build.
	Lifecycle *struct {
		Type string `json:"type"`
		Data *struct {
			Buildpacks []string `json:"buildpacks"`
			Stack      string   `json:"stack"`
		} `json:"data"`
	} `json:"lifecycle"`
	StagingMemoryInMB *int           `json:"staging_memory_in_mb"`
	StagingDiskInMB   *int           `json:"staging_disk_in_mb"`
	StagingLogRate    *int64         `json:"staging_log_rate_limit_bytes_per_second"`
	Metadata          *metadataPatch `json:"metadata"`
}

// createBuild is POST /v3/builds: it records the build and its droplet
// (STAGING) and desires the staging task.
func (s *Server) createBuild(w http.ResponseWriter, r *http.Request, a *Actor) error {
	var body buildBody
	if err := decode(r, &body); err != nil {
		return err
	}
	if body.Package == nil || body.Package.GUID == "" {
		return apierr.Unprocessable("Package guid must be a string")
	}
	ctx := r.Context()
	p, sp, err := s.visiblePackage(r, a, body.Package.GUID)
	if err != nil {
		if e, ok := apierr.As(err); ok && e.Status == http.StatusNotFound {
			return apierr.Unprocessable(packageUnusable)
		}
		return err
	}
	if err := requireAppManage(ctx, a, sp); err != nil {
		if e, ok := apierr.As(err); ok && e.Status == http.StatusForbidden && a.CanWrite() {
			return apierr.Unprocessable(packageUnusable)
		}
		return err
	}
	if p.State != store.PackageReady {
		return apierr.BadRequest("Cannot stage package whose state is not ready.")
	}
	if p.Type != store.PackageBits {
		if err := s.requireFlag(ctx, a, store.FlagDiegoDocker); err != nil {
			return err
		}
		return apierr.Unprocessable("Staging docker packages is not supported yet.")
	}
	if s.tasks == nil || s.blobs == nil || len(s.opts.Staging.CallbackSecret) == 0 {
		return apierr.ServiceUnavailable("Staging is not configured.")
	}
	app, err := s.store.GetApp(ctx, p.AppGUID)
	if err != nil {
		return err
	}
	org, err := s.store.GetOrg(ctx, sp.OrgGUID)
	if err != nil {
		return err
	}
	plan := stagingPlan{app: app, space: sp, org: org, pkg: p, buildpacks: app.Buildpacks, stack: app.Stack}
	if lc := body.Lifecycle; lc != nil {
		if lc.Type != "" && lc.Type != store.LifecycleBuildpack {
			return apierr.Unprocessable("Lifecycle type must be buildpack")
		}
		if lc.Data != nil {
			if lc.Data.Buildpacks != nil {
				plan.buildpacks = lc.Data.Buildpacks
			}
			if lc.Data.Stack != "" {
				plan.stack = lc.Data.Stack
			}
		}
	}
	st := store.App{LifecycleType: store.LifecycleBuildpack, Stack: plan.stack}
	if err := s.checkStack(ctx, &st); err != nil {
		return err
	}
	plan.stack = st.Stack
	memory, disk := s.opts.Staging.MemoryMB, s.opts.Staging.DiskMB
	if body.StagingMemoryInMB != nil {
		if *body.StagingMemoryInMB < 1 {
			return apierr.Unprocessable("Staging memory in mb must be greater than 0")
		}
		memory = *body.StagingMemoryInMB
	}
	if body.StagingDiskInMB != nil {
		if *body.StagingDiskInMB < 1 {
			return apierr.Unprocessable("Staging disk in mb must be greater than 0")
		}
		disk = *body.StagingDiskInMB
	}
	bps, err := s.resolveBuildpacks(ctx, plan.buildpacks, plan.stack)
	if err != nil {
		return err
	}
	pkgTar, err := s.packageTarball(ctx, p)
	if err != nil {
		return err
	}
	b := store.Build{
		AppGUID: app.GUID, PackageGUID: p.GUID, LifecycleType: store.LifecycleBuildpack,
		Buildpacks: plan.buildpacks, Stack: plan.stack, StagingMemoryMB: memory, StagingDiskMB: disk,
		CreatedBy: store.BuildCreator{GUID: a.GUID, Name: a.Username},
	}
	if err := body.Metadata.apply(&b.Metadata); err != nil {
		return err
	}
	b, err = s.store.CreateBuild(ctx, b, s.opts.Staging.Timeout)
	if errors.Is(err, store.ErrConflict) {
		return apierr.New(http.StatusUnprocessableEntity, stagingInProgressCode, "StagingInProgress", "Only one build can be STAGING at a time per application.")
	}
	if err != nil {
		return err
	}
	plan.build = b
	s.apiLog(ctx, app, sp, logBuildCreate(app.GUID))
	s.usageBuild(ctx, store.UsageStagingStarted, b, strPtr(store.StateStaging), nil)
	def, err := s.taskDefinition(ctx, plan, bps, pkgTar, len(plan.buildpacks) > 0)
	if err == nil {
		err = s.tasks.DesireTask(context.WithoutCancel(ctx), b.GUID, StagingDomain, def)
	}
	if err != nil {
		s.logger.Error("desire staging task", "build", b.GUID, "app", app.GUID, "err", err)
		if failed, ferr := s.store.CompleteBuild(context.WithoutCancel(ctx), b.GUID, store.StagingOutcome{Error: stagingError("")}); ferr == nil {
			b = failed
			s.buildFinished(ctx, failed)
		}
	}
	e := appEvent("audit.app.build.create", app, sp, nil)
	e.Data = map[string]any{"build_guid": b.GUID, "package_guid": p.GUID}
	s.audit(r, a, e)
	return writeJSON(w, http.StatusCreated, s.buildJSON(b))
}

// cancelStaging cancels the staging tasks of an app's STAGING builds (the
// app is being deleted).
func (s *Server) cancelStaging(ctx context.Context, app string) {
	if s.tasks == nil {
		return
	}
	f := store.Filter{}
	f.Where("t.app_guid = ?::uuid", app)
	f.Where("t.state = ?", store.StateStaging)
	builds, _, err := s.store.ListBuilds(ctx, f)
	if err != nil {
		s.logger.Warn("list staging builds", "app", app, "err", err)
		return
	}
	for _, b := range builds {
		if err := s.tasks.CancelTask(ctx, b.GUID); err != nil {
			s.logger.Info("cancel staging task", "build", b.GUID, "err", err)
		}
	}
}
