package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/manifest"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Apps: /v3/apps and the app's sub-resources. Who may do what (CF's
// Permissions):
//   - read: global readers, every space role of the app's space, and the
//     organization's managers (the space's visibility);
//   - write (create, update, delete, env, features, manifests): admins and
//     the space's developers, with cloud_controller.write;
//   - start, stop, restart, scale: also the space's supporters;
//   - secrets (env, environment_variables, manifest): admins, read-only
//     admins and the space's developers.

// Audit event types of apps (CF's names).
const (
	eventAppCreate        = "audit.app.create"
	eventAppUpdate        = "audit.app.update"
	eventAppDeleteRequest = "audit.app.delete-request"
	eventAppStart         = "audit.app.start"
	eventAppStop          = "audit.app.stop"
	eventAppRestart       = "audit.app.restart"
	eventAppApplyManifest = "audit.app.apply_manifest"
	eventAppProcessUpdate = "audit.app.process.update"
	eventAppProcessScale  = "audit.app.process.scale"
	eventAppProcessCreate = "audit.app.process.create"
	eventAppTerminate     = "audit.app.process.terminate_instance"
	eventAppMapRoute      = "audit.app.map-route"
	eventAppUnmapRoute    = "audit.app.unmap-route"
	eventAppDropletMapped = "audit.app.droplet.mapped"
)

const (
	dropletMissing      = "Assign a droplet before starting this app."
	dropletUnassignable = "Unable to assign current droplet. Ensure the droplet exists and belongs to this app."
)

type appLifecycleData struct {
	Buildpacks []string `json:"buildpacks"`
	Stack      string   `json:"stack"`
}

type appLifecycle struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

type appRelationships struct {
	Space ToOne `json:"space"`
}

type appLinks struct {
	Self                 Link `json:"self"`
	EnvironmentVariables Link `json:"environment_variables"`
	Space                Link `json:"space"`
	Processes            Link `json:"processes"`
	Packages             Link `json:"packages"`
	CurrentDroplet       Link `json:"current_droplet"`
	Droplets             Link `json:"droplets"`
	Tasks                Link `json:"tasks"`
	Start                Link `json:"start"`
	Stop                 Link `json:"stop"`
	Revisions            Link `json:"revisions"`
	DeployedRevisions    Link `json:"deployed_revisions"`
	Features             Link `json:"features"`
}

type appJSON struct {
	GUID          string           `json:"guid"`
	CreatedAt     string           `json:"created_at"`
	UpdatedAt     string           `json:"updated_at"`
	Name          string           `json:"name"`
	State         string           `json:"state"`
	Lifecycle     appLifecycle     `json:"lifecycle"`
	Relationships appRelationships `json:"relationships"`
	Metadata      Metadata         `json:"metadata"`
	Links         appLinks         `json:"links"`
}

func lifecycleOf(app store.App) appLifecycle {
	if app.LifecycleType == store.LifecycleDocker {
		return appLifecycle{Type: store.LifecycleDocker, Data: struct{}{}}
	}
	return appLifecycle{Type: store.LifecycleBuildpack, Data: appLifecycleData{Buildpacks: nonNil(app.Buildpacks), Stack: app.Stack}}
}

func (s *Server) appJSON(app store.App) appJSON {
	self := s.url("/v3/apps/" + app.GUID)
	return appJSON{
		GUID: app.GUID, CreatedAt: timestamp(app.CreatedAt), UpdatedAt: timestamp(app.UpdatedAt),
		Name: app.Name, State: app.State, Lifecycle: lifecycleOf(app),
		Relationships: appRelationships{Space: toOne(app.SpaceGUID)},
		Metadata:      toMetadata(app.Metadata),
		Links: appLinks{
			Self:                 Link{Href: self},
			EnvironmentVariables: Link{Href: self + "/environment_variables"},
			Space:                Link{Href: s.url("/v3/spaces/" + app.SpaceGUID)},
			Processes:            Link{Href: self + "/processes"},
			Packages:             Link{Href: self + "/packages"},
			CurrentDroplet:       Link{Href: self + "/droplets/current"},
			Droplets:             Link{Href: self + "/droplets"},
			Tasks:                Link{Href: self + "/tasks"},
			Start:                Link{Href: self + "/actions/start", Method: "POST"},
			Stop:                 Link{Href: self + "/actions/stop", Method: "POST"},
			Revisions:            Link{Href: self + "/revisions"},
			DeployedRevisions:    Link{Href: self + "/revisions/deployed"},
			Features:             Link{Href: self + "/features"},
		},
	}
}

