package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Environment variable groups: GET/PATCH
// /v3/environment_variable_groups/{running,staging} (cf running-env,
// staging-env, set-running-environment-variable-group, …). Every user
// reads them; admins change them. The staging group is in every staging
// task's environment (staging.go), the running group in every instance's
// (the Diego sync) and both in /v3/apps/:guid/env; an app's own variables
// win over the groups'.

func (s *Server) registerEnvGroups() {
	s.authed("GET /v3/environment_variable_groups/{name}", s.getEnvGroup)
	s.authed("PATCH /v3/environment_variable_groups/{name}", s.patchEnvGroup)
}

func (s *Server) envGroupJSON(g store.EnvGroup) map[string]any {
	return map[string]any{
		"name":       g.Name,
		"var":        g.Variables,
		"updated_at": timestamp(g.UpdatedAt),
		"links":      map[string]Link{"self": {Href: s.url("/v3/environment_variable_groups/" + g.Name)}},
	}
}

func envGroupName(r *http.Request) (string, error) {
	switch n := r.PathValue("name"); n {
	case store.EnvGroupRunning, store.EnvGroupStaging:
		return n, nil
	}
	return "", apierr.NotFound("Environment variable group")
}

func (s *Server) getEnvGroup(w http.ResponseWriter, r *http.Request, a *Actor) error {
	name, err := envGroupName(r)
	if err != nil {
		return err
	}
	g, err := s.store.GetEnvGroup(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.envGroupJSON(g))
}

// patchEnvGroup merges {"var":{…}}: a string (a number or boolean is
// stored as its JSON text) sets a key, null deletes it.
func (s *Server) patchEnvGroup(w http.ResponseWriter, r *http.Request, a *Actor) error {
	name, err := envGroupName(r)
	if err != nil {
		return err
	}
	if err := requireAdmin(a); err != nil {
		return err
	}
	patch, err := decodeEnvPatch(r)
	if err != nil {
		return err
	}
	cur, err := s.store.GetEnvGroup(r.Context(), name)
	if err != nil {
		return err
	}
	if size, _ := json.Marshal(maps(cur.Variables, patch)); len(size) > maxEnvBytes {
		return apierr.Unprocessable(fmt.Sprintf("Environment variables exceed the maximum size of %d bytes", maxEnvBytes))
	}
	g, err := s.store.UpdateEnvGroup(r.Context(), name, patch)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("Environment variable group")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.envGroupJSON(g))
}

// groupEnv returns a group's variables as /v3/apps/:guid/env shows them.
func (s *Server) groupEnv(r *http.Request, name string) (map[string]any, error) {
	g, err := s.store.GetEnvGroup(r.Context(), name)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(g.Variables))
	for k, v := range g.Variables {
		out[k] = v
	}
	return out, nil
}
