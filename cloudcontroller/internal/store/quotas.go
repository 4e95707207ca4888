package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// DefaultOrgQuotaName names the organization quota that bootstrap creates
// and that new organizations get (CF's default_quota_definition).
const DefaultOrgQuotaName = "default"

// Limits are a quota's limits. A nil limit is unlimited.
type Limits struct {
	TotalMemoryMB      *int64
	PerProcessMemoryMB *int64
	TotalInstances     *int64
	PerAppTasks        *int64
	// LogRateLimit is in bytes per second.
	LogRateLimit          *int64
	PaidServicesAllowed   bool
	TotalServiceInstances *int64
	TotalServiceKeys      *int64
	TotalRoutes           *int64
	TotalReservedPorts    *int64
	// TotalDomains (private domains) applies to organization quotas only.
	TotalDomains *int64
}

// DefaultOrgQuotaLimits are the limits of the default quota bootstrap
// creates: CF's (capi-release) default quota definition.
func DefaultOrgQuotaLimits() Limits {
	n := func(v int64) *int64 { return &v }
	return Limits{TotalMemoryMB: n(10240), PaidServicesAllowed: true, TotalServiceInstances: n(100), TotalRoutes: n(1000), TotalReservedPorts: n(0)}
}

// OrgQuota is an organization quota.
type OrgQuota struct {
	GUID      string
	Name      string
	Limits    Limits
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SpaceQuota is a space quota, owned by an organization.
type SpaceQuota struct {
	GUID      string
	Name      string
	OrgGUID   string
	Limits    Limits
	CreatedAt time.Time
	UpdatedAt time.Time
}

// limitCols lists the limit columns of the table aliased alias, in
// limitDest order; domains adds total_domains.
func limitCols(alias string, domains bool) string {
	cols := []string{"total_memory_in_mb", "per_process_memory_in_mb", "total_instances", "per_app_tasks", "log_rate_limit",
		"paid_services_allowed", "total_service_instances", "total_service_keys", "total_routes", "total_reserved_ports"}
	if domains {
		cols = append(cols, "total_domains")
	}
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}

func limitDest(l *Limits, domains bool) []any {
	d := []any{&l.TotalMemoryMB, &l.PerProcessMemoryMB, &l.TotalInstances, &l.PerAppTasks, &l.LogRateLimit,
		&l.PaidServicesAllowed, &l.TotalServiceInstances, &l.TotalServiceKeys, &l.TotalRoutes, &l.TotalReservedPorts}
	if domains {
		d = append(d, &l.TotalDomains)
	}
	return d
}

func limitArgs(l Limits, domains bool) []any {
	a := []any{l.TotalMemoryMB, l.PerProcessMemoryMB, l.TotalInstances, l.PerAppTasks, l.LogRateLimit,
		l.PaidServicesAllowed, l.TotalServiceInstances, l.TotalServiceKeys, l.TotalRoutes, l.TotalReservedPorts}
	if domains {
		a = append(a, l.TotalDomains)
	}
	return a
}

// dollarParams returns "$from, …, $to".
func dollarParams(from, to int) string {
	p := make([]string, 0, to-from+1)
	for i := from; i <= to; i++ {
		p = append(p, fmt.Sprintf("$%d", i))
	}
	return strings.Join(p, ", ")
}

var (
	orgQuotaCols   = "t.guid::text, t.name, " + limitCols("t", true) + ", t.created_at, t.updated_at"
	spaceQuotaCols = "t.guid::text, t.name, t.organization_guid::text, " + limitCols("t", false) + ", t.created_at, t.updated_at"
	quotaOrder     = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at", "name": "t.name"}
)

func scanOrgQuota(row pgx.Row, extra ...any) (OrgQuota, error) {
	var q OrgQuota
	dest := append([]any{&q.GUID, &q.Name}, limitDest(&q.Limits, true)...)
	dest = append(dest, &q.CreatedAt, &q.UpdatedAt)
	return q, row.Scan(append(dest, extra...)...)
}

func scanSpaceQuota(row pgx.Row, extra ...any) (SpaceQuota, error) {
	var q SpaceQuota
	dest := append([]any{&q.GUID, &q.Name, &q.OrgGUID}, limitDest(&q.Limits, false)...)
	dest = append(dest, &q.CreatedAt, &q.UpdatedAt)
	return q, row.Scan(append(dest, extra...)...)
}

// CreateOrgQuota inserts q and applies it to orgGUIDs, in one transaction
// (ErrConflict if the name is taken).
func (s *Store) CreateOrgQuota(ctx context.Context, q OrgQuota, orgGUIDs []string) (OrgQuota, error) {
	if q.GUID == "" {
		q.GUID = uuid.NewString()
	}
	var out OrgQuota
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		args := append([]any{q.GUID, q.Name}, limitArgs(q.Limits, true)...)
		out, err = scanOrgQuota(tx.QueryRow(ctx, `INSERT INTO organization_quotas AS t (guid, name, `+strings.ReplaceAll(limitCols("t", true), "t.", "")+`)
			VALUES (`+dollarParams(1, len(args))+`) RETURNING `+orgQuotaCols, args...))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE organizations SET quota_guid = $1, updated_at = now() WHERE guid::text = ANY($2)`, out.GUID, orgGUIDs)
		return err
	})
	return out, wrap("create organization quota", err)
}

// GetOrgQuota returns one organization quota.
func (s *Store) GetOrgQuota(ctx context.Context, guid string) (OrgQuota, error) {
	out, err := scanOrgQuota(s.pool.QueryRow(ctx, `SELECT `+orgQuotaCols+` FROM organization_quotas t WHERE t.guid = $1`, guid))
	return out, wrap("get organization quota", err)
}

// ListOrgQuotas returns a page of organization quotas and the total count.
func (s *Store) ListOrgQuotas(ctx context.Context, f Filter) ([]OrgQuota, int, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+orgQuotaCols+`, count(*) OVER () FROM organization_quotas t`+f.clause(quotaOrder), f.args...)
	if err != nil {
		return nil, 0, wrap("list organization quotas", err)
	}
	out, total, err := collectPage(rows, scanOrgQuota)
	if err != nil {
		return nil, 0, wrap("list organization quotas", err)
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = s.count(ctx, "organization_quotas", f)
	}
	return out, total, err
}

// UpdateOrgQuota writes name and limits (ErrConflict if the name is taken).
func (s *Store) UpdateOrgQuota(ctx context.Context, q OrgQuota) (OrgQuota, error) {
	args := append([]any{q.GUID, q.Name}, limitArgs(q.Limits, true)...)
	out, err := scanOrgQuota(s.pool.QueryRow(ctx, `UPDATE organization_quotas AS t SET (name, `+strings.ReplaceAll(limitCols("t", true), "t.", "")+`, updated_at)
		= (`+dollarParams(2, len(args))+`, now()) WHERE t.guid = $1 RETURNING `+orgQuotaCols, args...))
	return out, wrap("update organization quota", err)
}

// DeleteOrgQuota deletes an organization quota (ErrReferenced while an
// organization has it).
func (s *Store) DeleteOrgQuota(ctx context.Context, guid string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM organization_quotas WHERE guid = $1`, guid)
	if err != nil {
		return wrap("delete organization quota", err)
	}
	if tag.RowsAffected() == 0 {
		return wrap("delete organization quota", pgx.ErrNoRows)
	}
	return nil
}