var appListSpec = query.Spec{
	Filters:       []string{"names", "guids", "space_guids", "organization_guids", "stacks", "lifecycle_type"},
	OrderBy:       []string{"name", "state"},
	Includes:      []string{"space", "space.organization"},
	LabelSelector: true,
	Timestamps:    true,
}

func (s *Server) registerApps() {
	s.authed("GET /v3/apps", s.listApps)
	s.authed("POST /v3/apps", s.createApp)
	s.authed("GET /v3/apps/{guid}", s.getApp)
	s.authed("PATCH /v3/apps/{guid}", s.updateApp)
	s.authed("DELETE /v3/apps/{guid}", s.deleteApp)
	s.authed("POST /v3/apps/{guid}/actions/start", s.appAction(actionStart))
	s.authed("POST /v3/apps/{guid}/actions/stop", s.appAction(actionStop))
	s.authed("POST /v3/apps/{guid}/actions/restart", s.appAction(actionRestart))
	s.authed("GET /v3/apps/{guid}/features", s.listAppFeatures)
	s.authed("GET /v3/apps/{guid}/features/{name}", s.getAppFeature)
	s.authed("PATCH /v3/apps/{guid}/features/{name}", s.updateAppFeature)
	s.authed("GET /v3/apps/{guid}/ssh_enabled", s.appSSHEnabled)
	s.authed("GET /v3/apps/{guid}/permissions", s.appPermissions)
	s.authed("GET /v3/apps/{guid}/relationships/current_droplet", s.getCurrentDropletRel)
	s.authed("PATCH /v3/apps/{guid}/relationships/current_droplet", s.setCurrentDropletRel)
	s.authed("GET /v3/apps/{guid}/droplets/current", s.getCurrentDroplet)
	s.authed("GET /v3/apps/{guid}/routes", s.listAppRoutes)
	s.authed("GET /v3/apps/{guid}/manifest", s.getAppManifest)
}

func (s *Server) registerAppJobOps() {
	s.registerOp("app.delete", s.runAppDelete)
	s.registerOp("space.apply_manifest", s.runApplyManifest)
}

// appVisibility restricts an app filter to the apps the caller reads.
func appVisibility(r *http.Request, a *Actor, f *store.Filter) error {
	if a.GlobalReader() {
		return nil
	}
	spaces, orgs, err := a.SpaceVisibility(r.Context())
	if err != nil {
		return err
	}
	f.Where("(t.space_guid = ANY(?::uuid[]) OR t.space_guid IN (SELECT vs.guid FROM spaces vs WHERE vs.organization_guid = ANY(?::uuid[])))", spaces, orgs)
	return nil
}

func appFilter(l query.List) (store.Filter, error) {
	f := store.Filter{OrderBy: l.OrderBy, Desc: l.Desc, Limit: l.PerPage, Offset: l.Offset()}
	if v, ok := l.Filters["names"]; ok {
		f.In("t.name", v)
	}
	if v, ok := l.Filters["guids"]; ok {
		f.Where("t.guid = ANY(?::uuid[])", v)
	}
	if v, ok := l.Filters["space_guids"]; ok {
		f.Where("t.space_guid = ANY(?::uuid[])", v)
	}
	if v, ok := l.Filters["organization_guids"]; ok {
		f.Where("t.space_guid IN (SELECT os.guid FROM spaces os WHERE os.organization_guid = ANY(?::uuid[]))", v)
	}
	if v, ok := l.Filters["stacks"]; ok {
		f.Where("(t.lifecycle_type = 'buildpack' AND t.stack = ANY(?))", v)
	}
	if v, ok := l.Filters["lifecycle_type"]; ok {
		f.In("t.lifecycle_type", v)
	}
	return f, applyCommon(&f, l)
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request, a *Actor) error {
	l, err := query.Parse(r.URL.Query(), appListSpec)
	if err != nil {
		return err
	}
	f, err := appFilter(l)
	if err != nil {
		return err
	}
	if err := appVisibility(r, a, &f); err != nil {
		return err
	}
	apps, total, err := s.store.ListApps(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]appJSON, 0, len(apps))
	spaceGUIDs := make([]string, 0, len(apps))
	for _, app := range apps {
		out = append(out, s.appJSON(app))
		spaceGUIDs = append(spaceGUIDs, app.SpaceGUID)
	}
	resp := list{Pagination: l.Pagination(s.url("/v3/apps"), total), Resources: out}
	if len(l.Include) > 0 {
		if resp.Included, err = s.spaceIncludes(r.Context(), l, spaceGUIDs); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, resp)
}

