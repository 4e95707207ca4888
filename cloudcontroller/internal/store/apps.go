package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// App states.
const (
	AppStarted = "STARTED"
	AppStopped = "STOPPED"
)

// Lifecycle types.
const (
	LifecycleBuildpack = "buildpack"
	LifecycleDocker    = "docker"
)

// App is a v3 app.
type App struct {
	GUID          string
	Name          string
	SpaceGUID     string
	State         string
	LifecycleType string
	// Buildpacks and Stack are the buildpack lifecycle's data; Stack is
	// the stack's name.
	Buildpacks []string
	Stack      string
	// Env are the app's user-provided environment variables.
	Env              map[string]string
	EnableSSH        bool
	RevisionsEnabled bool
	// DropletGUID is the current droplet; "" for none.
	DropletGUID string
	Metadata    Metadata
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const appCols = `t.guid::text, t.name, t.space_guid::text, t.state, t.lifecycle_type, t.buildpacks, t.stack,
	t.environment_variables, t.enable_ssh, t.revisions_enabled, coalesce(t.droplet_guid::text, ''),
	t.labels, t.annotations, t.created_at, t.updated_at`

var appOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at", "name": "t.name", "state": "t.state"}

func scanApp(row pgx.Row, extra ...any) (App, error) {
	var a App
	dest := append([]any{&a.GUID, &a.Name, &a.SpaceGUID, &a.State, &a.LifecycleType, &a.Buildpacks, &a.Stack,
		&a.Env, &a.EnableSSH, &a.RevisionsEnabled, &a.DropletGUID,
		&a.Metadata.Labels, &a.Metadata.Annotations, &a.CreatedAt, &a.UpdatedAt}, extra...)
	err := row.Scan(dest...)
	a.normalize()
	return a, err
}

func (a *App) normalize() {
	a.Metadata.normalize()
	if a.Buildpacks == nil {
		a.Buildpacks = []string{}
	}
	if a.Env == nil {
		a.Env = map[string]string{}
	}
}

// CreateApp inserts a and its web process (ErrConflict if the space has an
// app of that name, ErrReferenced if the space is gone).
func (s *Store) CreateApp(ctx context.Context, a App, web Process) (App, error) {
	if a.GUID == "" {
		a.GUID = uuid.NewString()
	}
	if a.State == "" {
		a.State = AppStopped
	}
	if a.LifecycleType == "" {
		a.LifecycleType = LifecycleBuildpack
	}
	a.normalize()
	var out App
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanApp(tx.QueryRow(ctx, `INSERT INTO apps AS t (guid, name, space_guid, state, lifecycle_type, buildpacks, stack,
				environment_variables, enable_ssh, revisions_enabled, labels, annotations)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING `+appCols,
			a.GUID, a.Name, a.SpaceGUID, a.State, a.LifecycleType, a.Buildpacks, a.Stack, a.Env, a.EnableSSH, a.RevisionsEnabled,
			a.Metadata.Labels, a.Metadata.Annotations))
		if err != nil {
			return err
		}
		web.AppGUID, web.Type = out.GUID, ProcessWeb
		_, err = insertProcess(ctx, tx, web)
		return err
	})
	return out, wrap("create app", err)
}

// GetApp returns one app.
func (s *Store) GetApp(ctx context.Context, guid string) (App, error) {
	out, err := scanApp(s.pool.QueryRow(ctx, `SELECT `+appCols+` FROM apps t WHERE t.guid = $1`, guid))
	return out, wrap("get app", err)
}

// FindApp returns the app named name in space.
func (s *Store) FindApp(ctx context.Context, space, name string) (App, error) {
	out, err := scanApp(s.pool.QueryRow(ctx, `SELECT `+appCols+` FROM apps t WHERE t.space_guid = $1 AND t.name = $2`, space, name))
	return out, wrap("find app", err)
}

// ListApps returns a page of apps and the total count. Filters may refer
// to t (apps) only.
func (s *Store) ListApps(ctx context.Context, f Filter) ([]App, int, error) {
	return listPage(ctx, s, "list apps", "apps", `SELECT `+appCols+`, count(*) OVER () FROM apps t`+f.clause(appOrder), f, scanApp)
}

// UpdateApp writes name, lifecycle, environment variables, ssh, revisions
// and metadata (not state or droplet: see SetAppState, SetAppDroplet).
func (s *Store) UpdateApp(ctx context.Context, a App) (App, error) {
	a.normalize()
	out, err := scanApp(s.pool.QueryRow(ctx, `UPDATE apps AS t SET name = $2, lifecycle_type = $3, buildpacks = $4, stack = $5,
			environment_variables = $6, enable_ssh = $7, revisions_enabled = $8, labels = $9, annotations = $10, updated_at = now()
		WHERE t.guid = $1 RETURNING `+appCols,
		a.GUID, a.Name, a.LifecycleType, a.Buildpacks, a.Stack, a.Env, a.EnableSSH, a.RevisionsEnabled, a.Metadata.Labels, a.Metadata.Annotations))
	return out, wrap("update app", err)
}