// ApplyOrgQuota gives orgGUIDs the quota.
func (s *Store) ApplyOrgQuota(ctx context.Context, quotaGUID string, orgGUIDs []string) error {
	_, err := s.pool.Exec(ctx, `UPDATE organizations SET quota_guid = $1, updated_at = now() WHERE guid::text = ANY($2)`, quotaGUID, orgGUIDs)
	return wrap("apply organization quota", err)
}

// QuotaMembers maps quota guids to the guids of the organizations
// (OrgQuotaOrgs) or spaces (SpaceQuotaSpaces) that have them.
type QuotaMembers map[string][]string

// OrgQuotaOrgs returns the organizations that have the quotas in f, a
// filter over organizations aliased t (the handler adds the quota and
// visibility conditions).
func (s *Store) OrgQuotaOrgs(ctx context.Context, f Filter) (QuotaMembers, error) {
	return s.members(ctx, "organizations", "quota_guid", f)
}

// SpaceQuotaSpaces returns the spaces that have the quotas in f, a filter
// over spaces aliased t.
func (s *Store) SpaceQuotaSpaces(ctx context.Context, f Filter) (QuotaMembers, error) {
	return s.members(ctx, "spaces", "space_quota_guid", f)
}

func (s *Store) members(ctx context.Context, table, col string, f Filter) (QuotaMembers, error) {
	f.Limit, f.Offset, f.OrderBy, f.Desc = 0, 0, "created_at", false
	rows, err := s.pool.Query(ctx, `SELECT t.`+col+`::text, t.guid::text FROM `+table+` t`+f.clause(map[string]string{"created_at": "t.created_at"}), f.args...)
	if err != nil {
		return nil, wrap("list quota "+table, err)
	}
	defer rows.Close()
	out := QuotaMembers{}
	for rows.Next() {
		var q, g string
		if err := rows.Scan(&q, &g); err != nil {
			return nil, wrap("list quota "+table, err)
		}
		out[q] = append(out[q], g)
	}
	return out, wrap("list quota "+table, rows.Err())
}

