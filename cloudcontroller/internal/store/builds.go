package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Build is one staging of a package into a droplet.
type Build struct {
	GUID        string
	AppGUID     string
	PackageGUID string
	// DropletGUID is the droplet the build produces (created STAGING with
	// the build).
	DropletGUID string
	State       string
	// Error is CF's "<id> - <message>" when FAILED.
	Error         string
	LifecycleType string
	Buildpacks    []string
	Stack         string
	// StagingMemoryMB and StagingDiskMB are the staging task's limits.
	StagingMemoryMB int
	StagingDiskMB   int
	CreatedBy       BuildCreator
	Metadata        Metadata
	CreatedAt       time.Time
	UpdatedAt       time.Time

	// Read from the app.
	SpaceGUID string
}

// BuildCreator is the user who created a build.
type BuildCreator struct {
	GUID, Name, Email string
}

const (
	buildFrom = ` FROM builds t JOIN apps pa ON pa.guid = t.app_guid`
	buildCols = `t.guid::text, t.app_guid::text, t.package_guid::text, coalesce(t.droplet_guid::text, ''), t.state, coalesce(t.error, ''),
	t.lifecycle_type, t.buildpacks, t.stack, t.staging_memory_in_mb, t.staging_disk_in_mb,
	t.created_by_guid, t.created_by_name, t.created_by_email, t.labels, t.annotations, t.created_at, t.updated_at, pa.space_guid::text`
)

var buildOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at"}

func scanBuild(row pgx.Row, extra ...any) (Build, error) {
	var b Build
	dest := append([]any{&b.GUID, &b.AppGUID, &b.PackageGUID, &b.DropletGUID, &b.State, &b.Error,
		&b.LifecycleType, &b.Buildpacks, &b.Stack, &b.StagingMemoryMB, &b.StagingDiskMB,
		&b.CreatedBy.GUID, &b.CreatedBy.Name, &b.CreatedBy.Email,
		&b.Metadata.Labels, &b.Metadata.Annotations, &b.CreatedAt, &b.UpdatedAt, &b.SpaceGUID}, extra...)
	err := row.Scan(dest...)
	b.Metadata.normalize()
	if b.Buildpacks == nil {
		b.Buildpacks = []string{}
	}
	return b, err
}

