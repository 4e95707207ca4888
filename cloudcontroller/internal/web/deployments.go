package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Deployments: /v3/deployments (cf push/restart/restage --strategy
// rolling, cf cancel-deployment, cf continue-deployment).
//
// The app keeps its one web process. Creating a deployment makes the
// target droplet the app's current droplet (and starts the app) in one
// transaction and desires the app's processes. While the deployment is
// ACTIVE the Diego sync gives the web process two LRP versions (see
// diego/rollout.go): the new one, named by the deployment, grows
// max_in_flight instances beyond those RUNNING, and the old one shrinks to
// the instances not yet replaced, so the app keeps serving. The
// deployment updater (RunDeployments, every DeploymentInterval) drives the
// steps through the Desirer's Roll and finalizes the deployment
// (FINALIZED/DEPLOYED) when every new instance runs and the old version is
// gone. Without a rolling Desirer it only waits for the web process's
// instances to be RUNNING (InstanceReporter). Cancel gives the app back its
// previous droplet and desires again (the old version, if still there,
// is scaled back up; the new one goes). Other processes than web are
// replaced at once, as a restart does.

// DeploymentInterval is how often the deployment updater looks at ACTIVE
// deployments.
const DeploymentInterval = 3 * time.Second

type deploymentStatusJSON struct {
	Value   string            `json:"value"`
	Reason  string            `json:"reason"`
	Details map[string]string `json:"details"`
}

type deploymentJSON struct {
	GUID            string               `json:"guid"`
	State           string               `json:"state"`
	Status          deploymentStatusJSON `json:"status"`
	Strategy        string               `json:"strategy"`
	Options         map[string]any       `json:"options"`
	Droplet         GUIDRef              `json:"droplet"`
	PreviousDroplet *GUIDRef             `json:"previous_droplet"`
	NewProcesses    []map[string]string  `json:"new_processes"`
	Revision        *GUIDRef             `json:"revision"`
	CreatedAt       string               `json:"created_at"`
	UpdatedAt       string               `json:"updated_at"`
	Metadata        Metadata             `json:"metadata"`
	Relationships   map[string]any       `json:"relationships"`
	Links           map[string]Link      `json:"links"`
}

func (s *Server) deploymentJSON(d store.Deployment) deploymentJSON {
	self := s.url("/v3/deployments/" + d.GUID)
	out := deploymentJSON{
		GUID: d.GUID, State: d.State,
		Status: deploymentStatusJSON{Value: d.StatusValue, Reason: d.StatusReason, Details: map[string]string{
			"last_successful_healthcheck": timestamp(d.LastStatusChange), "last_status_change": timestamp(d.LastStatusChange),
		}},
		Strategy:     d.Strategy,
		Options:      map[string]any{"max_in_flight": d.MaxInFlight, "web_instances": d.WebInstances},
		Droplet:      GUIDRef{GUID: d.DropletGUID},
		NewProcesses: []map[string]string{},
		CreatedAt:    timestamp(d.CreatedAt), UpdatedAt: timestamp(d.UpdatedAt),
		Metadata:      toMetadata(d.Metadata),
		Relationships: map[string]any{"app": map[string]any{"data": GUIDRef{GUID: d.AppGUID}}},
		Links: map[string]Link{
			"self": {Href: self}, "app": {Href: s.url("/v3/apps/" + d.AppGUID)},
			"cancel":   {Href: self + "/actions/cancel", Method: http.MethodPost},
			"continue": {Href: self + "/actions/continue", Method: http.MethodPost},
		},
	}
	if d.PreviousDropletGUID != "" {
		out.PreviousDroplet = &GUIDRef{GUID: d.PreviousDropletGUID}
	}
	if d.ProcessGUID != "" {
		out.NewProcesses = append(out.NewProcesses, map[string]string{"guid": d.ProcessGUID, "type": store.ProcessWeb})
	}
	return out
}

var deploymentListSpec = query.Spec{
	Filters:       []string{"guids", "app_guids", "states", "status_values", "status_reasons", "space_guids", "organization_guids"},
	LabelSelector: true, Timestamps: true,
}

func (s *Server) registerDeployments() {
	s.authed("GET /v3/deployments", s.listDeployments)
	s.authed("POST /v3/deployments", s.createDeployment)
	s.authed("GET /v3/deployments/{guid}", s.getDeployment)
	s.authed("PATCH /v3/deployments/{guid}", s.updateDeployment)
	s.authed("POST /v3/deployments/{guid}/actions/cancel", s.cancelDeployment)
	s.authed("POST /v3/deployments/{guid}/actions/continue", s.continueDeployment)
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request, a *Actor) error {
	l, err := query.Parse(r.URL.Query(), deploymentListSpec)
	if err != nil {
		return err
	}
	f, err := appChildFilter(l) // guids, states, app_guids, space_guids, organization_guids, common
	if err != nil {
		return err
	}
	if v, ok := l.Filters["status_values"]; ok {
		f.In("t.status_value", v)
	}
	if v, ok := l.Filters["status_reasons"]; ok {
		f.In("t.status_reason", v)
	}
	if err := spaceVisibilityOf(r, a, &f, "pa.space_guid"); err != nil {
		return err
	}
	ds, total, err := s.store.ListDeployments(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]deploymentJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, s.deploymentJSON(d))
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url("/v3/deployments"), total), Resources: out})
}