// EnsureDefaultOrgQuota creates the default organization quota if it is
// missing and gives it to organizations without a quota (those created
// before quotas existed). It is idempotent.
func (s *Store) EnsureDefaultOrgQuota(ctx context.Context) (OrgQuota, error) {
	var out OrgQuota
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		args := append([]any{uuid.NewString(), DefaultOrgQuotaName}, limitArgs(DefaultOrgQuotaLimits(), true)...)
		if _, err := tx.Exec(ctx, `INSERT INTO organization_quotas (guid, name, `+strings.ReplaceAll(limitCols("t", true), "t.", "")+`)
			VALUES (`+dollarParams(1, len(args))+`) ON CONFLICT (name) DO NOTHING`, args...); err != nil {
			return err
		}
		var err error
		if out, err = scanOrgQuota(tx.QueryRow(ctx, `SELECT `+orgQuotaCols+` FROM organization_quotas t WHERE t.name = $1`, DefaultOrgQuotaName)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE organizations SET quota_guid = $1 WHERE quota_guid IS NULL`, out.GUID)
		return err
	})
	return out, wrap("ensure default organization quota", err)
}

// CreateSpaceQuota inserts q and applies it to spaceGUIDs, in one
// transaction (ErrConflict if the organization has a quota of that name).
func (s *Store) CreateSpaceQuota(ctx context.Context, q SpaceQuota, spaceGUIDs []string) (SpaceQuota, error) {
	if q.GUID == "" {
		q.GUID = uuid.NewString()
	}
	var out SpaceQuota
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		args := append([]any{q.GUID, q.Name, q.OrgGUID}, limitArgs(q.Limits, false)...)
		out, err = scanSpaceQuota(tx.QueryRow(ctx, `INSERT INTO space_quotas AS t (guid, name, organization_guid, `+strings.ReplaceAll(limitCols("t", false), "t.", "")+`)
			VALUES (`+dollarParams(1, len(args))+`) RETURNING `+spaceQuotaCols, args...))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE spaces SET space_quota_guid = $1, updated_at = now() WHERE guid::text = ANY($2) AND organization_guid = $3`, out.GUID, spaceGUIDs, out.OrgGUID)
		return err
	})
	return out, wrap("create space quota", err)
}

// GetSpaceQuota returns one space quota.
func (s *Store) GetSpaceQuota(ctx context.Context, guid string) (SpaceQuota, error) {
	out, err := scanSpaceQuota(s.pool.QueryRow(ctx, `SELECT `+spaceQuotaCols+` FROM space_quotas t WHERE t.guid = $1`, guid))
	return out, wrap("get space quota", err)
}

// ListSpaceQuotas returns a page of space quotas and the total count.
func (s *Store) ListSpaceQuotas(ctx context.Context, f Filter) ([]SpaceQuota, int, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+spaceQuotaCols+`, count(*) OVER () FROM space_quotas t`+f.clause(quotaOrder), f.args...)
	if err != nil {
		return nil, 0, wrap("list space quotas", err)
	}
	out, total, err := collectPage(rows, scanSpaceQuota)
	if err != nil {
		return nil, 0, wrap("list space quotas", err)
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = s.count(ctx, "space_quotas", f)
	}
	return out, total, err
}

// UpdateSpaceQuota writes name and limits.
func (s *Store) UpdateSpaceQuota(ctx context.Context, q SpaceQuota) (SpaceQuota, error) {
	args := append([]any{q.GUID, q.Name}, limitArgs(q.Limits, false)...)
	out, err := scanSpaceQuota(s.pool.QueryRow(ctx, `UPDATE space_quotas AS t SET (name, `+strings.ReplaceAll(limitCols("t", false), "t.", "")+`, updated_at)
		= (`+dollarParams(2, len(args))+`, now()) WHERE t.guid = $1 RETURNING `+spaceQuotaCols, args...))
	return out, wrap("update space quota", err)
}