// spaceIncludes builds include=space,space.organization for resources in
// spaceGUIDs.
func (s *Server) spaceIncludes(ctx context.Context, l query.List, spaceGUIDs []string) (map[string]any, error) {
	inc := map[string]any{}
	f := store.Filter{}
	f.Where("t.guid = ANY(?::uuid[])", nonNil(spaceGUIDs))
	spaces, _, err := s.store.ListSpaces(ctx, f)
	if err != nil {
		return nil, err
	}
	sout := make([]spaceJSON, 0, len(spaces))
	var orgGUIDs []string
	for _, sp := range spaces {
		sout = append(sout, s.spaceJSON(sp))
		orgGUIDs = append(orgGUIDs, sp.OrgGUID)
	}
	if l.Includes("space") {
		inc["spaces"] = sout
	}
	if l.Includes("space.organization") {
		of := store.Filter{}
		of.Where("t.guid = ANY(?::uuid[])", nonNil(orgGUIDs))
		orgs, _, err := s.store.ListOrgs(ctx, of)
		if err != nil {
			return nil, err
		}
		oout := make([]orgJSON, 0, len(orgs))
		for _, o := range orgs {
			oout = append(oout, s.orgJSON(o))
		}
		inc["organizations"] = oout
	}
	return inc, nil
}

// visibleApp returns the app and its space if the caller reads it, else
// 404 "App not found".
func (s *Server) visibleApp(r *http.Request, a *Actor, guid string) (store.App, store.Space, error) {
	v, err := s.store.GetApp(r.Context(), guid)
	return inVisibleSpace(s, r, a, "App", v, err, func(v store.App) string { return v.SpaceGUID })
}

// requireSpaceRole fails with 403 unless the caller writes and is an admin
// or holds one of roles in sp.
func requireSpaceRole(ctx context.Context, a *Actor, sp store.Space, roles ...string) error {
	if err := a.requireWrite(); err != nil {
		return err
	}
	if a.Admin() {
		return nil
	}
	ok, err := a.HasSpaceRole(ctx, sp.GUID, roles...)
	if err != nil {
		return err
	}
	if !ok {
		return apierr.NotAuthorized()
	}
	return nil
}

// requireAppWrite: admins and space developers (CF can_write_to_active_space).
func requireAppWrite(ctx context.Context, a *Actor, sp store.Space) error {
	return requireSpaceRole(ctx, a, sp, store.SpaceDeveloper)
}

// requireAppManage: also space supporters (CF can_manage_apps_in_active_space).
func requireAppManage(ctx context.Context, a *Actor, sp store.Space) error {
	return requireSpaceRole(ctx, a, sp, store.SpaceDeveloper, store.SpaceSupporter)
}

// canReadSecrets reports whether the caller reads an app's environment:
// admins, read-only admins and the space's developers.
func canReadSecrets(ctx context.Context, a *Actor, sp store.Space) (bool, error) {
	if a.Admin() || a.has("cloud_controller.admin_read_only") {
		return true, nil
	}
	return a.HasSpaceRole(ctx, sp.GUID, store.SpaceDeveloper)
}

func requireSecrets(ctx context.Context, a *Actor, sp store.Space) error {
	ok, err := canReadSecrets(ctx, a, sp)
	if err != nil {
		return err
	}
	if !ok {
		return apierr.NotAuthorized()
	}
	return nil
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request, a *Actor) error {
	l, err := query.Parse(r.URL.Query(), query.Spec{Includes: []string{"space", "space.organization"}})
	if err != nil {
		return err
	}
	app, _, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if len(l.Include) == 0 {
		return writeJSON(w, http.StatusOK, s.appJSON(app))
	}
	inc, err := s.spaceIncludes(r.Context(), l, []string{app.SpaceGUID})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		appJSON
		Included map[string]any `json:"included"`
	}{s.appJSON(app), inc})
}

