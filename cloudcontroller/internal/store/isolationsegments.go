package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// SharedIsolationSegmentGUID is the guid CF gives the shared isolation
// segment; the migration creates it.
const SharedIsolationSegmentGUID = "933b4c58-120b-499a-b85d-4b6fc9e2903b"

// IsolationSegment is a set of cells apps can be placed on.
type IsolationSegment struct {
	GUID      string
	Name      string
	Metadata  Metadata
	CreatedAt time.Time
	UpdatedAt time.Time
}

const isoSegCols = "t.guid::text, t.name, t.labels, t.annotations, t.created_at, t.updated_at"

var isoSegOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at", "name": "t.name"}

func scanIsoSeg(row pgx.Row, extra ...any) (IsolationSegment, error) {
	var is IsolationSegment
	dest := append([]any{&is.GUID, &is.Name, &is.Metadata.Labels, &is.Metadata.Annotations, &is.CreatedAt, &is.UpdatedAt}, extra...)
	err := row.Scan(dest...)
	is.Metadata.normalize()
	return is, err
}

// CreateIsolationSegment inserts is (ErrConflict if the name is taken,
// ignoring case).
func (s *Store) CreateIsolationSegment(ctx context.Context, is IsolationSegment) (IsolationSegment, error) {
	if is.GUID == "" {
		is.GUID = uuid.NewString()
	}
	is.Metadata.normalize()
	out, err := scanIsoSeg(s.pool.QueryRow(ctx, `INSERT INTO isolation_segments AS t (guid, name, labels, annotations)
		VALUES ($1, $2, $3, $4) RETURNING `+isoSegCols, is.GUID, is.Name, is.Metadata.Labels, is.Metadata.Annotations))
	return out, wrap("create isolation segment", err)
}

// GetIsolationSegment returns one isolation segment.
func (s *Store) GetIsolationSegment(ctx context.Context, guid string) (IsolationSegment, error) {
	out, err := scanIsoSeg(s.pool.QueryRow(ctx, `SELECT `+isoSegCols+` FROM isolation_segments t WHERE t.guid = $1`, guid))
	return out, wrap("get isolation segment", err)
}

// ListIsolationSegments returns a page of isolation segments and the total
// count.
func (s *Store) ListIsolationSegments(ctx context.Context, f Filter) ([]IsolationSegment, int, error) {
	return listPage(ctx, s, "list isolation segments", "isolation_segments",
		`SELECT `+isoSegCols+`, count(*) OVER () FROM isolation_segments t`+f.clause(isoSegOrder), f, scanIsoSeg)
}

// UpdateIsolationSegment writes name and metadata.
func (s *Store) UpdateIsolationSegment(ctx context.Context, is IsolationSegment) (IsolationSegment, error) {
	is.Metadata.normalize()
	out, err := scanIsoSeg(s.pool.QueryRow(ctx, `UPDATE isolation_segments AS t SET name = $2, labels = $3, annotations = $4, updated_at = now()
		WHERE t.guid = $1 RETURNING `+isoSegCols, is.GUID, is.Name, is.Metadata.Labels, is.Metadata.Annotations))
	return out, wrap("update isolation segment", err)
}

// DeleteIsolationSegment deletes an isolation segment (ErrReferenced while
// an organization has it as its default).
func (s *Store) DeleteIsolationSegment(ctx context.Context, guid string) error {
	return s.execOne(ctx, "delete isolation segment", `DELETE FROM isolation_segments WHERE guid = $1`, guid)
}

// OrgDefaultIsolationSegment returns the guid of org's default isolation
// segment, "" for none.
func (s *Store) OrgDefaultIsolationSegment(ctx context.Context, org string) (string, error) {
	var guid string
	err := s.pool.QueryRow(ctx, `SELECT isolation_segment_guid::text FROM organization_isolation_segments WHERE organization_guid = $1`, org).Scan(&guid)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return guid, wrap("get default isolation segment", err)
}

// SetOrgDefaultIsolationSegment sets (or with segment "" clears) org's
// default isolation segment.
func (s *Store) SetOrgDefaultIsolationSegment(ctx context.Context, org, segment string) error {
	if segment == "" {
		_, err := s.pool.Exec(ctx, `DELETE FROM organization_isolation_segments WHERE organization_guid = $1`, org)
		return wrap("clear default isolation segment", err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO organization_isolation_segments (organization_guid, isolation_segment_guid) VALUES ($1, $2)
		ON CONFLICT (organization_guid) DO UPDATE SET isolation_segment_guid = excluded.isolation_segment_guid`, org, segment)
	return wrap("set default isolation segment", err)
}