func (s *Server) visibleDeployment(r *http.Request, a *Actor) (store.Deployment, store.Space, error) {
	v, err := s.store.GetDeployment(r.Context(), r.PathValue("guid"))
	return inVisibleSpace(s, r, a, "Deployment", v, err, func(v store.Deployment) string { return v.SpaceGUID })
}

func (s *Server) getDeployment(w http.ResponseWriter, r *http.Request, a *Actor) error {
	d, _, err := s.visibleDeployment(r, a)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.deploymentJSON(d))
}

type deploymentOptions struct {
	MaxInFlight                  *int            `json:"max_in_flight"`
	WebInstances                 *int            `json:"web_instances"`
	MemoryInMB                   *int            `json:"memory_in_mb"`
	DiskInMB                     *int            `json:"disk_in_mb"`
	LogRateLimitInBytesPerSecond *int64          `json:"log_rate_limit_in_bytes_per_second"`
	Canary                       json.RawMessage `json:"canary"`
}

type deploymentBody struct {
	Droplet       *GUIDRef           `json:"droplet"`
	Revision      *GUIDRef           `json:"revision"`
	Strategy      *string            `json:"strategy"`
	Options       *deploymentOptions `json:"options"`
	Relationships *struct {
		App *struct {
			Data *GUIDRef `json:"data"`
		} `json:"app"`
	} `json:"relationships"`
	Metadata *metadataPatch `json:"metadata"`
}

const deploymentAppInvalid = "Unable to use app. Ensure that the app exists and you have access to it."

