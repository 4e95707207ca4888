package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Space is a space in an organization.
type Space struct {
	GUID     string
	Name     string
	OrgGUID  string
	AllowSSH bool
	// QuotaGUID is the space quota applied to the space; "" if none.
	QuotaGUID string
	Metadata  Metadata
	CreatedAt time.Time
	UpdatedAt time.Time
}

const spaceCols = "t.guid::text, t.name, t.organization_guid::text, t.allow_ssh, coalesce(t.space_quota_guid::text, ''), t.labels, t.annotations, t.created_at, t.updated_at"

var spaceOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at", "name": "t.name"}

func scanSpace(row pgx.Row, extra ...any) (Space, error) {
	var sp Space
	dest := append([]any{&sp.GUID, &sp.Name, &sp.OrgGUID, &sp.AllowSSH, &sp.QuotaGUID, &sp.Metadata.Labels, &sp.Metadata.Annotations, &sp.CreatedAt, &sp.UpdatedAt}, extra...)
	err := row.Scan(dest...)
	sp.Metadata.normalize()
	return sp, err
}

// CreateSpace inserts sp.
func (s *Store) CreateSpace(ctx context.Context, sp Space) (Space, error) {
	if sp.GUID == "" {
		sp.GUID = uuid.NewString()
	}
	sp.Metadata.normalize()
	row := s.pool.QueryRow(ctx, `INSERT INTO spaces AS t (guid, name, organization_guid, allow_ssh, labels, annotations)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+spaceCols, sp.GUID, sp.Name, sp.OrgGUID, sp.AllowSSH, sp.Metadata.Labels, sp.Metadata.Annotations)
	out, err := scanSpace(row)
	return out, wrap("create space", err)
}

// GetSpace returns one space.
func (s *Store) GetSpace(ctx context.Context, guid string) (Space, error) {
	out, err := scanSpace(s.pool.QueryRow(ctx, `SELECT `+spaceCols+` FROM spaces t WHERE t.guid = $1`, guid))
	return out, wrap("get space", err)
}

// ListSpaces returns a page of spaces and the total count.
func (s *Store) ListSpaces(ctx context.Context, f Filter) ([]Space, int, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+spaceCols+`, count(*) OVER () FROM spaces t`+f.clause(spaceOrder), f.args...)
	if err != nil {
		return nil, 0, wrap("list spaces", err)
	}
	defer rows.Close()
	var out []Space
	total := 0
	for rows.Next() {
		sp, err := scanSpace(rows, &total)
		if err != nil {
			return nil, 0, wrap("list spaces", err)
		}
		out = append(out, sp)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, wrap("list spaces", err)
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = s.count(ctx, "spaces", f)
	}
	return out, total, err
}

// UpdateSpace writes name, allow_ssh and metadata.
func (s *Store) UpdateSpace(ctx context.Context, sp Space) (Space, error) {
	sp.Metadata.normalize()
	row := s.pool.QueryRow(ctx, `UPDATE spaces AS t SET name = $2, allow_ssh = $3, labels = $4, annotations = $5, updated_at = now()
		WHERE t.guid = $1 RETURNING `+spaceCols, sp.GUID, sp.Name, sp.AllowSSH, sp.Metadata.Labels, sp.Metadata.Annotations)
	out, err := scanSpace(row)
	return out, wrap("update space", err)
}

// DeleteSpace deletes a space and its roles.
func (s *Store) DeleteSpace(ctx context.Context, guid string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM spaces WHERE guid = $1`, guid)
	if err != nil {
		return wrap("delete space", err)
	}
	if tag.RowsAffected() == 0 {
		return wrap("delete space", pgx.ErrNoRows)
	}
	return nil
}
