// Package cfroutes parses the "cf-router" entry of a desired LRP's routes:
// the JSON list Cloud Controller writes for the HTTP router, one element per
// container port and route settings:
//
//	[{"hostnames":["app.example.com","app.example.com/api"],"port":8080,
//	  "route_service_url":"https://rs.example.com","isolation_segment":"seg",
//	  "protocol":"http1","options":{"loadbalancing":"least-connection"}}]
//
// The JSON comes from the BBS, which never looks inside it, so it is
// untrusted: [Parse] bounds its size, drops every hostname or element a
// router would refuse (see router.RegistryMessage.Validate) and never
// fails on a single bad element.
package cfroutes

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/anvilpaas/anvil/api/router"
)

// Key is the routes map key of the HTTP router's entry.
const Key = "cf-router"

// MaxSize is the largest cf-router entry parsed, in bytes.
const MaxSize = 1 << 20

// ErrInvalid is wrapped by the error Parse returns when the entry as a
// whole cannot be used.
var ErrInvalid = errors.New("invalid cf-router routes")

// Route is one hostname (with an optional path) served on a container
// port, with the settings of the element it came from.
type Route struct {
	Hostname         string
	Port             uint32
	RouteServiceURL  string
	IsolationSegment string
	Protocol         string
	Options          router.Options
}

// entry is one element of the JSON list, as Cloud Controller writes it.
type entry struct {
	Hostnames        []string        `json:"hostnames"`
	Port             uint32          `json:"port"`
	RouteServiceURL  string          `json:"route_service_url"`
	IsolationSegment string          `json:"isolation_segment"`
	Protocol         string          `json:"protocol"`
	Options          json.RawMessage `json:"options"`
}

// Result is what Parse found.
type Result struct {
	// Routes are the usable routes, in the order of the JSON, without
	// duplicate (hostname, port) pairs (the first one wins).
	Routes []Route
	// Dropped counts hostnames and elements left out as unusable.
	Dropped int
}

// Parse decodes a cf-router entry. An empty entry has no routes. It fails
// (wrapping ErrInvalid) only when the entry is too large or is not a JSON
// list of objects; unusable elements and hostnames are counted in
// Result.Dropped instead.
func Parse(data []byte) (Result, error) {
	var res Result
	if len(data) == 0 {
		return res, nil
	}
	if len(data) > MaxSize {
		return res, fmt.Errorf("%w: %d bytes exceeds %d", ErrInvalid, len(data), MaxSize)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return res, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	type pair struct {
		host string
		port uint32
	}
	seen := map[pair]bool{}
	for _, r := range raw {
		var e entry
		if err := json.Unmarshal(r, &e); err != nil {
			res.Dropped++
			continue
		}
		var opts router.Options
		if len(e.Options) > 0 && string(e.Options) != "null" {
			if err := json.Unmarshal(e.Options, &opts); err != nil {
				res.Dropped++
				continue
			}
		}
		if e.Port == 0 || e.Port > 65535 {
			res.Dropped++
			continue
		}
		for _, h := range e.Hostnames {
			rt := Route{
				Hostname:         h,
				Port:             e.Port,
				RouteServiceURL:  e.RouteServiceURL,
				IsolationSegment: e.IsolationSegment,
				Protocol:         e.Protocol,
				Options:          opts,
			}
			if rt.Validate() != nil || seen[pair{h, e.Port}] {
				res.Dropped++
				continue
			}
			seen[pair{h, e.Port}] = true
			res.Routes = append(res.Routes, rt)
		}
	}
	return res, nil
}

// Validate reports whether a router would accept a registration of this
// route (on any endpoint). Every error wraps router.ErrInvalidMessage.
func (r Route) Validate() error {
	m := router.RegistryMessage{
		Host: "0.0.0.0", Port: int(r.Port), URIs: []string{r.Hostname},
		RouteServiceURL: r.RouteServiceURL, IsolationSegment: r.IsolationSegment,
		Protocol: r.Protocol, Options: r.Options,
	}
	return m.Validate()
}
