package web

import (
	"net/http"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
)

// registerEmptyLists serves collections whose resources do not exist on
// this platform yet with CF's empty list, never a 404: the cf CLI reads
// them during `cf routes`, `cf app` and push.
func (s *Server) registerEmptyLists() {
	for _, path := range []string{"/v3/service_route_bindings", "/v3/deployments", "/v3/service_instances", "/v3/service_credential_bindings"} {
		s.authed("GET "+path, s.emptyList(path))
	}
}

func (s *Server) emptyList(path string) handlerFunc {
	spec := query.Spec{
		Filters:       []string{"guids", "names", "app_guids", "route_guids", "service_instance_guids", "space_guids", "organization_guids", "states", "status_values", "status_reasons", "type", "types"},
		OrderBy:       []string{"name"},
		Includes:      []string{"service_instance", "route", "app", "space", "space.organization", "service_plan"},
		Extra:         []string{"fields"},
		LabelSelector: true,
		Timestamps:    true,
	}
	return func(w http.ResponseWriter, r *http.Request, _ *Actor) error {
		l, err := query.Parse(r.URL.Query(), spec)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url(path), 0), Resources: []any{}})
	}
}
