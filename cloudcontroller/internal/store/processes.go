package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ProcessWeb is the process type every app has.
const ProcessWeb = "web"

// HealthCheck is a process's liveness or readiness check. Nil fields are
// unset (CF shows null).
type HealthCheck struct {
	Type              string
	Timeout           *int
	InvocationTimeout *int
	Interval          *int
	Endpoint          *string
}

// Process is a process type of an app.
type Process struct {
	GUID    string
	AppGUID string
	Type    string
	// Command nil is the droplet's detected command.
	Command   *string
	Instances int
	MemoryMB  int
	DiskMB    int
	// LogRateLimit is in bytes per second; -1 is unlimited.
	LogRateLimit int64
	HealthCheck  HealthCheck
	Readiness    HealthCheck
	Metadata     Metadata
	CreatedAt    time.Time
	UpdatedAt    time.Time

	// Read from the app.
	SpaceGUID string
	AppState  string
}

const (
	processJoin = ` JOIN apps pa ON pa.guid = t.app_guid`
	processFrom = ` FROM processes t` + processJoin
	processCols = `t.guid::text, t.app_guid::text, t.type, t.command, t.instances, t.memory_in_mb, t.disk_in_mb, t.log_rate_limit,
	t.health_check_type, t.health_check_timeout, t.health_check_invocation_timeout, t.health_check_interval, t.health_check_endpoint,
	t.readiness_health_check_type, t.readiness_health_check_invocation_timeout, t.readiness_health_check_interval, t.readiness_health_check_endpoint,
	t.labels, t.annotations, t.created_at, t.updated_at, pa.space_guid::text, pa.state`
)

var processOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at"}

func scanProcess(row pgx.Row, extra ...any) (Process, error) {
	var p Process
	dest := append([]any{&p.GUID, &p.AppGUID, &p.Type, &p.Command, &p.Instances, &p.MemoryMB, &p.DiskMB, &p.LogRateLimit,
		&p.HealthCheck.Type, &p.HealthCheck.Timeout, &p.HealthCheck.InvocationTimeout, &p.HealthCheck.Interval, &p.HealthCheck.Endpoint,
		&p.Readiness.Type, &p.Readiness.InvocationTimeout, &p.Readiness.Interval, &p.Readiness.Endpoint,
		&p.Metadata.Labels, &p.Metadata.Annotations, &p.CreatedAt, &p.UpdatedAt, &p.SpaceGUID, &p.AppState}, extra...)
	err := row.Scan(dest...)
	p.Metadata.normalize()
	return p, err
}

func processArgs(p Process) []any {
	return []any{p.Command, p.Instances, p.MemoryMB, p.DiskMB, p.LogRateLimit,
		p.HealthCheck.Type, p.HealthCheck.Timeout, p.HealthCheck.InvocationTimeout, p.HealthCheck.Interval, p.HealthCheck.Endpoint,
		p.Readiness.Type, p.Readiness.InvocationTimeout, p.Readiness.Interval, p.Readiness.Endpoint,
		p.Metadata.Labels, p.Metadata.Annotations}
}

func defaultHealthChecks(p *Process) {
	if p.HealthCheck.Type == "" {
		p.HealthCheck.Type = "port"
		if p.Type != ProcessWeb {
			p.HealthCheck.Type = "process"
		}
	}
	if p.Readiness.Type == "" {
		p.Readiness.Type = "process"
	}
	p.Metadata.normalize()
}

func insertProcess(ctx context.Context, tx pgx.Tx, p Process) (string, error) {
	if p.GUID == "" {
		p.GUID = uuid.NewString()
	}
	defaultHealthChecks(&p)
	args := append([]any{p.GUID, p.AppGUID, p.Type}, processArgs(p)...)
	_, err := tx.Exec(ctx, `INSERT INTO processes (guid, app_guid, type, command, instances, memory_in_mb, disk_in_mb, log_rate_limit,
			health_check_type, health_check_timeout, health_check_invocation_timeout, health_check_interval, health_check_endpoint,
			readiness_health_check_type, readiness_health_check_invocation_timeout, readiness_health_check_interval, readiness_health_check_endpoint,
			labels, annotations)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`, args...)
	return p.GUID, err
}

// CreateProcess inserts a process (ErrConflict if the app has that type).
func (s *Store) CreateProcess(ctx context.Context, p Process) (Process, error) {
	var guid string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		guid, err = insertProcess(ctx, tx, p)
		return err
	})
	if err != nil {
		return Process{}, wrap("create process", err)
	}
	return s.GetProcess(ctx, guid)
}

// GetProcess returns one process.
func (s *Store) GetProcess(ctx context.Context, guid string) (Process, error) {
	out, err := scanProcess(s.pool.QueryRow(ctx, `SELECT `+processCols+processFrom+` WHERE t.guid = $1`, guid))
	return out, wrap("get process", err)
}

// GetAppProcess returns the process of type typ of app.
func (s *Store) GetAppProcess(ctx context.Context, app, typ string) (Process, error) {
	out, err := scanProcess(s.pool.QueryRow(ctx, `SELECT `+processCols+processFrom+` WHERE t.app_guid = $1 AND t.type = $2`, app, typ))
	return out, wrap("get process", err)
}

// ListProcesses returns a page of processes and the total count. Filters
// may refer to t (processes) only.
func (s *Store) ListProcesses(ctx context.Context, f Filter) ([]Process, int, error) {
	return listPage(ctx, s, "list processes", "processes", `SELECT `+processCols+`, count(*) OVER ()`+processFrom+f.clause(processOrder), f, scanProcess)
}

// AppProcesses returns the processes of app, web first, then by type.
func (s *Store) AppProcesses(ctx context.Context, app string) ([]Process, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+processCols+processFrom+` WHERE t.app_guid = $1 ORDER BY t.type <> 'web', t.type`, app)
	if err != nil {
		return nil, wrap("app processes", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Process, error) { return scanProcess(r) })
	return out, wrap("app processes", err)
}

// UpdateProcess writes every changeable field of p.
func (s *Store) UpdateProcess(ctx context.Context, p Process) (Process, error) {
	defaultHealthChecks(&p)
	args := append([]any{p.GUID}, processArgs(p)...)
	tag, err := s.pool.Exec(ctx, `UPDATE processes SET command = $2, instances = $3, memory_in_mb = $4, disk_in_mb = $5, log_rate_limit = $6,
			health_check_type = $7, health_check_timeout = $8, health_check_invocation_timeout = $9, health_check_interval = $10, health_check_endpoint = $11,
			readiness_health_check_type = $12, readiness_health_check_invocation_timeout = $13, readiness_health_check_interval = $14,
			readiness_health_check_endpoint = $15, labels = $16, annotations = $17, updated_at = now()
		WHERE guid = $1`, args...)
	if err != nil {
		return Process{}, wrap("update process", err)
	}
	if tag.RowsAffected() == 0 {
		return Process{}, wrap("update process", pgx.ErrNoRows)
	}
	return s.GetProcess(ctx, p.GUID)
}

// AppRouteGUIDs returns the guids of the routes mapped to app.
func (s *Store) AppRouteGUIDs(ctx context.Context, app string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT route_guid::text FROM route_destinations WHERE app_guid = $1`, app)
	if err != nil {
		return nil, wrap("app routes", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, wrap("app routes", err)
}

// UnmapApp deletes every route mapping of app.
func (s *Store) UnmapApp(ctx context.Context, app string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM route_destinations WHERE app_guid = $1`, app)
	return wrap("unmap app", err)
}
