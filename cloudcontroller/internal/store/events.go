package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// EventRef is an audit event's actor or target.
type EventRef struct {
	GUID string
	// Type is "user" or "client" for an actor; the resource kind
	// ("organization", "space", "user", "app", …) for a target.
	Type string
	Name string
}

// Event is an audit event: who did what to which resource, and where.
type Event struct {
	GUID   string
	Type   string // e.g. "audit.organization.create"
	Actor  EventRef
	Target EventRef
	// SpaceGUID and OrgGUID place the event; "" if it has no space or
	// organization. They decide who may read it.
	SpaceGUID string
	OrgGUID   string
	// Data is the event's details; CF puts the request under "request".
	Data      map[string]any
	CreatedAt time.Time
}

const eventCols = "t.guid::text, t.type, t.actor_guid, t.actor_type, t.actor_name, t.target_guid, t.target_type, t.target_name, coalesce(t.space_guid, ''), coalesce(t.organization_guid, ''), t.data, t.created_at"

// Events have one timestamp: created_at and updated_at both order by it.
var eventOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.created_at"}

func scanEvent(row pgx.Row, extra ...any) (Event, error) {
	var e Event
	dest := append([]any{&e.GUID, &e.Type, &e.Actor.GUID, &e.Actor.Type, &e.Actor.Name, &e.Target.GUID, &e.Target.Type, &e.Target.Name,
		&e.SpaceGUID, &e.OrgGUID, &e.Data, &e.CreatedAt}, extra...)
	err := row.Scan(dest...)
	if e.Data == nil {
		e.Data = map[string]any{}
	}
	return e, err
}

// RecordEvent stores an audit event; GUID and CreatedAt are set here.
func (s *Store) RecordEvent(ctx context.Context, e Event) (Event, error) {
	if e.GUID == "" {
		e.GUID = uuid.NewString()
	}
	if e.Data == nil {
		e.Data = map[string]any{}
	}
	out, err := scanEvent(s.pool.QueryRow(ctx, `INSERT INTO audit_events AS t
		(guid, type, actor_guid, actor_type, actor_name, target_guid, target_type, target_name, space_guid, organization_guid, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING `+eventCols,
		e.GUID, e.Type, e.Actor.GUID, e.Actor.Type, e.Actor.Name, e.Target.GUID, e.Target.Type, e.Target.Name,
		nullable(e.SpaceGUID), nullable(e.OrgGUID), e.Data))
	return out, wrap("record event", err)
}

// ListEvents returns a page of audit events and the total count. Filter
// columns: t.type, t.target_guid, t.space_guid, t.organization_guid,
// t.created_at.
func (s *Store) ListEvents(ctx context.Context, f Filter) ([]Event, int, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventCols+`, count(*) OVER () FROM audit_events t`+f.clause(eventOrder), f.args...)
	if err != nil {
		return nil, 0, wrap("list events", err)
	}
	out, total, err := collectPage(rows, scanEvent)
	if err != nil {
		return nil, 0, wrap("list events", err)
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = s.count(ctx, "audit_events", f)
	}
	return out, total, err
}
