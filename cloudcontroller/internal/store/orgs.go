package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Org is an organization.
type Org struct {
	GUID      string
	Name      string
	Suspended bool
	// QuotaGUID is the organization quota; "" if none. CreateOrg gives a new
	// organization the default quota unless one is set.
	QuotaGUID string
	Metadata  Metadata
	CreatedAt time.Time
	UpdatedAt time.Time
}

const orgCols = "t.guid::text, t.name, t.suspended, coalesce(t.quota_guid::text, ''), t.labels, t.annotations, t.created_at, t.updated_at"

var orgOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at", "name": "t.name"}

func scanOrg(row pgx.Row, extra ...any) (Org, error) {
	var o Org
	dest := append([]any{&o.GUID, &o.Name, &o.Suspended, &o.QuotaGUID, &o.Metadata.Labels, &o.Metadata.Annotations, &o.CreatedAt, &o.UpdatedAt}, extra...)
	err := row.Scan(dest...)
	o.Metadata.normalize()
	return o, err
}

// CreateOrg inserts o; GUID and timestamps are set here.
func (s *Store) CreateOrg(ctx context.Context, o Org) (Org, error) {
	if o.GUID == "" {
		o.GUID = uuid.NewString()
	}
	o.Metadata.normalize()
	row := s.pool.QueryRow(ctx, `INSERT INTO organizations AS t (guid, name, suspended, labels, annotations, quota_guid)
		VALUES ($1, $2, $3, $4, $5, coalesce($6::uuid, (SELECT q.guid FROM organization_quotas q WHERE q.name = '`+DefaultOrgQuotaName+`')))
		RETURNING `+orgCols, o.GUID, o.Name, o.Suspended, o.Metadata.Labels, o.Metadata.Annotations, nullable(o.QuotaGUID))
	out, err := scanOrg(row)
	return out, wrap("create organization", err)
}

// GetOrg returns one organization.
func (s *Store) GetOrg(ctx context.Context, guid string) (Org, error) {
	out, err := scanOrg(s.pool.QueryRow(ctx, `SELECT `+orgCols+` FROM organizations t WHERE t.guid = $1`, guid))
	return out, wrap("get organization", err)
}

// ListOrgs returns a page of organizations and the total count.
func (s *Store) ListOrgs(ctx context.Context, f Filter) ([]Org, int, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+orgCols+`, count(*) OVER () FROM organizations t`+f.clause(orgOrder), f.args...)
	if err != nil {
		return nil, 0, wrap("list organizations", err)
	}
	defer rows.Close()
	var out []Org
	total := 0
	for rows.Next() {
		o, err := scanOrg(rows, &total)
		if err != nil {
			return nil, 0, wrap("list organizations", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, wrap("list organizations", err)
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = s.count(ctx, "organizations", f)
	}
	return out, total, err
}

// UpdateOrg writes name, suspended and metadata.
func (s *Store) UpdateOrg(ctx context.Context, o Org) (Org, error) {
	o.Metadata.normalize()
	row := s.pool.QueryRow(ctx, `UPDATE organizations AS t SET name = $2, suspended = $3, labels = $4, annotations = $5, updated_at = now()
		WHERE t.guid = $1 RETURNING `+orgCols, o.GUID, o.Name, o.Suspended, o.Metadata.Labels, o.Metadata.Annotations)
	out, err := scanOrg(row)
	return out, wrap("update organization", err)
}

// DeleteOrg deletes an organization with its spaces and roles.
func (s *Store) DeleteOrg(ctx context.Context, guid string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM organizations WHERE guid = $1`, guid)
	if err != nil {
		return wrap("delete organization", err)
	}
	if tag.RowsAffected() == 0 {
		return wrap("delete organization", pgx.ErrNoRows)
	}
	return nil
}

// count counts the rows a filter matches (used when a page past the end
// returns no row to carry the window count).
func (s *Store) count(ctx context.Context, table string, f Filter) (int, error) {
	g := f
	g.Limit, g.Offset = 0, 0
	var n int
	q := `SELECT count(*) FROM ` + table + ` t`
	if len(g.conds) > 0 {
		q += " WHERE " + joinConds(g.conds)
	}
	err := s.pool.QueryRow(ctx, q, g.args...).Scan(&n)
	return n, wrap("count "+table, err)
}

// OrgUsage counts what an organization uses that is stored here: its routes
// and its private domains.
func (s *Store) OrgUsage(ctx context.Context, org string) (routes, domains int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM routes r JOIN spaces sp ON sp.guid = r.space_guid WHERE sp.organization_guid = $1::uuid),
		(SELECT count(*) FROM domains d WHERE d.organization_guid = $1::uuid)`, org).Scan(&routes, &domains)
	return routes, domains, wrap("organization usage", err)
}