type lifecycleBody struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

type buildpackDataBody struct {
	Buildpacks *[]string `json:"buildpacks"`
	Stack      *string   `json:"stack"`
}

type appBody struct {
	Name          *string        `json:"name"`
	Lifecycle     *lifecycleBody `json:"lifecycle"`
	Relationships *struct {
		Space *ToOne `json:"space"`
	} `json:"relationships"`
	EnvironmentVariables map[string]*string `json:"environment_variables"`
	Metadata             *metadataPatch     `json:"metadata"`
}

// applyLifecycle validates a lifecycle body and applies it to app (type
// changes only on create).
func (s *Server) applyLifecycle(ctx context.Context, app *store.App, lc *lifecycleBody, create bool) error {
	if lc == nil {
		return nil
	}
	typ := lc.Type
	if typ == "" {
		typ = app.LifecycleType
	}
	if typ != store.LifecycleBuildpack && typ != store.LifecycleDocker {
		return apierr.Unprocessable(`Lifecycle type is not included in the list: buildpack, docker`)
	}
	if !create && typ != app.LifecycleType {
		return apierr.Unprocessable("Lifecycle type cannot be changed")
	}
	app.LifecycleType = typ
	if typ == store.LifecycleDocker {
		if len(lc.Data) > 0 && string(lc.Data) != "{}" && string(lc.Data) != "null" {
			return apierr.Unprocessable("Lifecycle data must be an empty object for docker apps")
		}
		app.Buildpacks, app.Stack = nil, ""
		return nil
	}
	var d buildpackDataBody
	if len(lc.Data) > 0 && string(lc.Data) != "null" {
		if err := strictJSON(lc.Data, &d); err != nil {
			return apierr.Unprocessable("Lifecycle data must be an object with buildpacks and stack")
		}
	}
	if d.Buildpacks != nil {
		if err := s.validateBuildpacks(ctx, *d.Buildpacks); err != nil {
			return err
		}
		app.Buildpacks = *d.Buildpacks
	}
	if d.Stack != nil {
		app.Stack = *d.Stack
	}
	return s.checkStack(ctx, app)
}

// checkStack gives a buildpack app the default stack when it names none
// and checks the stack exists.
func (s *Server) checkStack(ctx context.Context, app *store.App) error {
	if app.LifecycleType != store.LifecycleBuildpack {
		return nil
	}
	f := store.Filter{Limit: 1}
	if app.Stack == "" {
		f.Where("t.is_default")
	} else {
		f.In("t.name", []string{app.Stack})
	}
	stacks, _, err := s.store.ListStacks(ctx, f)
	if err != nil {
		return err
	}
	if len(stacks) == 0 {
		if app.Stack == "" {
			return nil // no default stack configured
		}
		return apierr.Unprocessable("Stack must be an existing stack")
	}
	app.Stack = stacks[0].Name
	return nil
}

