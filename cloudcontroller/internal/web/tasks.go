package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Tasks: one-off commands of an app (`cf run-task`, `cf tasks`). A task
// runs on Diego as a BBS task (guid = task guid, domain TaskDomain) in a
// container of the droplet's stack:
//
//	setup:    droplets/<droplet> (signed GET) → /home/vcap
//	action:   /tmp/lifecycle/launcher /home/vcap/app "<command>" "" (log source APP/TASK/<name>)
//	callback: POST <callback_url>/internal/v4/tasks/<task>/completed?token=<HMAC>
//
// States (CF's TaskModel): PENDING (created) → RUNNING (the BBS accepted
// it; TASK_STARTED) → SUCCEEDED or FAILED with result.failure_reason (the
// callback; TASK_STOPPED). Cancel moves PENDING/RUNNING to CANCELING and
// asks the BBS to cancel; the BBS's callback ("task was cancelled") makes
// it FAILED.
//
// Read like the app. Created by admins and space developers (CF's
// can_write_to_active_space), cancelled also by space supporters.
//
// The task's definition duplicates a little of internal/diego's LRP
// recipe (environment, droplet download, launcher action) rather than
// reaching into that package: the two differ in most details.

// TaskDomain is the BBS domain of tasks (CF's Diego::TASKS_DOMAIN).
const TaskDomain = "cf-tasks"

// CF's texts.
const (
	taskNoDroplet        = "Task must have a droplet. Specify droplet or assign current droplet to app."
	taskRequestFailed    = "Unable to request task to be run"
	taskCancelled        = "task was cancelled"
	taskMaxCommandLength = 4096
	taskMaxReasonLength  = 255
	taskWorkersCode      = 170020
)

// Task audit event types (CF's).
const (
	eventTaskCreate = "audit.app.task.create"
	eventTaskCancel = "audit.app.task.cancel"
)

// Paths in the task container (the same as an LRP's).
const (
	taskLauncher = "/tmp/lifecycle/launcher"
	taskAppDir   = "/home/vcap/app"
	taskFds      = 16384
	// taskURLTTL is the droplet URL's lifetime: a task may wait for a
	// cell before it downloads.
	taskURLTTL = 24 * time.Hour
)

var taskListSpec = query.Spec{
	Filters:       []string{"guids", "names", "states", "app_guids", "space_guids", "organization_guids"},
	LabelSelector: true,
	Timestamps:    true,
}

var appTaskListSpec = query.Spec{
	Filters:       []string{"guids", "names", "states", "sequence_ids"},
	LabelSelector: true,
	Timestamps:    true,
}

func (s *Server) registerTasks() {
	s.authed("GET /v3/tasks", s.listTasks)
	s.authed("GET /v3/tasks/{guid}", s.getTask)
	s.authed("PATCH /v3/tasks/{guid}", s.updateTask)
	s.authed("POST /v3/tasks/{guid}/actions/cancel", s.cancelTask)
	s.authed("PUT /v3/tasks/{guid}/cancel", s.cancelTask) // CF's older path
	s.authed("GET /v3/apps/{guid}/tasks", s.listAppTasks)
	s.authed("POST /v3/apps/{guid}/tasks", s.createTask)
	s.public("POST /internal/v4/tasks/{guid}/completed", s.taskCompleted)
	s.bodyLimits["POST /internal/v4/tasks/{guid}/completed"] = maxCallbackBytes
}

type taskJSON struct {
	GUID          string          `json:"guid"`
	CreatedAt     string          `json:"created_at"`
	UpdatedAt     string          `json:"updated_at"`
	SequenceID    int             `json:"sequence_id"`
	Name          string          `json:"name"`
	Command       *string         `json:"command,omitempty"`
	User          string          `json:"user"`
	State         string          `json:"state"`
	MemoryInMB    int             `json:"memory_in_mb"`
	DiskInMB      int             `json:"disk_in_mb"`
	LogRateLimit  int64           `json:"log_rate_limit_in_bytes_per_second"`
	Result        map[string]any  `json:"result"`
	DropletGUID   string          `json:"droplet_guid"`
	Relationships map[string]any  `json:"relationships"`
	Metadata      Metadata        `json:"metadata"`
	Links         map[string]Link `json:"links"`
}