// CreateBuild inserts a STAGING build and its STAGING droplet in one
// transaction. A STAGING build of the app older than staleAfter is failed
// first (its task was lost); a younger one makes it ErrConflict (CF:
// one staging build per app).
func (s *Store) CreateBuild(ctx context.Context, b Build, staleAfter time.Duration) (Build, error) {
	if b.GUID == "" {
		b.GUID = uuid.NewString()
	}
	if b.Buildpacks == nil {
		b.Buildpacks = []string{}
	}
	b.Metadata.normalize()
	var out Build
	err := s.tx(ctx, func(tx pgx.Tx) error {
		const lost = "StagingError - Staging error: staging failed"
		if _, err := tx.Exec(ctx, `UPDATE droplets SET state = 'FAILED', error = $3, updated_at = now()
			WHERE guid IN (SELECT droplet_guid FROM builds WHERE app_guid = $1 AND state = 'STAGING' AND created_at < now() - $2::interval)`,
			b.AppGUID, staleAfter.String(), lost); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE builds SET state = 'FAILED', error = $3, updated_at = now()
			WHERE app_guid = $1 AND state = 'STAGING' AND created_at < now() - $2::interval`, b.AppGUID, staleAfter.String(), lost); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO builds (guid, app_guid, package_guid, state, lifecycle_type, buildpacks, stack,
				staging_memory_in_mb, staging_disk_in_mb, created_by_guid, created_by_name, created_by_email, labels, annotations)
			VALUES ($1, $2, $3, 'STAGING', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			b.GUID, b.AppGUID, b.PackageGUID, b.LifecycleType, b.Buildpacks, b.Stack, b.StagingMemoryMB, b.StagingDiskMB,
			b.CreatedBy.GUID, b.CreatedBy.Name, b.CreatedBy.Email, b.Metadata.Labels, b.Metadata.Annotations); err != nil {
			return err
		}
		droplet, err := newDroplet(ctx, tx, b)
		if err != nil {
			return err
		}
		out, err = scanBuild(tx.QueryRow(ctx, `WITH t AS (UPDATE builds SET droplet_guid = $2 WHERE guid = $1 RETURNING *)
			SELECT `+buildCols+` FROM t JOIN apps pa ON pa.guid = t.app_guid`, b.GUID, droplet))
		return err
	})
	return out, wrap("create build", err)
}

// GetBuild returns one build.
func (s *Store) GetBuild(ctx context.Context, guid string) (Build, error) {
	out, err := scanBuild(s.pool.QueryRow(ctx, `SELECT `+buildCols+buildFrom+` WHERE t.guid = $1`, guid))
	return out, wrap("get build", err)
}

// ListBuilds returns a page of builds; filters may refer to t (builds) and
// pa (the app).
func (s *Store) ListBuilds(ctx context.Context, f Filter) ([]Build, int, error) {
	return listPage(ctx, s, "list builds", "builds t JOIN apps pa ON pa.guid = t.app_guid",
		`SELECT `+buildCols+`, count(*) OVER ()`+buildFrom+f.clause(buildOrder), f, scanBuild)
}

// UpdateBuildMetadata writes labels and annotations.
func (s *Store) UpdateBuildMetadata(ctx context.Context, guid string, m Metadata) (Build, error) {
	m.normalize()
	out, err := scanBuild(s.pool.QueryRow(ctx, `WITH t AS (UPDATE builds SET labels = $2, annotations = $3, updated_at = now()
		WHERE guid = $1 RETURNING *) SELECT `+buildCols+` FROM t JOIN apps pa ON pa.guid = t.app_guid`, guid, m.Labels, m.Annotations))
	return out, wrap("update build metadata", err)
}

// ErrBuildFinished is returned by CompleteBuild for a build that is no
// longer STAGING (a repeated callback).
var ErrBuildFinished = errors.New("build is not staging")

// StagingOutcome is how a staging ended: Error "" is success with
// Result.
type StagingOutcome struct {
	Error  string
	Result DropletResult
}

// CompleteBuild records the end of a STAGING build and its droplet in one
// transaction: STAGED with the result, or FAILED with the error. A build
// already finished is ErrBuildFinished and changes nothing.
func (s *Store) CompleteBuild(ctx context.Context, guid string, o StagingOutcome) (Build, error) {
	var out Build
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var state, droplet string
		if err := tx.QueryRow(ctx, `SELECT state, coalesce(droplet_guid::text, '') FROM builds WHERE guid = $1 FOR UPDATE`, guid).Scan(&state, &droplet); err != nil {
			return err
		}
		if state != StateStaging {
			return ErrBuildFinished
		}
		newState, perr := StateStaged, any(nil)
		if o.Error != "" {
			newState, perr = StateFailed, o.Error
		}
		r := o.Result
		if r.ProcessTypes == nil {
			r.ProcessTypes = map[string]string{}
		}
		if r.Buildpacks == nil {
			r.Buildpacks = []DropletBuildpack{}
		}
		if droplet != "" {
			if _, err := tx.Exec(ctx, `UPDATE droplets SET state = $2, error = $3, process_types = $4, buildpacks = $5,
					execution_metadata = $6, sha256 = $7, size = $8, updated_at = now() WHERE guid = $1`,
				droplet, newState, perr, r.ProcessTypes, r.Buildpacks, r.ExecutionMetadata, r.SHA256, r.Size); err != nil {
				return err
			}
		}
		var err error
		out, err = scanBuild(tx.QueryRow(ctx, `WITH t AS (UPDATE builds SET state = $2, error = $3, updated_at = now() WHERE guid = $1 RETURNING *)
			SELECT `+buildCols+` FROM t JOIN apps pa ON pa.guid = t.app_guid`, guid, newState, perr))
		return err
	})
	if errors.Is(err, ErrBuildFinished) {
		return out, err
	}
	return out, wrap("complete build", err)
}