// validateBuildpacks is the hook for buildpack names. CF accepts an admin
// buildpack's name or a git/http URL ("Buildpack "x" must be an existing
// admin buildpack or a valid git URI"); /v3/buildpacks does not exist yet,
// so every name is accepted. The buildpacks milestone adds the lookup.
func (s *Server) validateBuildpacks(_ context.Context, bps []string) error {
	for _, b := range bps {
		if b == "" || len(b) > 4096 {
			return apierr.Unprocessable("Buildpacks can only contain strings")
		}
	}
	return nil
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func checkEnvKeys(field string, env map[string]*string) error {
	var p problems
	for k := range env {
		if msg := manifest.EnvKeyProblem(k); msg != "" {
			p.add("%s %s", field, msg)
		}
	}
	return p.err()
}

// newWebProcess is the web process created with an app: one instance,
// CF's default memory and disk (memory lowered to a quota's per-process
// limit), unlimited log rate.
func (s *Server) newWebProcess(ctx context.Context, space string) (store.Process, error) {
	p := store.Process{Type: store.ProcessWeb, Instances: 1, MemoryMB: s.opts.DefaultAppMemoryMB, DiskMB: s.opts.DefaultAppDiskMB, LogRateLimit: -1}
	sc, err := s.store.SpaceQuotaScope(ctx, space)
	if err != nil {
		return p, err
	}
	for _, l := range []*store.Limits{sc.Org, sc.Space} {
		if l != nil && l.PerProcessMemoryMB != nil && *l.PerProcessMemoryMB > 0 && int64(p.MemoryMB) > *l.PerProcessMemoryMB {
			p.MemoryMB = int(*l.PerProcessMemoryMB)
		}
	}
	return p, nil
}

func appExists(name string) error {
	return apierr.Uniqueness(fmt.Sprintf("App with the name '%s' already exists.", name))
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := a.requireWrite(); err != nil {
		return err
	}
	var b appBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Name == nil {
		return apierr.Unprocessable("Name must be a string")
	}
	if err := validName("App", *b.Name); err != nil {
		return err
	}
	if b.Relationships == nil || relationshipGUID(b.Relationships.Space) == "" {
		return apierr.Unprocessable(`Relationships Space must be structured like this: "space: {"data": {"guid": "valid-guid"}}"`)
	}
	if err := checkEnvKeys("Environment variables", b.EnvironmentVariables); err != nil {
		return err
	}
	ctx := r.Context()
	sp, err := s.visibleSpace(r, a, relationshipGUID(b.Relationships.Space))
	if err != nil {
		if e, _ := apierr.As(err); e.Status == http.StatusNotFound {
			return apierr.Unprocessable("Invalid space. Ensure that the space exists and you have access to it.")
		}
		return err
	}
	if err := requireAppWrite(ctx, a, sp); err != nil {
		return err
	}
	app := store.App{Name: *b.Name, SpaceGUID: sp.GUID, LifecycleType: store.LifecycleBuildpack, EnableSSH: true, RevisionsEnabled: true}
	if b.Lifecycle != nil && b.Lifecycle.Type == store.LifecycleDocker {
		// CF checks the flag before the lifecycle (403 FeatureDisabled).
		if err := s.requireFlag(ctx, a, store.FlagDiegoDocker); err != nil {
			return err
		}
	}
	if err := s.applyLifecycle(ctx, &app, b.Lifecycle, true); err != nil {
		return err
	}
	if b.Lifecycle == nil {
		if err := s.checkStack(ctx, &app); err != nil {
			return err
		}
	}
	app.Env = map[string]string{}
	for k, v := range b.EnvironmentVariables {
		if v != nil {
			app.Env[k] = *v
		}
	}
	if err := b.Metadata.apply(&app.Metadata); err != nil {
		return err
	}
	web, err := s.newWebProcess(ctx, sp.GUID)
	if err != nil {
		return err
	}
	created, err := s.store.CreateApp(ctx, app, web)
	switch {
	case errors.Is(err, store.ErrConflict):
		return appExists(app.Name)
	case errors.Is(err, store.ErrReferenced):
		return apierr.Unprocessable("Invalid space. Ensure that the space exists and you have access to it.")
	case err != nil:
		return err
	}
	s.audit(r, a, appEvent(eventAppCreate, created, sp, redactEnv(b)))
	s.apiLog(ctx, created, sp, logAppCreated(created.GUID))
	return writeJSON(w, http.StatusCreated, s.appJSON(created))
}

// redactEnv hides environment variable values in audit data, as CF does.
func redactEnv(b appBody) map[string]any {
	out := requestData(b)
	if _, ok := out["environment_variables"]; ok {
		out["environment_variables"] = "[PRIVATE DATA HIDDEN]"
	}
	return out
}

// appEvent is an app audit event.
func appEvent(typ string, app store.App, sp store.Space, request any) store.Event {
	data := map[string]any{}
	if request != nil {
		data["request"] = requestData(request)
	}
	return store.Event{
		Type: typ, Target: store.EventRef{GUID: app.GUID, Type: "app", Name: app.Name},
		SpaceGUID: sp.GUID, OrgGUID: sp.OrgGUID, Data: data,
	}
}

func (s *Server) updateApp(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, sp, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	var b appBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Relationships != nil {
		return apierr.Unprocessable("Unknown field(s): 'relationships'")
	}
	if b.EnvironmentVariables != nil {
		return apierr.Unprocessable("Unknown field(s): 'environment_variables'")
	}
	ctx := r.Context()
	if err := requireAppWrite(ctx, a, sp); err != nil {
		return err
	}
	if b.Name != nil {
		if err := validName("App", *b.Name); err != nil {
			return err
		}
		app.Name = *b.Name
	}
	if err := s.applyLifecycle(ctx, &app, b.Lifecycle, false); err != nil {
		return err
	}
	if err := b.Metadata.apply(&app.Metadata); err != nil {
		return err
	}
	updated, err := s.store.UpdateApp(ctx, app)
	switch {
	case errors.Is(err, store.ErrConflict):
		return appExists(app.Name)
	case errors.Is(err, store.ErrNotFound):
		return apierr.NotFound("App")
	case err != nil:
		return err
	}
	s.audit(r, a, appEvent(eventAppUpdate, updated, sp, b))
	s.apiLog(ctx, updated, sp, logAppUpdated(updated.GUID, censor(requestData(b))))
	return writeJSON(w, http.StatusOK, s.appJSON(updated))
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, sp, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if err := requireAppWrite(r.Context(), a, sp); err != nil {
		return err
	}
	s.audit(r, a, appEvent(eventAppDeleteRequest, app, sp, map[string]any{"recursive": true}))
	s.apiLog(r.Context(), app, sp, logAppDeleted(app.GUID))
	return s.enqueue(w, r, a, "app.delete", guidPayload{GUID: app.GUID})
}

// runAppDelete is the app.delete job: Diego first (so nothing runs the
// app), then the rows. It is idempotent: an app already gone is done.
//
// Staging tasks are cancelled and the blobs of packages and droplets
// deleted before DeleteApp (the rows go with the app through ON DELETE
// CASCADE; a blob whose delete fails is logged and left behind).
func (s *Server) runAppDelete(ctx context.Context, p json.RawMessage) error {
	var g guidPayload
	if err := json.Unmarshal(p, &g); err != nil {
		return apierr.ServerError()
	}
	procs, err := s.store.AppProcesses(ctx, g.GUID)
	if err != nil {
		return err
	}
	s.undesire(ctx, procs...)
	s.cancelAppTasks(ctx, g.GUID)
	if app, err := s.store.GetApp(ctx, g.GUID); err == nil && app.State == store.AppStarted {
		s.usageProcesses(ctx, store.UsageStopped, store.AppStarted, app, store.Space{}, procs, nil)
	}
	if err := s.deleteAppBlobs(ctx, g.GUID); err != nil {
		return err
	}
	if err := s.store.DeleteApp(ctx, g.GUID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

type appActionKind int

const (
	actionStart appActionKind = iota
	actionStop
	actionRestart
)

func (s *Server) appAction(kind appActionKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, a *Actor) error {
		app, sp, err := s.visibleApp(r, a, r.PathValue("guid"))
		if err != nil {
			return err
		}
		ctx := r.Context()
		if err := requireAppManage(ctx, a, sp); err != nil {
			return err
		}
		var out store.App
		var event, line string
		switch kind {
		case actionStop:
			out, err = s.stopApp(ctx, app)
			event, line = eventAppStop, logAppStopping(app.GUID)
		case actionStart:
			out, err = s.startApp(ctx, app)
			event, line = eventAppStart, logAppStarting(app.GUID)
		case actionRestart:
			if app.DropletGUID == "" {
				return apierr.Unprocessable(dropletMissing)
			}
			if out, err = s.stopApp(ctx, app); err == nil {
				out, err = s.startApp(ctx, out)
			}
			event, line = eventAppRestart, logAppRestarted(app.GUID)
		}
		if err != nil {
			return err
		}
		s.audit(r, a, appEvent(event, out, sp, nil))
		s.apiLog(ctx, out, sp, line)
		return writeJSON(w, http.StatusOK, s.appJSON(out))
	}
}

// startApp checks the droplet and the quotas, marks the app STARTED and
// desires its processes.
//
// Once droplets exist, the droplet check stays as it is (the current
// droplet must be set, and SetAppDroplet only accepts STAGED droplets of
// the app); the Desirer then reads the droplet to build the LRP.
func (s *Server) startApp(ctx context.Context, app store.App) (store.App, error) {
	if app.DropletGUID == "" {
		return app, apierr.Unprocessable(dropletMissing)
	}
	procs, err := s.store.AppProcesses(ctx, app.GUID)
	if err != nil {
		return app, err
	}
	if app.State != store.AppStarted {
		used, err := s.store.StartedUsage(ctx, app.SpaceGUID, app.GUID)
		if err != nil {
			return app, err
		}
		for _, p := range procs {
			if err := s.checkAppQuota(ctx, appQuotaRequest{
				SpaceGUID: app.SpaceGUID, InstanceMemoryMB: int64(p.MemoryMB), InstanceLogRate: p.LogRateLimit,
				Added:     quotaUsage{MemoryMB: int64(p.MemoryMB) * int64(p.Instances), Instances: int64(p.Instances), LogRate: max(p.LogRateLimit, 0) * int64(p.Instances)},
				OrgUsed:   quotaUsage{MemoryMB: used.OrgMemoryMB, Instances: used.OrgInstances, LogRate: used.OrgLogRate},
				SpaceUsed: quotaUsage{MemoryMB: used.SpaceMemoryMB, Instances: used.SpaceInstances, LogRate: used.SpaceLogRate},
			}); err != nil {
				return app, err
			}
			used.OrgMemoryMB += int64(p.MemoryMB) * int64(p.Instances)
			used.SpaceMemoryMB += int64(p.MemoryMB) * int64(p.Instances)
			used.OrgInstances += int64(p.Instances)
			used.SpaceInstances += int64(p.Instances)
		}
	}
	out, err := s.store.SetAppState(ctx, app.GUID, store.AppStarted)
	if err != nil {
		return app, err
	}
	for i := range procs {
		procs[i].AppState = store.AppStarted
	}
	if app.State != store.AppStarted {
		s.usageProcesses(ctx, store.UsageStarted, store.AppStopped, out, store.Space{}, procs, nil)
	}
	s.desire(ctx, procs...)
	return out, nil
}

// stopApp marks the app STOPPED and removes its processes from Diego.
func (s *Server) stopApp(ctx context.Context, app store.App) (store.App, error) {
	out, err := s.store.SetAppState(ctx, app.GUID, store.AppStopped)
	if err != nil {
		return app, err
	}
	procs, err := s.store.AppProcesses(ctx, app.GUID)
	if err != nil {
		return out, err
	}
	if app.State == store.AppStarted {
		s.usageProcesses(ctx, store.UsageStopped, store.AppStarted, out, store.Space{}, procs, nil)
	}
	s.undesire(ctx, procs...)
	return out, nil
}

type appFeature struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
}

func appFeatures(app store.App) []appFeature {
	return []appFeature{
		{Name: "ssh", Description: "Enable SSHing into the app.", Enabled: app.EnableSSH},
		{Name: "revisions", Description: "Enable versioning of an application", Enabled: app.RevisionsEnabled},
	}
}

func (s *Server) listAppFeatures(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, _, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	l, err := query.Parse(r.URL.Query(), query.Spec{})
	if err != nil {
		return err
	}
	f := appFeatures(app)
	return writeJSON(w, http.StatusOK, map[string]any{
		"resources":  f,
		"pagination": l.Pagination(s.url("/v3/apps/"+app.GUID+"/features"), len(f)),
	})
}

func findFeature(app store.App, name string) (appFeature, error) {
	for _, f := range appFeatures(app) {
		if f.Name == name {
			return f, nil
		}
	}
	return appFeature{}, apierr.NotFound("Feature")
}

func (s *Server) getAppFeature(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, _, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	f, err := findFeature(app, r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, f)
}

func (s *Server) updateAppFeature(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, sp, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if _, err := findFeature(app, name); err != nil {
		return err
	}
	var b struct {
		Enabled *bool `json:"enabled"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Enabled == nil {
		return apierr.Unprocessable("Enabled must be a boolean")
	}
	if err := requireAppWrite(r.Context(), a, sp); err != nil {
		return err
	}
	if name == "ssh" {
		app.EnableSSH = *b.Enabled
	} else {
		app.RevisionsEnabled = *b.Enabled
	}
	updated, err := s.store.UpdateApp(r.Context(), app)
	if err != nil {
		return err
	}
	s.audit(r, a, appEvent(eventAppUpdate, updated, sp, map[string]any{"feature": name, "enabled": *b.Enabled}))
	f, _ := findFeature(updated, name)
	return writeJSON(w, http.StatusOK, f)
}

func (s *Server) appSSHEnabled(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, sp, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	out := struct {
		Enabled bool   `json:"enabled"`
		Reason  string `json:"reason"`
	}{Enabled: true}
	switch {
	case !sp.AllowSSH:
		out.Enabled, out.Reason = false, fmt.Sprintf("Disabled for space %s", sp.Name)
	case !app.EnableSSH:
		out.Enabled, out.Reason = false, "Disabled for app"
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) appPermissions(w http.ResponseWriter, r *http.Request, a *Actor) error {
	_, sp, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	secrets, err := canReadSecrets(r.Context(), a, sp)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]bool{"read_basic_data": true, "read_sensitive_data": secrets})
}

func (s *Server) currentDropletRel(app store.App) map[string]any {
	self := s.url("/v3/apps/" + app.GUID)
	var data any
	if app.DropletGUID != "" {
		data = GUIDRef{GUID: app.DropletGUID}
	}
	return map[string]any{
		"data": data,
		"links": map[string]Link{
			"self":    {Href: self + "/relationships/current_droplet"},
			"related": {Href: self + "/droplets/current"},
		},
	}
}

// getCurrentDropletRel is GET …/relationships/current_droplet; with no
// droplet CF answers 404 Droplet not found.
func (s *Server) getCurrentDropletRel(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, _, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if app.DropletGUID == "" {
		return apierr.NotFound("Droplet")
	}
	return writeJSON(w, http.StatusOK, s.currentDropletRel(app))
}

// setCurrentDropletRel is PATCH …/relationships/current_droplet: the
// droplet must be a STAGED droplet of the app (else CF's 422); records
// audit.app.droplet.mapped. {"data": null} is refused as CF does.
func (s *Server) setCurrentDropletRel(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, sp, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	var b struct {
		Data *GUIDRef `json:"data"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	ctx := r.Context()
	if err := requireAppWrite(ctx, a, sp); err != nil {
		return err
	}
	if b.Data == nil {
		return apierr.Unprocessable("Current droplet cannot be removed. Please assign a different droplet.")
	}
	out, err := s.store.AssignDroplet(ctx, app.GUID, b.Data.GUID)
	if errors.Is(err, store.ErrDropletNotAssignable) {
		return apierr.Unprocessable(dropletUnassignable)
	}
	if err != nil {
		return err
	}
	e := appEvent(eventAppDropletMapped, out, sp, nil)
	e.Data = map[string]any{"request": map[string]any{"droplet_guid": b.Data.GUID}}
	s.audit(r, a, e)
	s.apiLog(ctx, out, sp, logAppUpdated(out.GUID, map[string]any{"droplet_guid": b.Data.GUID}))
	return writeJSON(w, http.StatusOK, s.currentDropletRel(out))
}

// getCurrentDroplet is GET /v3/apps/:guid/droplets/current: the droplet,
// or 404 "Droplet not found" (exactly: the cf CLI matches it) while the
// app has none.
func (s *Server) getCurrentDroplet(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, sp, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if app.DropletGUID == "" {
		return apierr.NotFound("Droplet")
	}
	d, err := s.store.GetDroplet(r.Context(), app.DropletGUID)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("Droplet")
	}
	if err != nil {
		return err
	}
	return s.renderDroplet(w, r, a, d, sp)
}

// listAppRoutes is GET /v3/apps/:guid/routes: the routes with a
// destination of the app, with the route list's filters.
func (s *Server) listAppRoutes(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, _, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	l, err := query.Parse(r.URL.Query(), routeListSpec)
	if err != nil {
		return err
	}
	f, err := routeFilter(l)
	if err != nil {
		return err
	}
	f.Where("t.guid IN (SELECT ad.route_guid FROM route_destinations ad WHERE ad.app_guid = ?)", app.GUID)
	if err := routeVisibility(r, a, &f); err != nil {
		return err
	}
	routes, total, err := s.store.ListRoutes(r.Context(), f)
	if err != nil {
		return err
	}
	guids := make([]string, 0, len(routes))
	for _, rt := range routes {
		guids = append(guids, rt.GUID)
	}
	dests, err := s.store.RouteDestinations(r.Context(), guids)
	if err != nil {
		return err
	}
	out := make([]routeJSON, 0, len(routes))
	for _, rt := range routes {
		out = append(out, s.routeJSON(rt, dests[rt.GUID]))
	}
	resp := list{Pagination: l.Pagination(s.url("/v3/apps/"+app.GUID+"/routes"), total), Resources: out}
	if len(l.Include) > 0 {
		if resp.Included, err = s.routeIncludes(r, a, l, routes); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, resp)
}