// taskJSON renders a task; the command only for callers who read the
// app's secrets (CF leaves the key out otherwise).
func (s *Server) taskJSON(t store.Task, secrets bool) taskJSON {
	var reason any
	if t.FailureReason != "" {
		reason = t.FailureReason
	}
	out := taskJSON{
		GUID: t.GUID, CreatedAt: timestamp(t.CreatedAt), UpdatedAt: timestamp(t.UpdatedAt),
		SequenceID: t.SequenceID, Name: t.Name, User: "vcap", State: t.State,
		MemoryInMB: t.MemoryMB, DiskInMB: t.DiskMB, LogRateLimit: t.LogRateLimit,
		Result: map[string]any{"failure_reason": reason}, DropletGUID: t.DropletGUID,
		Relationships: map[string]any{"app": toOne(t.AppGUID)},
		Metadata:      toMetadata(t.Metadata),
		Links: map[string]Link{
			"self":    {Href: s.url("/v3/tasks/" + t.GUID)},
			"app":     {Href: s.url("/v3/apps/" + t.AppGUID)},
			"cancel":  {Href: s.url("/v3/tasks/" + t.GUID + "/actions/cancel"), Method: "POST"},
			"droplet": {Href: s.url("/v3/droplets/" + t.DropletGUID)},
		},
	}
	if secrets {
		out.Command = &t.Command
	}
	return out
}

func taskFilter(l query.List) (store.Filter, error) {
	f, err := appChildFilter(l) // guids, states, app/space/organization guids, labels, timestamps
	if err != nil {
		return f, err
	}
	if v, ok := l.Filters["names"]; ok {
		f.In("t.name", v)
	}
	if v, ok := l.Filters["sequence_ids"]; ok {
		ids := make([]int32, 0, len(v))
		for _, s := range v {
			if n, err := strconv.ParseInt(s, 10, 32); err == nil {
				ids = append(ids, int32(n))
			}
		}
		f.Where("t.sequence_id = ANY(?)", ids)
	}
	return f, nil
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request, a *Actor) error {
	// CF never shows commands in /v3/tasks.
	return s.writeTasks(w, r, a, taskListSpec, "/v3/tasks", "", false)
}

func (s *Server) listAppTasks(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, sp, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	secrets, err := canReadSecrets(r.Context(), a, sp)
	if err != nil {
		return err
	}
	return s.writeTasks(w, r, a, appTaskListSpec, "/v3/apps/"+app.GUID+"/tasks", app.GUID, secrets)
}

func (s *Server) writeTasks(w http.ResponseWriter, r *http.Request, a *Actor, spec query.Spec, path, app string, secrets bool) error {
	l, err := query.Parse(r.URL.Query(), spec)
	if err != nil {
		return err
	}
	f, err := taskFilter(l)
	if err != nil {
		return err
	}
	if app != "" {
		f.Where("t.app_guid = ?::uuid", app)
	}
	if err := spaceVisibilityOf(r, a, &f, "pa.space_guid"); err != nil {
		return err
	}
	tasks, total, err := s.store.ListTasks(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]taskJSON, 0, len(tasks))
	for _, t := range tasks {
		out = append(out, s.taskJSON(t, secrets))
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url(path), total), Resources: out})
}

func (s *Server) visibleTask(r *http.Request, a *Actor, guid string) (store.Task, store.Space, error) {
	v, err := s.store.GetTask(r.Context(), guid)
	return inVisibleSpace(s, r, a, "Task", v, err, func(v store.Task) string { return v.SpaceGUID })
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request, a *Actor) error {
	t, sp, err := s.visibleTask(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	secrets, err := canReadSecrets(r.Context(), a, sp)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.taskJSON(t, secrets))
}

func (s *Server) updateTask(w http.ResponseWriter, r *http.Request, a *Actor) error {
	t, sp, err := s.visibleTask(r, a, r.PathValue("guid"))
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
	if err := body.Metadata.apply(&t.Metadata); err != nil {
		return err
	}
	out, err := s.store.UpdateTaskMetadata(r.Context(), t.GUID, t.Metadata)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.taskJSON(out, true))
}

