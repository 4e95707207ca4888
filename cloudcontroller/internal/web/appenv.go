package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/manifest"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// An app's environment: GET/PATCH /v3/apps/:guid/environment_variables
// (cf set-env, unset-env) and GET /v3/apps/:guid/env (cf env).

// maxEnvBytes bounds an app's environment variables as JSON (CF keeps them
// in a text column; a quarter of a mebibyte is far more than apps use).
const maxEnvBytes = 256 << 10

func (s *Server) registerAppEnv() {
	s.authed("GET /v3/apps/{guid}/environment_variables", s.getAppEnvVars)
	s.authed("PATCH /v3/apps/{guid}/environment_variables", s.patchAppEnvVars)
	s.authed("GET /v3/apps/{guid}/env", s.getAppEnv)
}

func (s *Server) envVarsJSON(app string, vars map[string]string) map[string]any {
	self := s.url("/v3/apps/" + app)
	return map[string]any{
		"var":   vars,
		"links": map[string]Link{"self": {Href: self + "/environment_variables"}, "app": {Href: self}},
	}
}

func (s *Server) getAppEnvVars(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, sp, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if err := requireSecrets(r.Context(), a, sp); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.envVarsJSON(app.GUID, app.Env))
}

// patchAppEnvVars merges {"var":{…}}: a string (or number or boolean,
// stored as its JSON text) sets a key, null deletes it.
func (s *Server) patchAppEnvVars(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, sp, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	patch, err := decodeEnvPatch(r)
	if err != nil {
		return err
	}
	if err := requireAppWrite(r.Context(), a, sp); err != nil {
		return err
	}
	merged := maps(app.Env, patch)
	if size, _ := json.Marshal(merged); len(size) > maxEnvBytes {
		return apierr.Unprocessable(fmt.Sprintf("Environment variables exceed the maximum size of %d bytes", maxEnvBytes))
	}
	env, err := s.store.UpdateAppEnv(r.Context(), app.GUID, patch)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("App")
	}
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(patch))
	for k := range patch {
		keys = append(keys, k)
	}
	s.audit(r, a, appEvent(eventAppUpdate, app, sp, map[string]any{"environment_variables": "[PRIVATE DATA HIDDEN]", "keys": keys}))
	return writeJSON(w, http.StatusOK, s.envVarsJSON(app.GUID, env))
}

// maps returns env with patch applied, without changing env.
func maps(env map[string]string, patch map[string]*string) map[string]string {
	out := make(map[string]string, len(env)+len(patch))
	for k, v := range env {
		out[k] = v
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = *v
		}
	}
	return out
}

// vcapApplication is CF's VCAP_APPLICATION as /env shows it (the running
// instance adds instance fields).
type vcapApplication struct {
	CFAPI            string         `json:"cf_api"`
	Limits           map[string]int `json:"limits"`
	ApplicationName  string         `json:"application_name"`
	ApplicationURIs  []string       `json:"application_uris"`
	Name             string         `json:"name"`
	SpaceName        string         `json:"space_name"`
	SpaceID          string         `json:"space_id"`
	OrganizationID   string         `json:"organization_id"`
	OrganizationName string         `json:"organization_name"`
	URIs             []string       `json:"uris"`
	Users            any            `json:"users"`
	ApplicationID    string         `json:"application_id"`
}

// getAppEnv is GET /v3/apps/:guid/env with the running and staging
// environment variable groups (envgroups.go); VCAP_SERVICES is empty until
// service bindings exist.
func (s *Server) getAppEnv(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, sp, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := requireSecrets(ctx, a, sp); err != nil {
		return err
	}
	vcap, err := s.vcapApplication(r, app, sp)
	if err != nil {
		return err
	}
	stagingEnv, err := s.groupEnv(r, store.EnvGroupStaging)
	if err != nil {
		return err
	}
	runningEnv, err := s.groupEnv(r, store.EnvGroupRunning)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"staging_env_json":      stagingEnv,
		"running_env_json":      runningEnv,
		"environment_variables": app.Env,
		"system_env_json":       map[string]any{"VCAP_SERVICES": map[string]any{}},
		"application_env_json":  map[string]any{"VCAP_APPLICATION": vcap},
	})
}

func (s *Server) vcapApplication(r *http.Request, app store.App, sp store.Space) (vcapApplication, error) {
	ctx := r.Context()
	org, err := s.store.GetOrg(ctx, sp.OrgGUID)
	if err != nil {
		return vcapApplication{}, err
	}
	uris, err := s.appURIs(r, app.GUID)
	if err != nil {
		return vcapApplication{}, err
	}
	limits := map[string]int{"fds": 16384}
	if web, err := s.store.GetAppProcess(ctx, app.GUID, store.ProcessWeb); err == nil {
		limits["mem"], limits["disk"] = web.MemoryMB, web.DiskMB
	} else if !errors.Is(err, store.ErrNotFound) {
		return vcapApplication{}, err
	}
	return vcapApplication{
		CFAPI: s.opts.ExternalURL, Limits: limits,
		ApplicationName: app.Name, ApplicationURIs: uris, Name: app.Name,
		SpaceName: sp.Name, SpaceID: sp.GUID, OrganizationID: org.GUID, OrganizationName: org.Name,
		URIs: uris, ApplicationID: app.GUID,
	}, nil
}

// appURIs returns the urls of the routes mapped to the app.
func (s *Server) appURIs(r *http.Request, app string) ([]string, error) {
	guids, err := s.store.AppRouteGUIDs(r.Context(), app)
	if err != nil {
		return nil, err
	}
	uris := []string{}
	if len(guids) == 0 {
		return uris, nil
	}
	f := store.Filter{}
	f.Where("t.guid = ANY(?::uuid[])", guids)
	routes, _, err := s.store.ListRoutes(r.Context(), f)
	if err != nil {
		return nil, err
	}
	for _, rt := range routes {
		uris = append(uris, routeURL(rt))
	}
	return uris, nil
}

// decodeEnvPatch reads {"var":{…}} for an environment variable PATCH: a
// string (or a number or boolean, kept as its JSON text) sets a key, null
// deletes it; objects and arrays are refused with CF's text.
func decodeEnvPatch(r *http.Request) (map[string]*string, error) {
	var b struct {
		Var map[string]json.RawMessage `json:"var"`
	}
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	if b.Var == nil {
		return nil, apierr.Unprocessable("Var must be an object")
	}
	patch := make(map[string]*string, len(b.Var))
	var p problems
	for k, raw := range b.Var {
		if msg := manifest.EnvKeyProblem(k); msg != "" {
			p.add("Var %s", msg)
			continue
		}
		raw = bytes.TrimSpace(raw)
		switch {
		case string(raw) == "null":
			patch[k] = nil
		case len(raw) > 0 && raw[0] == '"':
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, apierr.MessageParseError(err.Error())
			}
			patch[k] = &v
		case len(raw) > 0 && (raw[0] == '{' || raw[0] == '['):
			p.add("Var Non-string value in environment variable for key '%s', value '%s'", k, raw)
		default:
			v := string(raw)
			patch[k] = &v
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return patch, nil
}
