package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/anvilpaas/anvil/uaa/internal/scimfilter"
	"github.com/anvilpaas/anvil/uaa/internal/store"
)

// SCIM 1.0 schema URN UAA puts on every resource and list.
var scimSchemas = []string{"urn:scim:schemas:core:1.0"}

// scimTime formats a timestamp as UAA does: millisecond precision, UTC.
func scimTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

type scimMeta struct {
	Version      int    `json:"version"`
	Created      string `json:"created"`
	LastModified string `json:"lastModified"`
}

type scimName struct {
	FamilyName string `json:"familyName,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
}

type scimEmail struct {
	Value   string `json:"value"`
	Primary bool   `json:"primary"`
}

type scimGroupRef struct {
	Value   string `json:"value"`
	Display string `json:"display"`
	Type    string `json:"type"`
}

// scimUser is a user as UAA's SCIM API shows it.
type scimUser struct {
	ID                   string         `json:"id"`
	ExternalID           string         `json:"externalId"`
	Meta                 scimMeta       `json:"meta"`
	UserName             string         `json:"userName"`
	Name                 scimName       `json:"name"`
	Emails               []scimEmail    `json:"emails"`
	Groups               []scimGroupRef `json:"groups"`
	Approvals            []any          `json:"approvals"`
	Active               bool           `json:"active"`
	Verified             bool           `json:"verified"`
	Origin               string         `json:"origin"`
	ZoneID               string         `json:"zoneId"`
	PasswordLastModified string         `json:"passwordLastModified"`
	Schemas              []string       `json:"schemas"`
}

func toSCIMUser(u store.User) scimUser {
	out := scimUser{
		ID: u.ID, Meta: scimMeta{Version: u.Version, Created: scimTime(u.Created), LastModified: scimTime(u.LastModified)},
		UserName: u.Username, Name: scimName{FamilyName: u.FamilyName, GivenName: u.GivenName},
		Emails: []scimEmail{}, Groups: []scimGroupRef{}, Approvals: []any{},
		Active: u.Active, Verified: u.Verified, Origin: u.Origin, ZoneID: "uaa",
		PasswordLastModified: scimTime(u.PasswordLastModified), Schemas: scimSchemas,
	}
	if u.Email != "" {
		out.Emails = append(out.Emails, scimEmail{Value: u.Email, Primary: false})
	}
	for _, g := range u.Groups {
		out.Groups = append(out.Groups, scimGroupRef{Value: g.ID, Display: g.Display, Type: "DIRECT"})
	}
	return out
}

type scimMember struct {
	Value  string `json:"value"`
	Type   string `json:"type"`
	Origin string `json:"origin"`
}

type scimGroup struct {
	ID          string       `json:"id"`
	Meta        scimMeta     `json:"meta"`
	DisplayName string       `json:"displayName"`
	Description string       `json:"description"`
	Members     []scimMember `json:"members"`
	ZoneID      string       `json:"zoneId"`
	Schemas     []string     `json:"schemas"`
}

func toSCIMGroup(g store.Group) scimGroup {
	out := scimGroup{
		ID: g.ID, Meta: scimMeta{Version: g.Version, Created: scimTime(g.Created), LastModified: scimTime(g.LastModified)},
		DisplayName: g.DisplayName, Description: g.Description, Members: []scimMember{}, ZoneID: "uaa", Schemas: scimSchemas,
	}
	for _, m := range g.Members {
		out.Members = append(out.Members, toSCIMMember(m))
	}
	return out
}

func toSCIMMember(m store.Member) scimMember {
	return scimMember{Value: m.ID, Type: m.Type, Origin: m.Origin}
}

// scimList is a SCIM list response.
type scimList struct {
	Resources    []any    `json:"resources"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	TotalResults int      `json:"totalResults"`
	Schemas      []string `json:"schemas"`
}

// Bounds of list requests.
const (
	defaultCount   = 100
	maxCount       = 500
	maxAttributes  = 50
	maxQueryLength = 8 << 10
)