type taskBody struct {
	Name         *string         `json:"name"`
	Command      *string         `json:"command"`
	MemoryInMB   json.RawMessage `json:"memory_in_mb"`
	DiskInMB     json.RawMessage `json:"disk_in_mb"`
	LogRateLimit json.RawMessage `json:"log_rate_limit_in_bytes_per_second"`
	DropletGUID  *string         `json:"droplet_guid"`
	Template     *struct {
		Process *struct {
			GUID string `json:"guid"`
		} `json:"process"`
	} `json:"template"`
	Metadata *metadataPatch `json:"metadata"`
}

// intField parses an optional integer field with CF's texts ("Memory in
// mb must be an integer", "… must be greater than 0").
func intField(p *problems, label string, raw json.RawMessage, min int64, minText string) *int64 {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		p.add("%s is not a number", label)
		return nil
	}
	n := int64(f)
	if float64(n) != f {
		p.add("%s must be an integer", label)
		return nil
	}
	if n < min {
		p.add("%s must be %s", label, minText)
		return nil
	}
	return &n
}

// taskRequest is a validated create request.
type taskRequest struct {
	name, command           *string
	memory, disk, logRate   *int64
	droplet, templateProcID string
}

func (b taskBody) check() (taskRequest, error) {
	var p problems
	req := taskRequest{name: b.Name, command: b.Command}
	req.memory = intField(&p, "Memory in mb", b.MemoryInMB, 1, "greater than 0")
	req.disk = intField(&p, "Disk in mb", b.DiskInMB, 1, "greater than 0")
	req.logRate = intField(&p, "Log rate limit in bytes per second", b.LogRateLimit, -1, "greater than -2")
	if b.Template != nil {
		if b.Template.Process == nil || b.Template.Process.GUID == "" {
			p.add("Template process guid must be a string")
		} else {
			req.templateProcID = b.Template.Process.GUID
		}
	}
	if b.Command == nil && b.Template == nil {
		p.add("Command No command or template provided")
	}
	if b.DropletGUID != nil {
		req.droplet = *b.DropletGUID
	}
	if err := p.err(); err != nil {
		return req, err
	}
	// The model's validations (CF reports them alone).
	if b.Name != nil && (*b.Name == "" || strings.TrimSpace(*b.Name) != *b.Name || !printable(*b.Name)) {
		return req, apierr.Unprocessable("name format")
	}
	if b.Command != nil && len(*b.Command) > taskMaxCommandLength {
		return req, apierr.Unprocessable(fmt.Sprintf("command must be shorter than %d characters", taskMaxCommandLength+1))
	}
	if b.Command != nil && *b.Command == "" {
		return req, apierr.Unprocessable("command presence")
	}
	return req, nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func randomTaskName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func taskWorkersUnavailable(detail string) error {
	return apierr.New(http.StatusServiceUnavailable, taskWorkersCode, "TaskWorkersUnavailable", "Task workers are unavailable: "+detail)
}

// createTask is POST /v3/apps/:guid/tasks (202 with the task, as CF).
func (s *Server) createTask(w http.ResponseWriter, r *http.Request, a *Actor) error {
	ctx := r.Context()
	if err := s.requireFlag(ctx, a, store.FlagTaskCreation); err != nil {
		return err
	}
	var body taskBody
	if err := decode(r, &body); err != nil {
		return err
	}
	req, err := body.check()
	if err != nil {
		return err
	}
	app, sp, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if err := requireAppWrite(ctx, a, sp); err != nil {
		return err
	}
	dropletGUID := app.DropletGUID
	if req.droplet != "" {
		dropletGUID = req.droplet
	}
	if dropletGUID == "" {
		return apierr.Unprocessable(taskNoDroplet)
	}
	droplet, err := s.store.GetDroplet(ctx, dropletGUID)
	if err != nil || droplet.AppGUID != app.GUID || droplet.State != store.StateStaged {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if req.droplet != "" {
			return apierr.NotFound("Droplet")
		}
		return apierr.Unprocessable(taskNoDroplet)
	}
	t := store.Task{
		AppGUID: app.GUID, Name: randomTaskName(), DropletGUID: droplet.GUID,
		MemoryMB: s.opts.DefaultAppMemoryMB, DiskMB: s.opts.DefaultAppDiskMB, LogRateLimit: -1,
	}
	if req.templateProcID != "" {
		p, err := s.store.GetProcess(ctx, req.templateProcID)
		if errors.Is(err, store.ErrNotFound) {
			return apierr.NotFound("Process")
		}
		if err != nil {
			return err
		}
		t.MemoryMB, t.DiskMB, t.LogRateLimit = p.MemoryMB, p.DiskMB, p.LogRateLimit
		switch {
		case p.Command != nil:
			t.Command = *p.Command
		default:
			t.Command = droplet.ProcessTypes[p.Type]
		}
	}
	if req.command != nil {
		t.Command = *req.command
	}
	if t.Command == "" {
		return apierr.Unprocessable("command presence")
	}
	if req.name != nil {
		t.Name = *req.name
	}
	if req.memory != nil {
		t.MemoryMB = int(*req.memory)
	}
	if req.disk != nil {
		t.DiskMB = int(*req.disk)
	}
	if req.logRate != nil {
		t.LogRateLimit = *req.logRate
	}
	if err := body.Metadata.apply(&t.Metadata); err != nil {
		return err
	}
	if s.tasks == nil || s.blobs == nil || len(s.opts.Staging.CallbackSecret) == 0 {
		return taskWorkersUnavailable("Diego is not configured")
	}
	t, err = s.store.CreateTask(ctx, t, func(ctx context.Context) error { return s.checkTaskQuotaFor(ctx, app, t) })
	if err != nil {
		return err
	}
	e := appEvent(eventTaskCreate, app, sp, nil)
	e.Data = map[string]any{"task_guid": t.GUID, "request": map[string]any{"name": t.Name, "memory_in_mb": t.MemoryMB, "command": "[PRIVATE DATA HIDDEN]"}}
	s.audit(r, a, e)

	org, err := s.store.GetOrg(ctx, sp.OrgGUID)
	if err != nil {
		return err
	}
	def, err := s.taskDefinitionFor(app, sp, org, droplet, t)
	if err == nil {
		err = s.tasks.DesireTask(context.WithoutCancel(ctx), t.GUID, TaskDomain, def)
	}
	if err != nil {
		s.logger.Error("desire task", "task", t.GUID, "app", app.GUID, "err", err)
		_, _, _ = s.store.SetTaskState(context.WithoutCancel(ctx), t.GUID, []string{store.TaskPending}, store.TaskFailed, taskRequestFailed)
		return taskWorkersUnavailable(err.Error())
	}
	before, running, err := s.store.SetTaskState(context.WithoutCancel(ctx), t.GUID, []string{store.TaskPending}, store.TaskRunning, "")
	switch {
	case err == nil:
		s.usageTask(ctx, store.UsageTaskStarted, running, before.State)
		t = running
	case errors.Is(err, store.ErrTaskState):
		t = running // finished or cancelled meanwhile
	default:
		return err
	}
	return writeJSON(w, http.StatusAccepted, s.taskJSON(t, true))
}

// checkTaskQuotaFor checks a new task against the quotas: memory of
// started processes plus active tasks, log rate, and the app's active
// task count (CF's TaskModel quota policies).
func (s *Server) checkTaskQuotaFor(ctx context.Context, app store.App, t store.Task) error {
	started, err := s.store.StartedUsage(ctx, app.SpaceGUID, "")
	if err != nil {
		return err
	}
	tasks, err := s.store.ActiveTaskUsage(ctx, app.SpaceGUID, app.GUID)
	if err != nil {
		return err
	}
	return s.checkTaskQuota(ctx, taskQuotaRequest{
		SpaceGUID: app.SpaceGUID, MemoryMB: int64(t.MemoryMB), LogRate: t.LogRateLimit,
		OrgUsed:   quotaUsage{MemoryMB: started.OrgMemoryMB + tasks.OrgMemoryMB, LogRate: started.OrgLogRate + tasks.OrgLogRate, Tasks: tasks.AppTasks},
		SpaceUsed: quotaUsage{MemoryMB: started.SpaceMemoryMB + tasks.SpaceMemoryMB, LogRate: started.SpaceLogRate + tasks.SpaceLogRate, Tasks: tasks.AppTasks},
	})
}

// taskCallbackToken is the HMAC of a task guid (a different message from
// the staging callback's, so that one token never serves the other).
func taskCallbackToken(secret []byte, task string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("anvil-task-callback-v1\n" + task))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) taskCallbackURL(task string) string {
	return s.opts.Staging.CallbackURL + "/internal/v4/tasks/" + task + "/completed?token=" +
		url.QueryEscape(taskCallbackToken(s.opts.Staging.CallbackSecret, task))
}

