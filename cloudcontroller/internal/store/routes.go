package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Route is a host, domain and path (or domain and port) that traffic
// reaches apps by.
type Route struct {
	GUID       string
	Host       string // lowercase; "" for none
	Path       string // "" for none, else begins with "/"
	Port       *int   // nil for HTTP routes
	DomainGUID string
	DomainName string // read from the domain
	SpaceGUID  string
	Options    map[string]string
	Metadata   Metadata
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Route reads join the domain for its name. Filters may refer to t only,
// so that count works on the bare table.
const (
	routeJoin = ` JOIN domains d ON d.guid = t.domain_guid`
	routeFrom = ` FROM routes t` + routeJoin
)

const routeCols = "t.guid::text, t.host, t.path, t.port, t.domain_guid::text, d.name, t.space_guid::text, t.options, t.labels, t.annotations, t.created_at, t.updated_at"

var routeOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at", "host": "t.host", "path": "t.path"}

func scanRoute(row pgx.Row, extra ...any) (Route, error) {
	var r Route
	dest := append([]any{&r.GUID, &r.Host, &r.Path, &r.Port, &r.DomainGUID, &r.DomainName, &r.SpaceGUID, &r.Options,
		&r.Metadata.Labels, &r.Metadata.Annotations, &r.CreatedAt, &r.UpdatedAt}, extra...)
	err := row.Scan(dest...)
	r.Metadata.normalize()
	if r.Options == nil {
		r.Options = map[string]string{}
	}
	return r, err
}

// CreateRoute inserts r (ErrConflict if the route exists, ErrReferenced if
// its domain or space is gone).
func (s *Store) CreateRoute(ctx context.Context, r Route) (Route, error) {
	if r.GUID == "" {
		r.GUID = uuid.NewString()
	}
	if r.Options == nil {
		r.Options = map[string]string{}
	}
	r.Metadata.normalize()
	out, err := scanRoute(s.pool.QueryRow(ctx, `WITH t AS (
		INSERT INTO routes (guid, host, path, port, domain_guid, space_guid, options, labels, annotations)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *)
		SELECT `+routeCols+` FROM t`+routeJoin,
		r.GUID, r.Host, r.Path, r.Port, r.DomainGUID, r.SpaceGUID, r.Options, r.Metadata.Labels, r.Metadata.Annotations))
	return out, wrap("create route", err)
}

// GetRoute returns one route.
func (s *Store) GetRoute(ctx context.Context, guid string) (Route, error) {
	out, err := scanRoute(s.pool.QueryRow(ctx, `SELECT `+routeCols+routeFrom+` WHERE t.guid = $1`, guid))
	return out, wrap("get route", err)
}

// ListRoutes returns a page of routes and the total count.
func (s *Store) ListRoutes(ctx context.Context, f Filter) ([]Route, int, error) {
	return listPage(ctx, s, "list routes", "routes", `SELECT `+routeCols+`, count(*) OVER ()`+routeFrom+f.clause(routeOrder), f, scanRoute)
}

// FindRoute returns the HTTP route with host and path on domain.
func (s *Store) FindRoute(ctx context.Context, domain, host, path string) (Route, error) {
	out, err := scanRoute(s.pool.QueryRow(ctx, `SELECT `+routeCols+routeFrom+`
		WHERE t.domain_guid = $1 AND t.host = $2 AND t.path = $3 AND t.port IS NULL`, domain, host, path))
	return out, wrap("find route", err)
}

// HostTakenOutsideSpace reports whether a route with host on domain exists
// in a space other than space.
func (s *Store) HostTakenOutsideSpace(ctx context.Context, domain, host, space string) (bool, error) {
	var taken bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM routes WHERE domain_guid = $1 AND host = $2 AND port IS NULL AND space_guid <> $3)`,
		domain, host, space).Scan(&taken)
	return taken, wrap("check route host", err)
}

// UpdateRoute writes options and metadata.
func (s *Store) UpdateRoute(ctx context.Context, r Route) (Route, error) {
	if r.Options == nil {
		r.Options = map[string]string{}
	}
	r.Metadata.normalize()
	out, err := scanRoute(s.pool.QueryRow(ctx, `WITH t AS (
		UPDATE routes SET options = $2, labels = $3, annotations = $4, updated_at = now() WHERE guid = $1 RETURNING *)
		SELECT `+routeCols+` FROM t`+routeJoin,
		r.GUID, r.Options, r.Metadata.Labels, r.Metadata.Annotations))
	return out, wrap("update route", err)
}

// DeleteRoute deletes a route and its destinations.
func (s *Store) DeleteRoute(ctx context.Context, guid string) error {
	return s.execOne(ctx, "delete route", `DELETE FROM routes WHERE guid = $1`, guid)
}

// RouteCounts returns how many routes the space and its organization have
// (for route quotas).
func (s *Store) RouteCounts(ctx context.Context, spaceGUID string) (space, org int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE r.space_guid = $1::uuid),
			count(*)
		FROM routes r JOIN spaces sp ON sp.guid = r.space_guid
		WHERE sp.organization_guid = (SELECT organization_guid FROM spaces WHERE guid = $1::uuid)`, spaceGUID).Scan(&space, &org)
	return space, org, wrap("count routes", err)
}
