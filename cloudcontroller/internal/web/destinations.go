package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// CF's destination defaults and limits.
const (
	defaultDestinationPort     = 8080 // a buildpack app's port
	defaultDestinationProcess  = "web"
	defaultDestinationProtocol = "http1" // for HTTP routes
	maxRouteDestinations       = 100
	maxPortsPerProcess         = 10
)

var destinationProtocols = []string{"http1", "http2", "tcp"}

type processRef struct {
	Type string `json:"type"`
}

type destinationApp struct {
	GUID    string     `json:"guid"`
	Process processRef `json:"process"`
}

type destinationJSON struct {
	GUID      string          `json:"guid"`
	App       destinationApp  `json:"app"`
	Weight    *int            `json:"weight"`
	Port      int             `json:"port"`
	Protocol  string          `json:"protocol"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
	Links     map[string]Link `json:"links,omitempty"`
}

func destinationOf(d store.Destination) destinationJSON {
	return destinationJSON{
		GUID: d.GUID, App: destinationApp{GUID: d.AppGUID, Process: processRef{Type: d.ProcessType}},
		Weight: d.Weight, Port: d.Port, Protocol: d.Protocol,
		CreatedAt: timestamp(d.CreatedAt), UpdatedAt: timestamp(d.UpdatedAt),
	}
}

func (s *Server) destinationsJSON(dests []store.Destination) []destinationJSON {
	out := make([]destinationJSON, 0, len(dests))
	for _, d := range dests {
		out = append(out, destinationOf(d))
	}
	return out
}

type destinationsJSON struct {
	Destinations []destinationJSON `json:"destinations"`
	Links        map[string]Link   `json:"links"`
}

func (s *Server) routeDestinationsJSON(route string, dests []store.Destination) destinationsJSON {
	self := s.url("/v3/routes/" + route)
	return destinationsJSON{
		Destinations: s.destinationsJSON(dests),
		Links:        map[string]Link{"self": {Href: self + "/destinations"}, "route": {Href: self}},
	}
}

func (s *Server) registerDestinations() {
	s.authed("GET /v3/routes/{guid}/destinations", s.listDestinations)
	s.authed("POST /v3/routes/{guid}/destinations", s.addDestinations)
	s.authed("PATCH /v3/routes/{guid}/destinations", s.replaceDestinations)
	s.authed("PATCH /v3/routes/{guid}/destinations/{dguid}", s.updateDestination)
	s.authed("DELETE /v3/routes/{guid}/destinations/{dguid}", s.deleteDestination)
}

var destinationListSpec = query.Spec{Filters: []string{"guids", "app_guids"}}

func (s *Server) listDestinations(w http.ResponseWriter, r *http.Request, a *Actor) error {
	rt, _, err := s.visibleRoute(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	l, err := query.Parse(r.URL.Query(), destinationListSpec)
	if err != nil {
		return err
	}
	all, err := s.store.RouteDestinations(r.Context(), []string{rt.GUID})
	if err != nil {
		return err
	}
	dests := slices.DeleteFunc(all[rt.GUID], func(d store.Destination) bool {
		if v, ok := l.Filters["guids"]; ok && !slices.Contains(v, d.GUID) {
			return true
		}
		v, ok := l.Filters["app_guids"]
		return ok && !slices.Contains(v, d.AppGUID)
	})
	return writeJSON(w, http.StatusOK, s.routeDestinationsJSON(rt.GUID, dests))
}

// validateDestinationApp checks that the apps a route is to be mapped to
// exist, are visible to the caller and live in the route's space, with
// CF's texts (422): `App(s) with guid(s) "…" do not exist.`, `… you do
// not have access.` and "Routes destinations must be in either the route's
// space or the route's shared spaces".
func (s *Server) validateDestinationApp(ctx context.Context, a *Actor, rt store.Route, guids []string) error {
	var missing, hidden []string
	var elsewhere bool
	for _, g := range guids {
		app, err := s.store.GetApp(ctx, g)
		if errors.Is(err, store.ErrNotFound) {
			missing = append(missing, g)
			continue
		}
		if err != nil {
			return err
		}
		if !a.GlobalReader() {
			acc, err := a.Access(ctx)
			if err != nil {
				return err
			}
			ok := len(acc.SpaceRoles[app.SpaceGUID]) > 0
			if !ok {
				sp, err := s.store.GetSpace(ctx, app.SpaceGUID)
				if err != nil {
					return err
				}
				if ok, err = a.HasOrgRole(ctx, sp.OrgGUID, store.OrgManager); err != nil {
					return err
				}
			}
			if !ok {
				hidden = append(hidden, g)
				continue
			}
		}
		if app.SpaceGUID != rt.SpaceGUID {
			elsewhere = true
		}
	}
	switch {
	case len(missing) > 0:
		return apierr.Unprocessable(fmt.Sprintf(`App(s) with guid(s) "%s" do not exist.`, strings.Join(missing, `", "`)))
	case len(hidden) > 0:
		return apierr.Unprocessable(fmt.Sprintf(`App(s) with guid(s) "%s" you do not have access.`, strings.Join(hidden, `", "`)))
	case elsewhere:
		return apierr.Unprocessable("Routes destinations must be in either the route's space or the route's shared spaces")
	}
	return nil
}

// destinationInput is one parsed entry of a destinations body, with CF's
// defaults applied.
type destinationInput struct {
	AppGUID     string
	ProcessType string
	Port        int
	Protocol    string
	Weight      *int
}

// key identifies a destination for "already mapped" (CF compares app,
// process and port).
func (d destinationInput) key() [3]string {
	return [3]string{d.AppGUID, d.ProcessType, strconv.Itoa(d.Port)}
}

func (d destinationInput) equal(e store.Destination) bool {
	return d.AppGUID == e.AppGUID && d.ProcessType == e.ProcessType && d.Port == e.Port && d.Protocol == e.Protocol &&
		weightEqual(d.Weight, e.Weight)
}

// jsonInt decodes a JSON integer (not a float or a string).
func jsonInt(raw json.RawMessage) (int, bool) {
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return 0, false
	}
	v, err := strconv.Atoi(n.String())
	return v, err == nil
}