// taskDefinitionFor is the BBS task that runs t.
func (s *Server) taskDefinitionFor(app store.App, sp store.Space, org store.Org, d store.Droplet, t store.Task) (*bbsv1.TaskDefinition, error) {
	dropletURL, err := s.blobs.SignedURL(http.MethodGet, apiblob.BucketDroplets, d.GUID, taskURLTTL)
	if err != nil {
		return nil, err
	}
	stack := d.Stack
	if stack == "" {
		stack = app.Stack
	}
	vcap, err := json.Marshal(map[string]any{
		"cf_api": s.opts.ExternalURL, "limits": map[string]int{"fds": taskFds, "mem": t.MemoryMB, "disk": t.DiskMB},
		"application_id": app.GUID, "application_name": app.Name, "name": app.Name,
		"application_uris": []string{}, "uris": []string{},
		"application_version": d.GUID, "version": d.GUID,
		"space_id": sp.GUID, "space_name": sp.Name, "organization_id": org.GUID, "organization_name": org.Name, "users": nil,
	})
	if err != nil {
		return nil, err
	}
	env := []*bbsv1.EnvironmentVariable{
		{Name: "VCAP_APPLICATION", Value: string(vcap)},
		{Name: "VCAP_SERVICES", Value: "{}"},
		{Name: "MEMORY_LIMIT", Value: strconv.Itoa(t.MemoryMB) + "m"},
		{Name: "LANG", Value: "en_US.UTF-8"},
		{Name: "CF_STACK", Value: stack},
	}
	keys := make([]string, 0, len(app.Env))
	for k := range app.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, &bbsv1.EnvironmentVariable{Name: k, Value: app.Env[k]})
	}
	return &bbsv1.TaskDefinition{
		RootFs: "preloaded:" + stack, Env: env,
		MemoryMb: int32(t.MemoryMB), DiskMb: int32(t.DiskMB), LogRateLimitBytesPerSecond: t.LogRateLimit,
		CpuWeight: taskCPUWeight(t.MemoryMB),
		Setup: []*bbsv1.DownloadAction{{
			Artifact: "droplet", From: dropletURL, To: "/home/vcap",
			ChecksumAlgorithm: "sha256", ChecksumValue: d.SHA256, CacheKey: "droplets-" + d.GUID, User: "vcap",
		}},
		Action: &bbsv1.RunAction{
			Path: taskLauncher, Args: []string{taskAppDir, t.Command, ""}, Dir: "/home/vcap", User: "vcap",
			LogSource: "APP/TASK/" + t.Name, ResourceLimits: &bbsv1.ResourceLimits{Nofile: taskFds},
		},
		CompletionCallbackUrl: s.taskCallbackURL(t.GUID),
		LogGuid:               app.GUID,
		MetricTags: map[string]string{
			"source_id": app.GUID, "app_id": app.GUID, "app_name": app.Name,
			"space_id": sp.GUID, "space_name": sp.Name, "organization_id": org.GUID, "organization_name": org.Name,
		},
		Annotation: t.GUID,
	}, nil
}

