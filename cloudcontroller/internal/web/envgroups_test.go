package web

import (
	"net/http"
	"testing"
)

func TestEnvGroups(t *testing.T) {
	t.Parallel()
	e := newStagingEnv(t)

	for _, name := range []string{"running", "staging"} {
		m := e.want(e.do(e.dev, "GET", "/v3/environment_variable_groups/"+name, nil), http.StatusOK)
		if m["name"] != name || len(m["var"].(map[string]any)) != 0 || str(m, "links", "self", "href") != e.url+"/v3/environment_variable_groups/"+name {
			t.Fatalf("%s group %v", name, m)
		}
	}
	e.wantErr(e.do(e.dev, "GET", "/v3/environment_variable_groups/other", nil), http.StatusNotFound, "")
	e.wantErr(e.do(e.dev, "PATCH", "/v3/environment_variable_groups/running", map[string]any{"var": map[string]any{"A": "1"}}), http.StatusForbidden, "")
	e.wantErr(e.do(e.admin, "PATCH", "/v3/environment_variable_groups/running", map[string]any{"var": map[string]any{"A": map[string]any{}}}),
		http.StatusUnprocessableEntity, "Non-string value")

	m := e.want(e.do(e.admin, "PATCH", "/v3/environment_variable_groups/running", map[string]any{"var": map[string]any{"A": "1", "B": true, "SHARED": "group"}}), http.StatusOK)
	if v := m["var"].(map[string]any); v["A"] != "1" || v["B"] != "true" || v["SHARED"] != "group" {
		t.Fatalf("patched %v", m)
	}
	m = e.want(e.do(e.admin, "PATCH", "/v3/environment_variable_groups/running", map[string]any{"var": map[string]any{"A": nil}}), http.StatusOK)
	if v := m["var"].(map[string]any); len(v) != 2 || v["A"] != nil {
		t.Fatalf("null deletes: %v", m)
	}
	e.want(e.do(e.admin, "PATCH", "/v3/environment_variable_groups/staging", map[string]any{"var": map[string]any{"STG": "yes", "SHARED": "group"}}), http.StatusOK)

	// /v3/apps/:guid/env shows both groups.
	app := e.createApp(e.dev, "app")["guid"].(string)
	e.want(e.do(e.dev, "PATCH", "/v3/apps/"+app+"/environment_variables", map[string]any{"var": map[string]any{"SHARED": "app"}}), http.StatusOK)
	env := e.want(e.do(e.dev, "GET", "/v3/apps/"+app+"/env", nil), http.StatusOK)
	if str(env, "staging_env_json", "STG") != "yes" || str(env, "running_env_json", "B") != "true" {
		t.Fatalf("app env %v", env)
	}

	// The staging task gets the staging group, the app's variables winning.
	pkg := e.readyPackage(app, map[string]string{"Staticfile": ""})
	_, def := e.stage(pkg, nil)
	got := map[string][]string{}
	for _, v := range def.GetEnv() {
		got[v.GetName()] = append(got[v.GetName()], v.GetValue())
	}
	if len(got["STG"]) != 1 || got["STG"][0] != "yes" || len(got["SHARED"]) != 1 || got["SHARED"][0] != "app" || got["A"] != nil {
		t.Fatalf("staging env %v", got)
	}
}
