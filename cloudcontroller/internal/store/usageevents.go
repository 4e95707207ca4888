package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// App usage event states (CF's).
const (
	UsageStarted        = "STARTED"
	UsageStopped        = "STOPPED"
	UsageBuildpackSet   = "BUILDPACK_SET"
	UsageStagingStarted = "STAGING_STARTED"
	UsageStagingStopped = "STAGING_STOPPED"
	UsageTaskStarted    = "TASK_STARTED"
	UsageTaskStopped    = "TASK_STOPPED"
)

// UsageEvent is one app usage event. Pointers are CF's nullable fields.
type UsageEvent struct {
	GUID          string
	CreatedAt     time.Time
	State         string
	PreviousState *string
	// AppGUID and AppName are the app (CF's parent_app_*).
	AppGUID, AppName string
	// ProcessGUID and ProcessType are set for process events.
	ProcessGUID, ProcessType *string
	SpaceGUID, SpaceName     string
	OrgGUID                  string
	BuildpackGUID            *string
	BuildpackName            *string
	TaskGUID, TaskName       *string
	PackageGUID              *string
	MemoryMB, PreviousMemory *int
	Instances, PreviousInst  *int
}

const usageCols = `t.guid::text, t.created_at, t.state, t.previous_state, t.app_guid, t.app_name, t.process_guid, t.process_type,
	t.space_guid, t.space_name, t.organization_guid, t.buildpack_guid, t.buildpack_name, t.task_guid, t.task_name, t.package_guid,
	t.memory_in_mb_per_instance, t.previous_memory_in_mb_per_instance, t.instance_count, t.previous_instance_count`

var usageOrder = map[string]string{"created_at": "t.id"}

func scanUsage(row pgx.Row, extra ...any) (UsageEvent, error) {
	var e UsageEvent
	dest := append([]any{&e.GUID, &e.CreatedAt, &e.State, &e.PreviousState, &e.AppGUID, &e.AppName, &e.ProcessGUID, &e.ProcessType,
		&e.SpaceGUID, &e.SpaceName, &e.OrgGUID, &e.BuildpackGUID, &e.BuildpackName, &e.TaskGUID, &e.TaskName, &e.PackageGUID,
		&e.MemoryMB, &e.PreviousMemory, &e.Instances, &e.PreviousInst}, extra...)
	return e, row.Scan(dest...)
}

// RecordUsageEvent inserts an event. AppName, SpaceName and OrgGUID are
// filled from the app when empty (the app must then exist).
func (s *Store) RecordUsageEvent(ctx context.Context, e UsageEvent) (UsageEvent, error) {
	if e.GUID == "" {
		e.GUID = uuid.NewString()
	}
	out, err := scanUsage(s.pool.QueryRow(ctx, `WITH src AS (
			SELECT coalesce(nullif($5::text, ''), a.name, '') AS app_name, coalesce(nullif($8::text, ''), sp.guid::text, '') AS space_guid,
			       coalesce(nullif($9::text, ''), sp.name, '') AS space_name, coalesce(nullif($10::text, ''), sp.organization_guid::text, '') AS org_guid
			FROM (SELECT 1) one LEFT JOIN apps a ON a.guid::text = $4::text LEFT JOIN spaces sp ON sp.guid = a.space_guid),
		t AS (INSERT INTO app_usage_events (guid, state, previous_state, app_guid, app_name, process_guid, process_type,
			space_guid, space_name, organization_guid, buildpack_guid, buildpack_name, task_guid, task_name, package_guid,
			memory_in_mb_per_instance, previous_memory_in_mb_per_instance, instance_count, previous_instance_count)
			SELECT $1::uuid, $2::text, $3::text, $4::text, src.app_name, $6::text, $7::text, src.space_guid, src.space_name, src.org_guid,
				$11::text, $12::text, $13::text, $14::text, $15::text, $16::int, $17::int, $18::int, $19::int
			FROM src RETURNING *)
		SELECT `+usageCols+` FROM t`,
		e.GUID, e.State, e.PreviousState, e.AppGUID, e.AppName, e.ProcessGUID, e.ProcessType,
		e.SpaceGUID, e.SpaceName, e.OrgGUID, e.BuildpackGUID, e.BuildpackName, e.TaskGUID, e.TaskName, e.PackageGUID,
		e.MemoryMB, e.PreviousMemory, e.Instances, e.PreviousInst))
	return out, wrap("record app usage event", err)
}

// GetUsageEvent returns one event.
func (s *Store) GetUsageEvent(ctx context.Context, guid string) (UsageEvent, error) {
	out, err := scanUsage(s.pool.QueryRow(ctx, `SELECT `+usageCols+` FROM app_usage_events t WHERE t.guid = $1`, guid))
	return out, wrap("get app usage event", err)
}

// UsageEventID returns the feed position of an event (for after_guid).
func (s *Store) UsageEventID(ctx context.Context, guid string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM app_usage_events WHERE guid = $1`, guid).Scan(&id)
	return id, wrap("app usage event position", err)
}

// ListUsageEvents returns a page of events in feed order; filters refer
// to t (app_usage_events), whose column id is the feed position.
func (s *Store) ListUsageEvents(ctx context.Context, f Filter) ([]UsageEvent, int, error) {
	return listPage(ctx, s, "list app usage events", "app_usage_events t",
		`SELECT `+usageCols+`, count(*) OVER () FROM app_usage_events t`+f.clause(usageOrder), f, scanUsage)
}

// PurgeAndReseedUsageEvents deletes every event and records one STARTED
// event per process of a started app (CF's
// destructively_purge_all_and_reseed), in one transaction.
func (s *Store) PurgeAndReseedUsageEvents(ctx context.Context) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM app_usage_events`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO app_usage_events (guid, state, previous_state, app_guid, app_name, process_guid, process_type,
				space_guid, space_name, organization_guid, buildpack_name, memory_in_mb_per_instance, previous_memory_in_mb_per_instance,
				instance_count, previous_instance_count)
			SELECT gen_random_uuid(), 'STARTED', 'STARTED', a.guid::text, a.name, p.guid::text, p.type, sp.guid::text, sp.name,
				sp.organization_guid::text, d.buildpacks -> 0 ->> 'name', p.memory_in_mb, p.memory_in_mb, p.instances, p.instances
			FROM processes p JOIN apps a ON a.guid = p.app_guid JOIN spaces sp ON sp.guid = a.space_guid
			LEFT JOIN droplets d ON d.guid = a.droplet_guid
			WHERE a.state = 'STARTED'
			ORDER BY a.created_at, p.created_at`)
		return err
	})
	return wrap("purge and reseed app usage events", err)
}