// parseDestinations validates a destinations body as CF's
// RouteUpdateDestinationsMessage does (replace: a PATCH, which may be empty
// and may carry weights).
func parseDestinations(r *http.Request, replace bool) ([]destinationInput, error) {
	var b struct {
		Destinations json.RawMessage `json:"destinations"`
	}
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	minimum := 1
	if replace {
		minimum = 0
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b.Destinations, &raw); err != nil || raw == nil || len(raw) < minimum || len(raw) > maxRouteDestinations {
		return nil, apierr.Unprocessable(fmt.Sprintf("Destinations must be an array containing between %d and %d destination objects.", minimum, maxRouteDestinations))
	}
	var p problems
	out := make([]destinationInput, 0, len(raw))
	ports := map[string]int{}
	for i, item := range raw {
		bad := func(msg string) { p.add("Destinations[%d]: %s", i, msg) }
		var obj map[string]json.RawMessage
		if json.Unmarshal(item, &obj) != nil || obj == nil {
			bad("must be an object.")
			continue
		}
		if _, ok := obj["app"]; !ok {
			bad(`must have an "app".`)
			continue
		}
		extra := false
		for k := range obj {
			extra = extra || (k != "app" && k != "weight" && k != "port" && k != "protocol")
		}
		if extra {
			bad(`must have only "app" and optionally "weight", "port" or "protocol".`)
			continue
		}
		d := destinationInput{ProcessType: defaultDestinationProcess, Port: defaultDestinationPort, Protocol: defaultDestinationProtocol}
		var app struct {
			GUID    *string         `json:"guid"`
			Process json.RawMessage `json:"process"`
		}
		if json.Unmarshal(obj["app"], &app) != nil || app.GUID == nil || len(*app.GUID) < 1 || len(*app.GUID) >= 200 {
			bad(`app must have the structure {"guid": "app_guid"}`)
		} else {
			d.AppGUID = *app.GUID
			if len(app.Process) > 0 && string(app.Process) != "null" {
				var proc map[string]json.RawMessage
				var typ string
				if json.Unmarshal(app.Process, &proc) != nil || len(proc) != 1 || json.Unmarshal(proc["type"], &typ) != nil || typ == "" {
					bad(`process must have the structure {"type": "process_type"}`)
				} else {
					d.ProcessType = typ
				}
			}
		}
		if w, ok := obj["weight"]; ok && string(w) != "null" {
			if !replace {
				bad("weighted destinations can only be used when replacing all destinations.")
			} else if n, ok := jsonInt(w); !ok || n < 1 || n > 100 {
				bad("weight must be a positive integer between 1 and 100.")
			} else {
				d.Weight = &n
			}
		}
		if v, ok := obj["port"]; ok && string(v) != "null" {
			if n, ok := jsonInt(v); !ok || n < 1024 || n > 65535 {
				bad("port must be a positive integer between 1024 and 65535 inclusive.")
			} else {
				d.Port = n
			}
		}
		if v, ok := obj["protocol"]; ok && string(v) != "null" {
			var proto string
			if json.Unmarshal(v, &proto) != nil || !slices.Contains(destinationProtocols, proto) {
				bad("protocol must be 'http1', 'http2' or 'tcp'.")
			} else {
				d.Protocol = proto
			}
		}
		ports[d.AppGUID+"\x00"+d.ProcessType]++
		out = append(out, d)
	}
	for _, n := range ports {
		if n > maxPortsPerProcess {
			p.add("Process must have at most %d exposed ports.", maxPortsPerProcess)
			break
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	weighted := 0
	sum := 0
	for _, d := range out {
		if d.Weight != nil {
			weighted++
			sum += *d.Weight
		}
	}
	if weighted > 0 && weighted < len(out) {
		return nil, apierr.Unprocessable("Destinations cannot contain both weighted and unweighted destinations.")
	}
	if weighted > 0 && sum != 100 {
		return nil, apierr.Unprocessable("Destinations must have weights that sum to 100.")
	}
	return out, nil
}

// checkDestinations applies the checks CF makes to new destinations of an
// HTTP route: their number, duplicates and protocol.
func checkDestinations(existing int, dests []destinationInput) error {
	if existing+len(dests) > maxRouteDestinations {
		return apierr.Unprocessable(fmt.Sprintf("Routes can be mapped to at most %d destinations.", maxRouteDestinations))
	}
	for i, d := range dests {
		for _, e := range dests[:i] {
			if d.key() == e.key() && d.Protocol == e.Protocol && weightEqual(d.Weight, e.Weight) {
				return apierr.Unprocessable("Destinations cannot contain duplicate entries")
			}
		}
		if d.Protocol == "tcp" {
			return apierr.Unprocessable("Cannot use 'tcp' protocol for http routes; valid options are: [http1, http2].")
		}
	}
	return nil
}

func weightEqual(a, b *int) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func toStoreDestination(d destinationInput) store.Destination {
	return store.Destination{AppGUID: d.AppGUID, ProcessType: d.ProcessType, Port: d.Port, Protocol: d.Protocol, Weight: d.Weight}
}

// routeForDestinations loads a route the caller may map apps to.
func (s *Server) routeForDestinations(r *http.Request, a *Actor) (store.Route, error) {
	rt, sp, err := s.visibleRoute(r, a, r.PathValue("guid"))
	if err != nil {
		return rt, err
	}
	return rt, requireRouteWrite(r.Context(), a, sp.GUID)
}

func appGUIDs(dests []destinationInput) []string {
	var out []string
	for _, d := range dests {
		if !slices.Contains(out, d.AppGUID) {
			out = append(out, d.AppGUID)
		}
	}
	return out
}

// addDestinations is POST /v3/routes/:guid/destinations (cf map-route):
// destinations already present are kept as they are.
func (s *Server) addDestinations(w http.ResponseWriter, r *http.Request, a *Actor) error {
	dests, err := parseDestinations(r, false)
	if err != nil {
		return err
	}
	rt, err := s.routeForDestinations(r, a)
	if err != nil {
		return err
	}
	if err := s.validateDestinationApp(r.Context(), a, rt, appGUIDs(dests)); err != nil {
		return err
	}
	after, err := s.store.UpdateDestinations(r.Context(), rt.GUID, func(current []store.Destination) (store.DestinationChange, error) {
		var change store.DestinationChange
		if err := checkDestinations(len(current), dests); err != nil {
			return change, err
		}
		for _, e := range current {
			if e.Weight != nil {
				return change, apierr.Unprocessable("Destinations cannot be inserted when there are weighted destinations already configured.")
			}
		}
	next:
		for _, d := range dests {
			for _, e := range current {
				if d.AppGUID == e.AppGUID && d.ProcessType == e.ProcessType && d.Port == e.Port {
					if d.Protocol != e.Protocol {
						return change, apierr.Unprocessable(fmt.Sprintf("Cannot add destination with protocol: %s. Destination already exists for route: %s, app: %s, process: %s, and protocol: %s.",
							d.Protocol, routeURL(rt), d.AppGUID, d.ProcessType, e.Protocol))
					}
					continue next
				}
			}
			change.Add = append(change.Add, toStoreDestination(d))
		}
		return change, nil
	})
	return s.writeDestinationChange(w, rt, after, err)
}

// replaceDestinations is PATCH /v3/routes/:guid/destinations: the route
// ends up with exactly the given destinations; unchanged ones keep their
// guids.
func (s *Server) replaceDestinations(w http.ResponseWriter, r *http.Request, a *Actor) error {
	dests, err := parseDestinations(r, true)
	if err != nil {
		return err
	}
	rt, err := s.routeForDestinations(r, a)
	if err != nil {
		return err
	}
	if err := s.validateDestinationApp(r.Context(), a, rt, appGUIDs(dests)); err != nil {
		return err
	}
	after, err := s.store.UpdateDestinations(r.Context(), rt.GUID, func(current []store.Destination) (store.DestinationChange, error) {
		var change store.DestinationChange
		if err := checkDestinations(0, dests); err != nil {
			return change, err
		}
		for _, e := range current {
			if !slices.ContainsFunc(dests, func(d destinationInput) bool { return d.equal(e) }) {
				change.Delete = append(change.Delete, e.GUID)
			}
		}
		for _, d := range dests {
			if !slices.ContainsFunc(current, d.equal) {
				change.Add = append(change.Add, toStoreDestination(d))
			}
		}
		return change, nil
	})
	return s.writeDestinationChange(w, rt, after, err)
}

func (s *Server) writeDestinationChange(w http.ResponseWriter, rt store.Route, after []store.Destination, err error) error {
	switch {
	case errors.Is(err, store.ErrConflict):
		return apierr.Unprocessable("Destinations cannot contain duplicate entries")
	case errors.Is(err, store.ErrNotFound):
		return apierr.NotFound("Route")
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusOK, s.routeDestinationsJSON(rt.GUID, after))
}

const noSuchDestination = "Unable to unmap route from destination. Ensure the route has a destination with this guid."

// deleteDestination is DELETE /v3/routes/:guid/destinations/:dguid (cf
// unmap-route).
func (s *Server) deleteDestination(w http.ResponseWriter, r *http.Request, a *Actor) error {
	rt, err := s.routeForDestinations(r, a)
	if err != nil {
		return err
	}
	guid := r.PathValue("dguid")
	_, err = s.store.UpdateDestinations(r.Context(), rt.GUID, func(current []store.Destination) (store.DestinationChange, error) {
		for _, e := range current {
			if e.GUID != guid {
				continue
			}
			if e.Weight != nil {
				return store.DestinationChange{}, apierr.Unprocessable("Weighted destinations cannot be deleted individually.")
			}
			return store.DestinationChange{Delete: []string{guid}}, nil
		}
		return store.DestinationChange{}, apierr.Unprocessable(noSuchDestination)
	})
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("Route")
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// updateDestination is PATCH /v3/routes/:guid/destinations/:dguid, which
// changes a destination's protocol.
func (s *Server) updateDestination(w http.ResponseWriter, r *http.Request, a *Actor) error {
	var b struct {
		Protocol json.RawMessage `json:"protocol"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	var proto string
	if len(b.Protocol) > 0 && (json.Unmarshal(b.Protocol, &proto) != nil || !slices.Contains(destinationProtocols, proto)) {
		return apierr.Unprocessable("Destination protocol must be 'http1', 'http2' or 'tcp'.")
	}
	rt, err := s.routeForDestinations(r, a)
	if err != nil {
		return err
	}
	d, err := s.store.GetDestination(r.Context(), rt.GUID, r.PathValue("dguid"))
	if errors.Is(err, store.ErrNotFound) {
		return apierr.Unprocessable(noSuchDestination)
	}
	if err != nil {
		return err
	}
	if proto == "tcp" {
		return apierr.Unprocessable("Destination protocol must be 'http1' or 'http2' if the parent route's protocol is 'http'")
	}
	if proto != "" {
		if d, err = s.store.UpdateDestinationProtocol(r.Context(), rt.GUID, d.GUID, proto); err != nil {
			return err
		}
	}
	out := destinationOf(d)
	out.Links = map[string]Link{
		"destinations": {Href: s.url("/v3/routes/" + rt.GUID + "/destinations")},
		"route":        {Href: s.url("/v3/routes/" + rt.GUID)},
	}
	return writeJSON(w, http.StatusOK, out)
}