// listParams are the parsed query parameters of a SCIM list request.
type listParams struct {
	Filter     scimfilter.Expr
	SortBy     string
	Descending bool
	StartIndex int
	Count      int
	// Attributes, when set, limits each resource to these attributes.
	Attributes []string
}

// parseListParams parses filter, sortBy, sortOrder, startIndex, count and
// attributes. Errors are SCIM 400s.
func parseListParams(q url.Values) (listParams, error) {
	p := listParams{StartIndex: 1, Count: defaultCount}
	size := 0
	for k, vs := range q {
		size += len(k)
		for _, v := range vs {
			size += len(v)
		}
	}
	if size > maxQueryLength {
		return p, scimError(http.StatusBadRequest, "invalid_request", "Query too long")
	}
	if f := q.Get("filter"); strings.TrimSpace(f) != "" {
		e, err := scimfilter.Parse(f)
		if err != nil {
			return p, scimError(http.StatusBadRequest, "invalid_filter", "Invalid filter expression: "+err.Error())
		}
		p.Filter = e
	}
	p.SortBy = q.Get("sortBy")
	switch strings.ToLower(q.Get("sortOrder")) {
	case "", "ascending":
	case "descending":
		p.Descending = true
	default:
		return p, scimError(http.StatusBadRequest, "invalid_request", "sortOrder must be ascending or descending")
	}
	var err error
	if p.StartIndex, err = intParam(q, "startIndex", 1, 1, 1<<30); err != nil {
		return p, err
	}
	if p.Count, err = intParam(q, "count", defaultCount, 0, 1<<30); err != nil {
		return p, err
	}
	p.Count = min(p.Count, maxCount)
	if a := q.Get("attributes"); a != "" {
		for _, f := range strings.Split(a, ",") {
			if f = strings.TrimSpace(f); f != "" {
				p.Attributes = append(p.Attributes, f)
			}
		}
		if len(p.Attributes) > maxAttributes {
			return p, scimError(http.StatusBadRequest, "invalid_request", "Too many attributes")
		}
	}
	return p, nil
}

func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, scimError(http.StatusBadRequest, "invalid_request", fmt.Sprintf("Invalid %s: %q", name, v))
	}
	return n, nil
}

// project keeps only the requested attributes of a resource (matched
// case-insensitively; "name.givenName" keeps a nested field).
func project(resource any, attrs []string) (any, error) {
	if len(attrs) == 0 {
		return resource, nil
	}
	data, err := json.Marshal(resource)
	if err != nil {
		return nil, err
	}
	var full map[string]any
	if err := json.Unmarshal(data, &full); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, a := range attrs {
		pickPath(full, out, strings.Split(a, "."))
	}
	return out, nil
}

func pickPath(src, dst map[string]any, path []string) {
	for k, v := range src {
		if !strings.EqualFold(k, path[0]) {
			continue
		}
		if len(path) == 1 {
			dst[k] = v
			return
		}
		sub, ok := v.(map[string]any)
		if !ok {
			return
		}
		d, _ := dst[k].(map[string]any)
		if d == nil {
			d = map[string]any{}
			dst[k] = d
		}
		pickPath(sub, d, path[1:])
		return
	}
}

// decodeJSON decodes a request body into v, mapping failures to SCIM 400s.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return scimError(http.StatusRequestEntityTooLarge, "invalid_request", "Request body too large")
		}
		return scimError(http.StatusBadRequest, "invalid_scim_resource", "Request body is not valid JSON: "+err.Error())
	}
	return nil
}

// etag formats a resource version as UAA's ETag: "\"3\"".
func etag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// ifMatch parses If-Match: a version, a quoted version, "*" or absent
// (-1: any version).
func ifMatch(r *http.Request) (int, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return -1, nil
	}
	v = strings.TrimPrefix(v, "W/")
	n, err := strconv.Atoi(strings.Trim(v, `"`))
	if err != nil || n < 0 {
		return 0, scimError(http.StatusBadRequest, "invalid_request", "Invalid If-Match header: "+v)
	}
	return n, nil
}
