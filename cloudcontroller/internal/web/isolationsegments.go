package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Isolation segments are a placeholder until cells can be segmented: the
// shared segment always exists and is the only one organizations may use
// (it is implicitly entitled to every organization); admins may create and
// delete others, which only global readers see.

type isolationSegmentJSON struct {
	GUID      string          `json:"guid"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
	Name      string          `json:"name"`
	Metadata  Metadata        `json:"metadata"`
	Links     map[string]Link `json:"links"`
}

func (s *Server) isolationSegmentJSON(is store.IsolationSegment) isolationSegmentJSON {
	return isolationSegmentJSON{
		GUID: is.GUID, CreatedAt: timestamp(is.CreatedAt), UpdatedAt: timestamp(is.UpdatedAt), Name: is.Name,
		Metadata: toMetadata(is.Metadata),
		Links:    map[string]Link{"self": {Href: s.url("/v3/isolation_segments/" + is.GUID)}},
	}
}

var isolationSegmentListSpec = query.Spec{
	Filters: []string{"names", "guids", "organization_guids"}, OrderBy: []string{"name"}, LabelSelector: true, Timestamps: true,
}

func (s *Server) registerIsolationSegments() {
	s.authed("GET /v3/isolation_segments", s.listIsolationSegments)
	s.authed("POST /v3/isolation_segments", s.createIsolationSegment)
	s.authed("GET /v3/isolation_segments/{guid}", s.getIsolationSegment)
	s.authed("PATCH /v3/isolation_segments/{guid}", s.updateIsolationSegment)
	s.authed("DELETE /v3/isolation_segments/{guid}", s.deleteIsolationSegment)
	s.authed("GET /v3/organizations/{guid}/relationships/default_isolation_segment", s.getOrgDefaultIsolationSegment)
	s.authed("PATCH /v3/organizations/{guid}/relationships/default_isolation_segment", s.updateOrgDefaultIsolationSegment)
	s.authed("GET /v3/spaces/{guid}/relationships/isolation_segment", s.getSpaceIsolationSegment)
}

func (s *Server) listIsolationSegments(w http.ResponseWriter, r *http.Request, a *Actor) error {
	l, err := query.Parse(r.URL.Query(), isolationSegmentListSpec)
	if err != nil {
		return err
	}
	f := store.Filter{OrderBy: l.OrderBy, Desc: l.Desc, Limit: l.PerPage, Offset: l.Offset()}
	if v, ok := l.Filters["names"]; ok {
		f.In("lower(t.name)", lowerAll(v))
	}
	if v, ok := l.Filters["guids"]; ok {
		f.Where("t.guid = ANY(?::uuid[])", v)
	}
	if _, ok := l.Filters["organization_guids"]; ok {
		// Only the shared segment is entitled to organizations (to all).
		f.Where("t.guid = ?", store.SharedIsolationSegmentGUID)
	}
	if err := applyCommon(&f, l); err != nil {
		return err
	}
	if !a.GlobalReader() {
		f.Where("t.guid = ?", store.SharedIsolationSegmentGUID)
	}
	segs, total, err := s.store.ListIsolationSegments(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]isolationSegmentJSON, 0, len(segs))
	for _, is := range segs {
		out = append(out, s.isolationSegmentJSON(is))
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url("/v3/isolation_segments"), total), Resources: out})
}

func lowerAll(v []string) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = strings.ToLower(s)
	}
	return out
}

// visibleIsolationSegment returns the segment if the caller sees it, else
// 404.
func (s *Server) visibleIsolationSegment(r *http.Request, a *Actor, guid string) (store.IsolationSegment, error) {
	is, err := s.store.GetIsolationSegment(r.Context(), guid)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !a.GlobalReader() && is.GUID != store.SharedIsolationSegmentGUID) {
		return is, apierr.NotFound("Isolation segment")
	}
	return is, err
}

func (s *Server) getIsolationSegment(w http.ResponseWriter, r *http.Request, a *Actor) error {
	is, err := s.visibleIsolationSegment(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.isolationSegmentJSON(is))
}

type isolationSegmentBody struct {
	Name     *string        `json:"name"`
	Metadata *metadataPatch `json:"metadata"`
}

func checkIsolationSegmentName(name string) error {
	if strings.TrimSpace(name) == "" || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return apierr.Unprocessable("Isolation Segment names can only contain non-blank unicode characters")
	}
	if len(name) > 255 {
		return apierr.Unprocessable("Name is too long (maximum is 255 characters)")
	}
	return nil
}

const isolationSegmentNameTaken = "Isolation Segment names are case insensitive and must be unique"

func (s *Server) createIsolationSegment(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := requireAdmin(a); err != nil {
		return err
	}
	var b isolationSegmentBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Name == nil {
		return apierr.Unprocessable("Name can't be blank")
	}
	if err := checkIsolationSegmentName(*b.Name); err != nil {
		return err
	}
	is := store.IsolationSegment{Name: *b.Name}
	if err := b.Metadata.apply(&is.Metadata); err != nil {
		return err
	}
	created, err := s.store.CreateIsolationSegment(r.Context(), is)
	if errors.Is(err, store.ErrConflict) {
		return apierr.AlreadyExists(isolationSegmentNameTaken)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.isolationSegmentJSON(created))
}

func (s *Server) updateIsolationSegment(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := requireAdmin(a); err != nil {
		return err
	}
	is, err := s.visibleIsolationSegment(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	var b isolationSegmentBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if is.GUID == store.SharedIsolationSegmentGUID {
		return apierr.Unprocessable("Cannot update the shared Isolation Segment")
	}
	if b.Name != nil {
		if err := checkIsolationSegmentName(*b.Name); err != nil {
			return err
		}
		is.Name = *b.Name
	}
	if err := b.Metadata.apply(&is.Metadata); err != nil {
		return err
	}
	updated, err := s.store.UpdateIsolationSegment(r.Context(), is)
	if errors.Is(err, store.ErrConflict) {
		return apierr.AlreadyExists(isolationSegmentNameTaken)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.isolationSegmentJSON(updated))
}

func (s *Server) deleteIsolationSegment(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := requireAdmin(a); err != nil {
		return err
	}
	is, err := s.visibleIsolationSegment(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if is.GUID == store.SharedIsolationSegmentGUID {
		return apierr.Unprocessable(fmt.Sprintf("Cannot delete the %s Isolation Segment", is.Name))
	}
	err = s.store.DeleteIsolationSegment(r.Context(), is.GUID)
	switch {
	case errors.Is(err, store.ErrReferenced):
		return apierr.Unprocessable("Revoke the Organization entitlements for your Isolation Segment.")
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// toOneRelationship is a relationship endpoint's body.
type toOneRelationship struct {
	Data  *GUIDRef        `json:"data"`
	Links map[string]Link `json:"links"`
}

func (s *Server) orgDefaultIsolationSegmentJSON(org, segment string) toOneRelationship {
	out := toOneRelationship{Links: map[string]Link{
		"self": {Href: s.url("/v3/organizations/" + org + "/relationships/default_isolation_segment")},
	}}
	if segment != "" {
		out.Data = &GUIDRef{GUID: segment}
		out.Links["related"] = Link{Href: s.url("/v3/isolation_segments/" + segment)}
	}
	return out
}

func (s *Server) getOrgDefaultIsolationSegment(w http.ResponseWriter, r *http.Request, a *Actor) error {
	o, err := s.visibleOrg(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	seg, err := s.store.OrgDefaultIsolationSegment(r.Context(), o.GUID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.orgDefaultIsolationSegmentJSON(o.GUID, seg))
}

func (s *Server) updateOrgDefaultIsolationSegment(w http.ResponseWriter, r *http.Request, a *Actor) error {
	o, err := s.visibleOrg(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if ok, err := canManageOrg(r.Context(), a, o.GUID); err != nil {
		return err
	} else if !ok {
		return apierr.NotAuthorized()
	}
	var b struct {
		Data json.RawMessage `json:"data"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	var seg string
	if len(b.Data) > 0 && string(b.Data) != "null" {
		var ref GUIDRef
		if err := json.Unmarshal(b.Data, &ref); err != nil || ref.GUID == "" {
			return apierr.Unprocessable("Data must be an object with a guid, or null")
		}
		if ref.GUID != store.SharedIsolationSegmentGUID {
			return apierr.Unprocessable(fmt.Sprintf("Unable to assign isolation segment with guid '%s'. Ensure it has been entitled to the organization.", ref.GUID))
		}
		seg = ref.GUID
	} else if len(b.Data) == 0 {
		return apierr.Unprocessable("Data must be an object with a guid, or null")
	}
	if err := s.store.SetOrgDefaultIsolationSegment(r.Context(), o.GUID, seg); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.orgDefaultIsolationSegmentJSON(o.GUID, seg))
}

// getSpaceIsolationSegment is GET /v3/spaces/:guid/relationships/isolation_segment
// (cf space reads it). Spaces run in their organization's default segment;
// assigning a space its own segment is not supported yet, so data is null.
func (s *Server) getSpaceIsolationSegment(w http.ResponseWriter, r *http.Request, a *Actor) error {
	sp, err := s.visibleSpace(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toOneRelationship{Links: map[string]Link{
		"self": {Href: s.url("/v3/spaces/" + sp.GUID + "/relationships/isolation_segment")},
	}})
}
