package web

import (
	"net/http"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
)

// registerEmptyLists serves collections whose resources do not exist on
// this platform yet with CF's empty list, never a 404: the cf CLI reads
// them during `cf routes`, `cf space`, `cf app` and push.
func (s *Server) registerEmptyLists() {
	for _, path := range []string{"/v3/service_route_bindings", "/v3/service_instances", "/v3/service_credential_bindings", "/v3/security_groups"} {
		s.authed("GET "+path, s.emptyList(path))
	}
	// No security groups exist, so no space has any bound.
	for _, kind := range []string{"running_security_groups", "staging_security_groups"} {
		s.authed("GET /v3/spaces/{guid}/"+kind, func(w http.ResponseWriter, r *http.Request, a *Actor) error {
			sp, err := s.visibleSpace(r, a, r.PathValue("guid"))
			if err != nil {
				return err
			}
			return s.emptyList("/v3/spaces/"+sp.GUID+"/"+kind)(w, r, a)
		})
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