func (s *Server) createDeployment(w http.ResponseWriter, r *http.Request, a *Actor) error {
	var b deploymentBody
	if err := decode(r, &b); err != nil {
		return err
	}
	var p problems
	if b.Relationships == nil || b.Relationships.App == nil || b.Relationships.App.Data == nil || b.Relationships.App.Data.GUID == "" {
		p.add("Relationships 'relationships' must include one or more valid relationships")
	}
	strategy := "rolling"
	if b.Strategy != nil {
		strategy = *b.Strategy
	}
	if strategy != "rolling" {
		p.add("Strategy '%s' is not a supported deployment strategy", strategy)
	}
	if b.Revision != nil {
		p.add("Revisions are not supported; deploy a droplet")
	}
	if b.Droplet != nil && b.Revision != nil {
		p.add("Cannot set both fields 'droplet' and 'revision'")
	}
	maxInFlight := 1
	var webInstances *int
	if o := b.Options; o != nil {
		if o.MaxInFlight != nil {
			if *o.MaxInFlight < 1 {
				p.add("Max in flight must be an integer greater than 0")
			}
			maxInFlight = *o.MaxInFlight
		}
		if o.WebInstances != nil {
			if *o.WebInstances < 1 {
				p.add("Web instances must be an integer greater than 0")
			}
			webInstances = o.WebInstances
		}
		if len(o.Canary) > 0 && string(o.Canary) != "null" {
			p.add("Canary options are only valid for the canary strategy")
		}
		if o.MemoryInMB != nil || o.DiskInMB != nil || o.LogRateLimitInBytesPerSecond != nil {
			p.add("Scaling options are not supported for deployments yet")
		}
	}
	if err := p.err(); err != nil {
		return err
	}
	app, sp, err := s.visibleApp(r, a, b.Relationships.App.Data.GUID)
	if err != nil {
		if e, _ := apierr.As(err); e.Status == http.StatusNotFound {
			return apierr.Unprocessable(deploymentAppInvalid)
		}
		return err
	}
	ctx := r.Context()
	if err := requireAppWrite(ctx, a, sp); err != nil {
		return err
	}
	droplet := app.DropletGUID
	if b.Droplet != nil && b.Droplet.GUID != "" {
		droplet = b.Droplet.GUID
	}
	if droplet == "" {
		droplet, err = s.store.NewestStagedDroplet(ctx, app.GUID)
		if errors.Is(err, store.ErrNotFound) {
			return apierr.Unprocessable("Invalid droplet. Please specify a droplet in the request or set a current droplet for the app.")
		}
		if err != nil {
			return err
		}
	}
	web, err := s.store.GetAppProcess(ctx, app.GUID, store.ProcessWeb)
	if err != nil {
		return err
	}
	if webInstances != nil && *webInstances != web.Instances {
		// Scaling inside a deployment is not done yet (cf scale first).
		return apierr.Unprocessable("Web instances cannot differ from the web process's instances yet")
	}
	d := store.Deployment{AppGUID: app.GUID, Strategy: strategy, MaxInFlight: maxInFlight, DropletGUID: droplet,
		ProcessGUID: web.GUID, WebInstances: web.Instances}
	if err := b.Metadata.apply(&d.Metadata); err != nil {
		return err
	}
	d, superseded, err := s.store.CreateDeployment(ctx, d)
	if errors.Is(err, store.ErrDropletNotAssignable) {
		return apierr.Unprocessable("Unable to assign current droplet. Ensure the droplet exists and belongs to this app.")
	}
	if err != nil {
		return err
	}
	if superseded != "" {
		s.logger.Info("deployment superseded", "deployment", superseded, "by", d.GUID, "app", app.GUID)
	}
	s.audit(r, a, appEvent("audit.app.deployment.create", app, sp, map[string]any{
		"deployment_guid": d.GUID, "droplet_guid": d.DropletGUID, "strategy": d.Strategy,
	}))
	if err := s.desireApp(ctx, app.GUID); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.deploymentJSON(d))
}

// desireApp tells Diego about every process of the app (its droplet or
// state changed).
func (s *Server) desireApp(ctx context.Context, app string) error {
	procs, err := s.store.AppProcesses(ctx, app)
	if err != nil {
		return err
	}
	s.desire(ctx, procs...)
	return nil
}