// UpdateAppEnv merges patch into the app's environment variables under a
// row lock; a nil value deletes the key. It returns the variables after.
func (s *Store) UpdateAppEnv(ctx context.Context, guid string, patch map[string]*string) (map[string]string, error) {
	var env map[string]string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT environment_variables FROM apps WHERE guid = $1 FOR UPDATE`, guid).Scan(&env); err != nil {
			return err
		}
		if env == nil {
			env = map[string]string{}
		}
		for k, v := range patch {
			if v == nil {
				delete(env, k)
			} else {
				env[k] = *v
			}
		}
		_, err := tx.Exec(ctx, `UPDATE apps SET environment_variables = $2, updated_at = now() WHERE guid = $1`, guid, env)
		return err
	})
	return env, wrap("update app environment", err)
}

// SetAppState sets an app's desired state.
func (s *Store) SetAppState(ctx context.Context, guid, state string) (App, error) {
	out, err := scanApp(s.pool.QueryRow(ctx, `UPDATE apps AS t SET state = $2, updated_at = now() WHERE t.guid = $1 RETURNING `+appCols, guid, state))
	return out, wrap("set app state", err)
}

// SetAppDroplet sets (droplet "" clears) an app's current droplet. The
// droplets milestone checks that the droplet is STAGED and belongs to the
// app before calling it.
func (s *Store) SetAppDroplet(ctx context.Context, guid, droplet string) (App, error) {
	var d any
	if droplet != "" {
		d = droplet
	}
	out, err := scanApp(s.pool.QueryRow(ctx, `UPDATE apps AS t SET droplet_guid = $2, updated_at = now() WHERE t.guid = $1 RETURNING `+appCols, guid, d))
	return out, wrap("set app droplet", err)
}

// DeleteApp deletes an app, its processes and its route mappings in one
// transaction. Packages, builds and droplets reference apps with ON DELETE
// CASCADE (or are deleted here once their blobs are gone).
func (s *Store) DeleteApp(ctx context.Context, guid string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM route_destinations WHERE app_guid = $1`, guid); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM apps WHERE guid = $1`, guid)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return nil
	})
	return wrap("delete app", err)
}

// StartedUsage is what the started processes of a space and of its
// organization use (for app quotas), leaving out the processes of app
// exclude ("" for none).
type StartedUsage struct {
	SpaceMemoryMB, SpaceInstances, SpaceLogRate int64
	OrgMemoryMB, OrgInstances, OrgLogRate       int64
}

// StartedUsage sums memory × instances, instances and log rate × instances
// of the started processes in space and in its organization. An unlimited
// log rate (-1) counts as 0 here; the quota check handles "unlimited".
func (s *Store) StartedUsage(ctx context.Context, space, exclude string) (StartedUsage, error) {
	var u StartedUsage
	var ex any
	if exclude != "" {
		ex = exclude
	}
	err := s.pool.QueryRow(ctx, `SELECT
			coalesce(sum(p.memory_in_mb::bigint * p.instances) FILTER (WHERE a.space_guid = $1::uuid), 0),
			coalesce(sum(p.instances) FILTER (WHERE a.space_guid = $1::uuid), 0),
			coalesce(sum(greatest(p.log_rate_limit, 0) * p.instances) FILTER (WHERE a.space_guid = $1::uuid), 0),
			coalesce(sum(p.memory_in_mb::bigint * p.instances), 0),
			coalesce(sum(p.instances), 0),
			coalesce(sum(greatest(p.log_rate_limit, 0) * p.instances), 0)
		FROM processes p JOIN apps a ON a.guid = p.app_guid JOIN spaces sp ON sp.guid = a.space_guid
		WHERE a.state = 'STARTED' AND ($2::uuid IS NULL OR a.guid <> $2::uuid)
		  AND sp.organization_guid = (SELECT organization_guid FROM spaces WHERE guid = $1::uuid)`, space, ex).
		Scan(&u.SpaceMemoryMB, &u.SpaceInstances, &u.SpaceLogRate, &u.OrgMemoryMB, &u.OrgInstances, &u.OrgLogRate)
	return u, wrap("started usage", err)
}

// OrgAppUsage returns the instances and memory (memory × instances) of the
// started processes in an organization (its usage summary).
func (s *Store) OrgAppUsage(ctx context.Context, org string) (instances, memoryMB int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT coalesce(sum(p.instances), 0), coalesce(sum(p.memory_in_mb::bigint * p.instances), 0)
		FROM processes p JOIN apps a ON a.guid = p.app_guid JOIN spaces sp ON sp.guid = a.space_guid
		WHERE a.state = 'STARTED' AND sp.organization_guid = $1`, org).Scan(&instances, &memoryMB)
	return instances, memoryMB, wrap("organization app usage", err)
}