// DeleteSpaceQuota deletes a space quota (ErrReferenced while a space has
// it).
func (s *Store) DeleteSpaceQuota(ctx context.Context, guid string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM space_quotas WHERE guid = $1`, guid)
	if err != nil {
		return wrap("delete space quota", err)
	}
	if tag.RowsAffected() == 0 {
		return wrap("delete space quota", pgx.ErrNoRows)
	}
	return nil
}

// ApplySpaceQuota gives spaceGUIDs of the quota's organization the quota.
func (s *Store) ApplySpaceQuota(ctx context.Context, quotaGUID string, spaceGUIDs []string) error {
	_, err := s.pool.Exec(ctx, `UPDATE spaces SET space_quota_guid = q.guid, updated_at = now()
		FROM space_quotas q WHERE q.guid = $1 AND spaces.organization_guid = q.organization_guid AND spaces.guid::text = ANY($2)`, quotaGUID, spaceGUIDs)
	return wrap("apply space quota", err)
}

// RemoveSpaceQuota takes the quota off a space (ErrNotFound if the space
// does not have it).
func (s *Store) RemoveSpaceQuota(ctx context.Context, quotaGUID, spaceGUID string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE spaces SET space_quota_guid = NULL, updated_at = now() WHERE guid::text = $2 AND space_quota_guid = $1`, quotaGUID, spaceGUID)
	if err != nil {
		return wrap("remove space quota", err)
	}
	if tag.RowsAffected() == 0 {
		return wrap("remove space quota", pgx.ErrNoRows)
	}
	return nil
}

// QuotaScope is what limits a space (or an organization): the
// organization's quota and the space's quota, with the names quota errors
// show.
type QuotaScope struct {
	OrgGUID   string
	OrgName   string
	SpaceGUID string
	SpaceName string
	// Org is the organization's quota limits; nil if it has none.
	Org *Limits
	// Space is the space quota's limits; nil if the space has none (or the
	// scope is an organization).
	Space *Limits
}

// SpaceQuotaScope returns the quotas that limit a space.
func (s *Store) SpaceQuotaScope(ctx context.Context, spaceGUID string) (QuotaScope, error) {
	var sc QuotaScope
	var org, space Limits
	var hasOrg, hasSpace bool
	dest := []any{&sc.OrgGUID, &sc.OrgName, &sc.SpaceGUID, &sc.SpaceName, &hasOrg, &hasSpace}
	dest = append(dest, nullLimitDest(&org, true)...)
	dest = append(dest, nullLimitDest(&space, false)...)
	err := s.pool.QueryRow(ctx, `SELECT o.guid::text, o.name, sp.guid::text, sp.name, oq.guid IS NOT NULL, sq.guid IS NOT NULL,
			`+limitCols("oq", true)+`, `+limitCols("sq", false)+`
		FROM spaces sp JOIN organizations o ON o.guid = sp.organization_guid
		LEFT JOIN organization_quotas oq ON oq.guid = o.quota_guid
		LEFT JOIN space_quotas sq ON sq.guid = sp.space_quota_guid
		WHERE sp.guid = $1`, spaceGUID).Scan(dest...)
	if err != nil {
		return sc, wrap("space quota scope", err)
	}
	if hasOrg {
		sc.Org = &org
	}
	if hasSpace {
		sc.Space = &space
	}
	return sc, nil
}

// OrgQuotaScope returns the quota that limits an organization.
func (s *Store) OrgQuotaScope(ctx context.Context, orgGUID string) (QuotaScope, error) {
	var sc QuotaScope
	var org Limits
	var hasOrg bool
	dest := append([]any{&sc.OrgGUID, &sc.OrgName, &hasOrg}, nullLimitDest(&org, true)...)
	err := s.pool.QueryRow(ctx, `SELECT o.guid::text, o.name, oq.guid IS NOT NULL, `+limitCols("oq", true)+`
		FROM organizations o LEFT JOIN organization_quotas oq ON oq.guid = o.quota_guid WHERE o.guid = $1`, orgGUID).Scan(dest...)
	if err != nil {
		return sc, wrap("organization quota scope", err)
	}
	if hasOrg {
		sc.Org = &org
	}
	return sc, nil
}

// nullLimitDest is limitDest for a LEFT JOIN, where paid_services_allowed
// may be NULL.
func nullLimitDest(l *Limits, domains bool) []any {
	d := limitDest(l, domains)
	d[5] = nullFalseBool{&l.PaidServicesAllowed}
	return d
}

// nullFalseBool scans a nullable boolean, NULL as false.
type nullFalseBool struct{ b *bool }

func (n nullFalseBool) Scan(src any) error {
	v, _ := src.(bool)
	*n.b = v
	return nil
}

// collectPage reads list rows whose last column is the window count.
func collectPage[T any](rows pgx.Rows, scan func(pgx.Row, ...any) (T, error)) ([]T, int, error) {
	defer rows.Close()
	var out []T
	total := 0
	for rows.Next() {
		v, err := scan(rows, &total)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, v)
	}
	return out, total, rows.Err()
}
