package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Role types, as CF names them.
const (
	OrgUser           = "organization_user"
	OrgAuditor        = "organization_auditor"
	OrgManager        = "organization_manager"
	OrgBillingManager = "organization_billing_manager"
	SpaceAuditor      = "space_auditor"
	SpaceDeveloper    = "space_developer"
	SpaceManager      = "space_manager"
	SpaceSupporter    = "space_supporter"
)

// IsOrgRole reports whether t is an organization role type.
func IsOrgRole(t string) bool {
	switch t {
	case OrgUser, OrgAuditor, OrgManager, OrgBillingManager:
		return true
	}
	return false
}

// IsSpaceRole reports whether t is a space role type.
func IsSpaceRole(t string) bool {
	switch t {
	case SpaceAuditor, SpaceDeveloper, SpaceManager, SpaceSupporter:
		return true
	}
	return false
}

// Role gives a user a role in an organization or a space.
type Role struct {
	GUID      string
	Type      string
	UserGUID  string
	OrgGUID   string // set for organization roles
	SpaceGUID string // set for space roles
	CreatedAt time.Time
	UpdatedAt time.Time
}

const roleCols = "t.guid::text, t.type, t.user_guid, coalesce(t.organization_guid::text, ''), coalesce(t.space_guid::text, ''), t.created_at, t.updated_at"

var roleOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at"}

func scanRole(row pgx.Row, extra ...any) (Role, error) {
	var r Role
	dest := append([]any{&r.GUID, &r.Type, &r.UserGUID, &r.OrgGUID, &r.SpaceGUID, &r.CreatedAt, &r.UpdatedAt}, extra...)
	return r, row.Scan(dest...)
}

// CreateRole inserts r (ErrConflict if the user already has it).
func (s *Store) CreateRole(ctx context.Context, r Role) (Role, error) {
	if r.GUID == "" {
		r.GUID = uuid.NewString()
	}
	row := s.pool.QueryRow(ctx, `INSERT INTO roles AS t (guid, type, user_guid, organization_guid, space_guid)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+roleCols, r.GUID, r.Type, r.UserGUID, nullable(r.OrgGUID), nullable(r.SpaceGUID))
	out, err := scanRole(row)
	return out, wrap("create role", err)
}

// GetRole returns one role.
func (s *Store) GetRole(ctx context.Context, guid string) (Role, error) {
	out, err := scanRole(s.pool.QueryRow(ctx, `SELECT `+roleCols+` FROM roles t WHERE t.guid = $1`, guid))
	return out, wrap("get role", err)
}

// ListRoles returns a page of roles and the total count.
func (s *Store) ListRoles(ctx context.Context, f Filter) ([]Role, int, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+roleCols+`, count(*) OVER () FROM roles t`+f.clause(roleOrder), f.args...)
	if err != nil {
		return nil, 0, wrap("list roles", err)
	}
	defer rows.Close()
	var out []Role
	total := 0
	for rows.Next() {
		r, err := scanRole(rows, &total)
		if err != nil {
			return nil, 0, wrap("list roles", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, wrap("list roles", err)
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = s.count(ctx, "roles", f)
	}
	return out, total, err
}

// DeleteRole deletes a role.
func (s *Store) DeleteRole(ctx context.Context, guid string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM roles WHERE guid = $1`, guid)
	if err != nil {
		return wrap("delete role", err)
	}
	if tag.RowsAffected() == 0 {
		return wrap("delete role", pgx.ErrNoRows)
	}
	return nil
}

// Access is what one user may see: the organizations and spaces where it
// holds roles, by role type.
type Access struct {
	// OrgRoles maps organization guid → role types held there.
	OrgRoles map[string][]string
	// SpaceRoles maps space guid → role types held there.
	SpaceRoles map[string][]string
	// SpaceOrgs maps each space with a role to its organization.
	SpaceOrgs map[string]string
}

// UserAccess loads the roles of user in one query.
func (s *Store) UserAccess(ctx context.Context, user string) (Access, error) {
	a := Access{OrgRoles: map[string][]string{}, SpaceRoles: map[string][]string{}, SpaceOrgs: map[string]string{}}
	rows, err := s.pool.Query(ctx, `SELECT r.type, coalesce(r.organization_guid::text, ''), coalesce(r.space_guid::text, ''), coalesce(sp.organization_guid::text, '')
		FROM roles r LEFT JOIN spaces sp ON sp.guid = r.space_guid WHERE r.user_guid = $1`, user)
	if err != nil {
		return a, wrap("user access", err)
	}
	defer rows.Close()
	for rows.Next() {
		var typ, org, space, spaceOrg string
		if err := rows.Scan(&typ, &org, &space, &spaceOrg); err != nil {
			return a, wrap("user access", err)
		}
		if org != "" {
			a.OrgRoles[org] = append(a.OrgRoles[org], typ)
		}
		if space != "" {
			a.SpaceRoles[space] = append(a.SpaceRoles[space], typ)
			a.SpaceOrgs[space] = spaceOrg
		}
	}
	return a, wrap("user access", rows.Err())
}