func (s *Server) updateDeployment(w http.ResponseWriter, r *http.Request, a *Actor) error {
	d, sp, err := s.visibleDeployment(r, a)
	if err != nil {
		return err
	}
	var b struct {
		Metadata *metadataPatch `json:"metadata"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	if err := requireAppWrite(r.Context(), a, sp); err != nil {
		return err
	}
	if err := b.Metadata.apply(&d.Metadata); err != nil {
		return err
	}
	d, err = s.store.UpdateDeploymentMetadata(r.Context(), d.GUID, d.Metadata)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.deploymentJSON(d))
}

// cancelDeployment is POST /v3/deployments/:guid/actions/cancel: the app
// goes back to its previous droplet.
func (s *Server) cancelDeployment(w http.ResponseWriter, r *http.Request, a *Actor) error {
	d, sp, err := s.visibleDeployment(r, a)
	if err != nil {
		return err
	}
	if err := requireAppWrite(r.Context(), a, sp); err != nil {
		return err
	}
	if _, err := s.store.CancelDeployment(r.Context(), d.GUID); errors.Is(err, store.ErrDeploymentFinished) {
		return apierr.Unprocessable("Cannot cancel a " + d.StatusReason + " deployment")
	} else if err != nil {
		return err
	}
	if app, err := s.store.GetApp(r.Context(), d.AppGUID); err == nil {
		s.audit(r, a, appEvent("audit.app.deployment.cancel", app, sp, map[string]any{"deployment_guid": d.GUID, "droplet_guid": d.DropletGUID}))
	}
	if err := s.desireApp(r.Context(), d.AppGUID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// continueDeployment is POST /v3/deployments/:guid/actions/continue. Only
// a paused canary deployment can continue; rolling deployments never
// pause.
func (s *Server) continueDeployment(w http.ResponseWriter, r *http.Request, a *Actor) error {
	d, sp, err := s.visibleDeployment(r, a)
	if err != nil {
		return err
	}
	if err := requireAppWrite(r.Context(), a, sp); err != nil {
		return err
	}
	return apierr.Unprocessable("Cannot continue a deployment with status: " + d.StatusValue + " and reason: " + d.StatusReason)
}

// roller is implemented by a Desirer that rolls deployments itself (the
// Diego sync: the new LRP version grows max_in_flight instances at a time
// while the old one shrinks as new instances run). Roll takes one step
// and reports whether the rollout is complete.
type roller interface {
	Roll(ctx context.Context, p store.Process) (done bool, err error)
}

// RunDeployments is the deployment updater: every DeploymentInterval it
// finalizes the ACTIVE deployments whose web instances all run. It
// returns nil when ctx ends.
func (s *Server) RunDeployments(ctx context.Context) error {
	t := time.NewTicker(DeploymentInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := s.UpdateDeployments(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("deployment updater", "err", err)
		}
	}
}

// UpdateDeployments looks at every ACTIVE deployment once (one tick of the
// deployment updater).
func (s *Server) UpdateDeployments(ctx context.Context) error {
	ds, err := s.store.ActiveDeployments(ctx)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if err := s.updateDeployment1(ctx, d); err != nil {
			s.logger.Warn("update deployment", "deployment", d.GUID, "app", d.AppGUID, "err", err)
		}
	}
	return nil
}

func (s *Server) updateDeployment1(ctx context.Context, d store.Deployment) error {
	app, err := s.store.GetApp(ctx, d.AppGUID)
	if err != nil {
		return err
	}
	finish := func(state, reason string) error {
		_, err := s.store.SetDeploymentStatus(ctx, d.GUID, state, store.DeploymentFinalized, reason)
		if errors.Is(err, store.ErrDeploymentFinished) {
			return nil
		}
		if err == nil {
			s.logger.Info("deployment finalized", "deployment", d.GUID, "app", d.AppGUID, "reason", reason)
		}
		return err
	}
	switch {
	case app.State != store.AppStarted:
		return finish(store.DeploymentCanceled, store.DeploymentCanceled)
	case app.DropletGUID != d.DropletGUID:
		// Someone assigned another droplet: this deployment no longer
		// describes what runs.
		return finish(store.DeploymentDeployed, store.DeploymentSuperseded)
	}
	web, err := s.store.GetProcess(ctx, d.ProcessGUID)
	if errors.Is(err, store.ErrNotFound) {
		return finish(store.DeploymentCanceled, store.DeploymentCanceled)
	}
	if err != nil {
		return err
	}
	if r, ok := s.desirer.(roller); ok {
		done, err := r.Roll(ctx, web)
		if err != nil || !done {
			return err
		}
		if err := finish(store.DeploymentDeployed, store.DeploymentDeployed); err != nil {
			return err
		}
		s.desire(ctx, web) // one version at full scale from now on
		return nil
	}
	if s.instances != nil && web.Instances > 0 {
		insts, err := s.instances.Instances(ctx, web.GUID)
		if err != nil {
			return err
		}
		running := map[int]bool{}
		for _, in := range insts {
			if in.State == InstanceRunning && in.Index < web.Instances {
				running[in.Index] = true
			}
		}
		if len(running) < web.Instances {
			return nil
		}
	}
	return finish(store.DeploymentDeployed, store.DeploymentDeployed)
}
