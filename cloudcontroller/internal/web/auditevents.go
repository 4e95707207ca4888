package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Audit event types recorded by the handlers (CF's names).
const (
	eventOrgCreate          = "audit.organization.create"
	eventOrgUpdate          = "audit.organization.update"
	eventOrgDeleteRequest   = "audit.organization.delete-request"
	eventSpaceCreate        = "audit.space.create"
	eventSpaceUpdate        = "audit.space.update"
	eventSpaceDeleteRequest = "audit.space.delete-request"
	// Role events are "audit.user.<role type>_add" and "…_remove", e.g.
	// audit.user.space_developer_add (see auditRole).
)

// eventSpaceRoles may read the events of their space; org auditors read
// their organization's (CF's readable_event_dataset).
var eventSpaceRoles = []string{store.SpaceAuditor, store.SpaceDeveloper, store.SpaceSupporter}

// audit records an event with the caller as actor. It never fails the
// request: an error is logged and the request goes on. The write outlives a
// client that hangs up, because the change it records has happened.
func (s *Server) audit(r *http.Request, a *Actor, e store.Event) {
	e.Actor = store.EventRef{GUID: a.GUID, Type: "user", Name: a.Username}
	if a.Client {
		e.Actor.Type, e.Actor.Name = "client", a.GUID
	}
	if _, err := s.store.RecordEvent(context.WithoutCancel(r.Context()), e); err != nil {
		s.logger.Error("record audit event", "method", r.Method, "path", r.URL.Path,
			"type", e.Type, "target", e.Target.GUID, "err", err)
	}
}

// orgEvent is an organization event; request is the request body (or the
// request's parameters), recorded as data.request.
func orgEvent(typ string, o store.Org, request any) store.Event {
	return store.Event{
		Type: typ, Target: store.EventRef{GUID: o.GUID, Type: "organization", Name: o.Name},
		OrgGUID: o.GUID, Data: map[string]any{"request": requestData(request)},
	}
}

// spaceEvent is a space event.
func spaceEvent(typ string, sp store.Space, request any) store.Event {
	return store.Event{
		Type: typ, Target: store.EventRef{GUID: sp.GUID, Type: "space", Name: sp.Name},
		SpaceGUID: sp.GUID, OrgGUID: sp.OrgGUID, Data: map[string]any{"request": requestData(request)},
	}
}

// auditRole records audit.user.<type>_add or _remove (action "add" or
// "remove") for a role; orgGUID is the role's organization (a space role's
// space's organization). The target is the user who got or lost the role.
func (s *Server) auditRole(r *http.Request, a *Actor, ro store.Role, orgGUID, action string) {
	name := ""
	if u, err := s.store.GetUser(context.WithoutCancel(r.Context()), ro.UserGUID); err == nil {
		name = u.Username
	}
	request := map[string]any{}
	if action == "add" {
		rel := map[string]any{"user": map[string]any{"data": map[string]any{"guid": ro.UserGUID}}}
		if ro.SpaceGUID != "" {
			rel["space"] = map[string]any{"data": map[string]any{"guid": ro.SpaceGUID}}
		} else {
			rel["organization"] = map[string]any{"data": map[string]any{"guid": ro.OrgGUID}}
		}
		request = map[string]any{"type": ro.Type, "relationships": rel}
	}
	s.audit(r, a, store.Event{
		Type:      "audit.user." + ro.Type + "_" + action,
		Target:    store.EventRef{GUID: ro.UserGUID, Type: "user", Name: name},
		SpaceGUID: ro.SpaceGUID, OrgGUID: orgGUID,
		Data: map[string]any{"request": request},
	})
}

// requestData turns a decoded request body into the map CF records: the
// fields the request gave (top-level nulls dropped).
func requestData(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	out := map[string]any{}
	b, err := json.Marshal(v)
	if err != nil || json.Unmarshal(b, &out) != nil {
		return map[string]any{}
	}
	for k, val := range out {
		if val == nil {
			delete(out, k)
		}
	}
	return out
}

type eventRefJSON struct {
	GUID string `json:"guid"`
	Type string `json:"type"`
	Name string `json:"name"`
}

type auditEventJSON struct {
	GUID         string          `json:"guid"`
	CreatedAt    string          `json:"created_at"`
	UpdatedAt    string          `json:"updated_at"`
	Type         string          `json:"type"`
	Actor        eventRefJSON    `json:"actor"`
	Target       eventRefJSON    `json:"target"`
	Data         map[string]any  `json:"data"`
	Space        *GUIDRef        `json:"space"`
	Organization *GUIDRef        `json:"organization"`
	Links        map[string]Link `json:"links"`
}

func guidRefOrNil(guid string) *GUIDRef {
	if guid == "" {
		return nil
	}
	return &GUIDRef{GUID: guid}
}

func (s *Server) auditEventJSON(e store.Event) auditEventJSON {
	return auditEventJSON{
		GUID: e.GUID, CreatedAt: timestamp(e.CreatedAt), UpdatedAt: timestamp(e.CreatedAt), Type: e.Type,
		Actor:  eventRefJSON{GUID: e.Actor.GUID, Type: e.Actor.Type, Name: e.Actor.Name},
		Target: eventRefJSON{GUID: e.Target.GUID, Type: e.Target.Type, Name: e.Target.Name},
		Data:   e.Data, Space: guidRefOrNil(e.SpaceGUID), Organization: guidRefOrNil(e.OrgGUID),
		Links: map[string]Link{"self": {Href: s.url("/v3/audit_events/" + e.GUID)}},
	}
}

// target_guids is an Extra parameter: it also comes as target_guids[not].
var auditEventListSpec = query.Spec{
	Filters: []string{"types", "space_guids", "organization_guids"}, Extra: []string{"target_guids"}, Timestamps: true,
}

func (s *Server) registerAuditEvents() {
	s.authed("GET /v3/audit_events", s.listAuditEvents)
	s.authed("GET /v3/audit_events/{guid}", s.getAuditEvent)
}

// targetFilter is target_guids (in) and target_guids[not] (not in).
type targetFilter struct {
	In, NotIn       []string
	HasIn, HasNotIn bool
}

// parseTargetFilter reads target_guids and target_guids[not] from q; any
// other operator is a 400.
func parseTargetFilter(q url.Values) (targetFilter, error) {
	var tf targetFilter
	for key, vs := range q {
		op, isTarget := strings.CutPrefix(key, "target_guids")
		if !isTarget {
			continue
		}
		v := ""
		if len(vs) > 0 {
			v = vs[len(vs)-1]
		}
		vals := query.SplitValues(v)
		if len(vals) > query.MaxValues {
			return tf, apierr.BadQueryParameter(fmt.Sprintf("target_guids has more than %d values", query.MaxValues))
		}
		switch op {
		case "":
			tf.In, tf.HasIn = vals, true
		case "[not]":
			tf.NotIn, tf.HasNotIn = vals, true
		default:
			return tf, apierr.BadQueryParameter("Invalid target_guids operator: '" + op + "'. Valid operators are: 'not'")
		}
	}
	return tf, nil
}

// eventVisibility restricts f to the events the caller may read: all for
// global readers; otherwise those of spaces where it is a space auditor,
// developer or supporter, and of organizations where it is an
// organization auditor (CF's rule: managers do not read events).
func eventVisibility(r *http.Request, a *Actor, f *store.Filter) error {
	if a.GlobalReader() {
		return nil
	}
	acc, err := a.Access(r.Context())
	if err != nil {
		return err
	}
	spaces, orgs := []string{}, []string{}
	for sp, types := range acc.SpaceRoles {
		if slices.ContainsFunc(types, func(t string) bool { return slices.Contains(eventSpaceRoles, t) }) {
			spaces = append(spaces, sp)
		}
	}
	for org, types := range acc.OrgRoles {
		if slices.Contains(types, store.OrgAuditor) {
			orgs = append(orgs, org)
		}
	}
	f.Where("(t.space_guid = ANY(?) OR t.organization_guid = ANY(?))", spaces, orgs)
	return nil
}

func (s *Server) listAuditEvents(w http.ResponseWriter, r *http.Request, a *Actor) error {
	l, err := query.Parse(r.URL.Query(), auditEventListSpec)
	if err != nil {
		return err
	}
	tf, err := parseTargetFilter(l.Values())
	if err != nil {
		return err
	}
	f := store.Filter{OrderBy: l.OrderBy, Desc: l.Desc, Limit: l.PerPage, Offset: l.Offset()}
	if v, ok := l.Filters["types"]; ok {
		f.In("t.type", v)
	}
	if tf.HasIn {
		f.In("t.target_guid", tf.In)
	}
	if tf.HasNotIn {
		f.Where("NOT (t.target_guid = ANY(?))", tf.NotIn)
	}
	if v, ok := l.Filters["space_guids"]; ok {
		f.In("t.space_guid", v)
	}
	if v, ok := l.Filters["organization_guids"]; ok {
		f.In("t.organization_guid", v)
	}
	// Events have one timestamp: updated_ats filters created_at too.
	for _, t := range l.Times {
		f.Time("t.created_at", t.Op, t.Times)
	}
	if err := eventVisibility(r, a, &f); err != nil {
		return err
	}
	events, total, err := s.store.ListEvents(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]auditEventJSON, 0, len(events))
	for _, e := range events {
		out = append(out, s.auditEventJSON(e))
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url("/v3/audit_events"), total), Resources: out})
}

func (s *Server) getAuditEvent(w http.ResponseWriter, r *http.Request, a *Actor) error {
	f := store.Filter{Limit: 1}
	f.Where("t.guid::text = ?", r.PathValue("guid"))
	if err := eventVisibility(r, a, &f); err != nil {
		return err
	}
	events, _, err := s.store.ListEvents(r.Context(), f)
	if err != nil {
		return err
	}
	if len(events) == 0 {
		return apierr.NotFound("Event")
	}
	return writeJSON(w, http.StatusOK, s.auditEventJSON(events[0]))
}