// taskCPUWeight is CF's 100 × clamp(memory, 128, 8192) / 8192.
func taskCPUWeight(memoryMB int) uint32 {
	m := min(max(memoryMB, 128), 8192)
	return uint32(100 * m / 8192)
}

// cancelTask is POST /v3/tasks/:guid/actions/cancel (and PUT
// /v3/tasks/:guid/cancel): 202 with the task CANCELING.
func (s *Server) cancelTask(w http.ResponseWriter, r *http.Request, a *Actor) error {
	t, sp, err := s.visibleTask(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := requireAppManage(ctx, a, sp); err != nil {
		return err
	}
	if t.Terminal() {
		return apierr.Unprocessable(fmt.Sprintf("Task state is %s and therefore cannot be canceled", t.State))
	}
	_, out, err := s.store.SetTaskState(ctx, t.GUID, []string{store.TaskPending, store.TaskRunning, store.TaskCanceling}, store.TaskCanceling, "")
	if errors.Is(err, store.ErrTaskState) {
		return apierr.Unprocessable(fmt.Sprintf("Task state is %s and therefore cannot be canceled", out.State))
	}
	if err != nil {
		return err
	}
	app, err := s.store.GetApp(ctx, t.AppGUID)
	if err != nil {
		return err
	}
	e := appEvent(eventTaskCancel, app, sp, nil)
	e.Data = map[string]any{"task_guid": t.GUID, "request": map[string]any{"name": t.Name, "memory_in_mb": t.MemoryMB, "command": "[PRIVATE DATA HIDDEN]"}}
	s.audit(r, a, e)
	if s.tasks != nil {
		if err := s.tasks.CancelTask(context.WithoutCancel(ctx), t.GUID); err != nil {
			if status.Code(errors.Unwrap(err)) != codes.NotFound && status.Code(err) != codes.NotFound {
				return err
			}
			// The BBS no longer has it: no callback will come.
			out = s.finishTask(ctx, t.GUID, taskCallback{Failed: true, FailureReason: taskCancelled})
		}
	}
	return writeJSON(w, http.StatusAccepted, s.taskJSON(out, true))
}

// cancelAppTasks cancels the active tasks of an app being deleted.
func (s *Server) cancelAppTasks(ctx context.Context, app string) {
	if s.tasks == nil {
		return
	}
	f := store.Filter{}
	f.Where("t.app_guid = ?::uuid", app)
	f.In("t.state", []string{store.TaskPending, store.TaskRunning, store.TaskCanceling})
	tasks, _, err := s.store.ListTasks(ctx, f)
	if err != nil {
		s.logger.Warn("list active tasks", "app", app, "err", err)
		return
	}
	for _, t := range tasks {
		if err := s.tasks.CancelTask(ctx, t.GUID); err != nil {
			s.logger.Info("cancel task", "task", t.GUID, "err", err)
		}
		s.finishTask(ctx, t.GUID, taskCallback{Failed: true, FailureReason: taskCancelled})
	}
}

// taskCompleted is the BBS's completion callback of a task, authenticated
// by the HMAC token in its URL. A finished task answers 200 and does not
// change (the BBS may deliver twice).
func (s *Server) taskCompleted(w http.ResponseWriter, r *http.Request, _ *Actor) error {
	guid := r.PathValue("guid")
	secret := s.opts.Staging.CallbackSecret
	tok := r.URL.Query().Get("token")
	if len(secret) == 0 || tok == "" || !hmac.Equal([]byte(tok), []byte(taskCallbackToken(secret, guid))) {
		return apierr.NotAuthenticated()
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return uploadReadError(err)
	}
	var cb taskCallback
	if err := json.Unmarshal(data, &cb); err != nil {
		// CF: a malformed response fails the task.
		cb = taskCallback{Failed: true, FailureReason: "Malformed task response from Diego"}
	}
	if cb.TaskGUID != "" && cb.TaskGUID != guid {
		return apierr.Unprocessable("task_guid does not match the task")
	}
	if _, err := s.store.GetTask(r.Context(), guid); errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("Task")
	} else if err != nil {
		return err
	}
	s.finishTask(r.Context(), guid, cb)
	w.WriteHeader(http.StatusOK)
	return nil
}

// finishTask records a task's end (SUCCEEDED, or FAILED with the reason)
// and TASK_STOPPED if it had started; a finished task is left alone.
func (s *Server) finishTask(ctx context.Context, guid string, cb taskCallback) store.Task {
	ctx = context.WithoutCancel(ctx)
	state, reason := store.TaskSucceeded, ""
	if cb.Failed {
		state, reason = store.TaskFailed, cb.FailureReason
		if reason == "" {
			reason = "task failed"
		}
		if len(reason) > taskMaxReasonLength {
			reason = reason[:taskMaxReasonLength]
		}
	}
	before, after, err := s.store.SetTaskState(ctx, guid, []string{store.TaskPending, store.TaskRunning, store.TaskCanceling}, state, reason)
	if err != nil {
		if !errors.Is(err, store.ErrTaskState) {
			s.logger.Error("complete task", "task", guid, "err", err)
		}
		return after
	}
	s.logger.Info("task completed", "task", guid, "app", after.AppGUID, "state", after.State, "reason", reason)
	if before.State == store.TaskRunning || before.State == store.TaskCanceling {
		s.usageTask(ctx, store.UsageTaskStopped, after, before.State)
	}
	return after
}
