package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Droplet and build states (CF's).
const (
	StateStaging = "STAGING"
	StateStaged  = "STAGED"
	StateFailed  = "FAILED"
)

// DropletBuildpack is one buildpack that staged a droplet, in CF's shape.
type DropletBuildpack struct {
	Name          string  `json:"name"`
	BuildpackName *string `json:"buildpack_name"`
	DetectOutput  *string `json:"detect_output"`
	Version       *string `json:"version"`
}

// Droplet is a staged app: a tarball in the blobstore (droplets/<GUID>)
// with what staging found out.
type Droplet struct {
	GUID        string
	AppGUID     string
	PackageGUID string
	BuildGUID   string
	State       string
	// Error is CF's "<id> - <message>" when FAILED.
	Error             string
	LifecycleType     string
	Stack             string
	ProcessTypes      map[string]string
	Buildpacks        []DropletBuildpack
	ExecutionMetadata string
	// SHA256 and Size describe the blob once STAGED.
	SHA256    string
	Size      int64
	Metadata  Metadata
	CreatedAt time.Time
	UpdatedAt time.Time

	// Read from the app.
	SpaceGUID string
}

const (
	dropletFrom = ` FROM droplets t JOIN apps pa ON pa.guid = t.app_guid`
	dropletCols = `t.guid::text, t.app_guid::text, coalesce(t.package_guid::text, ''), coalesce(t.build_guid::text, ''), t.state,
	coalesce(t.error, ''), t.lifecycle_type, t.stack, t.process_types, t.buildpacks, t.execution_metadata, t.sha256, t.size,
	t.labels, t.annotations, t.created_at, t.updated_at, pa.space_guid::text`
)

var dropletOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at"}

func scanDroplet(row pgx.Row, extra ...any) (Droplet, error) {
	var d Droplet
	dest := append([]any{&d.GUID, &d.AppGUID, &d.PackageGUID, &d.BuildGUID, &d.State, &d.Error, &d.LifecycleType, &d.Stack,
		&d.ProcessTypes, &d.Buildpacks, &d.ExecutionMetadata, &d.SHA256, &d.Size,
		&d.Metadata.Labels, &d.Metadata.Annotations, &d.CreatedAt, &d.UpdatedAt, &d.SpaceGUID}, extra...)
	err := row.Scan(dest...)
	d.normalize()
	return d, err
}

func (d *Droplet) normalize() {
	d.Metadata.normalize()
	if d.ProcessTypes == nil {
		d.ProcessTypes = map[string]string{}
	}
	if d.Buildpacks == nil {
		d.Buildpacks = []DropletBuildpack{}
	}
}

func nullUUID(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// GetDroplet returns one droplet.
func (s *Store) GetDroplet(ctx context.Context, guid string) (Droplet, error) {
	out, err := scanDroplet(s.pool.QueryRow(ctx, `SELECT `+dropletCols+dropletFrom+` WHERE t.guid = $1`, guid))
	return out, wrap("get droplet", err)
}

// ListDroplets returns a page of droplets; filters may refer to t
// (droplets) and pa (the app).
func (s *Store) ListDroplets(ctx context.Context, f Filter) ([]Droplet, int, error) {
	return listPage(ctx, s, "list droplets", "droplets t JOIN apps pa ON pa.guid = t.app_guid",
		`SELECT `+dropletCols+`, count(*) OVER ()`+dropletFrom+f.clause(dropletOrder), f, scanDroplet)
}

// DropletResult is what a finished staging records on its droplet.
type DropletResult struct {
	ProcessTypes      map[string]string
	Buildpacks        []DropletBuildpack
	ExecutionMetadata string
	SHA256            string
	Size              int64
}

// UpdateDropletMetadata writes labels and annotations.
func (s *Store) UpdateDropletMetadata(ctx context.Context, guid string, m Metadata) (Droplet, error) {
	m.normalize()
	out, err := scanDroplet(s.pool.QueryRow(ctx, `WITH t AS (UPDATE droplets SET labels = $2, annotations = $3, updated_at = now()
		WHERE guid = $1 RETURNING *) SELECT `+dropletCols+` FROM t JOIN apps pa ON pa.guid = t.app_guid`, guid, m.Labels, m.Annotations))
	return out, wrap("update droplet metadata", err)
}

// DeleteDroplet deletes a droplet row and unsets it as any app's current
// droplet, in one transaction (its blob first, by the caller).
func (s *Store) DeleteDroplet(ctx context.Context, guid string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE apps SET droplet_guid = NULL, updated_at = now() WHERE droplet_guid = $1`, guid); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM droplets WHERE guid = $1`, guid)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return nil
	})
	return wrap("delete droplet", err)
}

// ErrDropletNotAssignable is returned by AssignDroplet when the droplet
// does not exist, is not STAGED or belongs to another app.
var ErrDropletNotAssignable = errors.New("droplet is not a staged droplet of this app")

// AssignDroplet makes droplet the app's current droplet if it is a STAGED
// droplet of the app (else ErrDropletNotAssignable), checked and set in
// one statement.
func (s *Store) AssignDroplet(ctx context.Context, app, droplet string) (App, error) {
	out, err := scanApp(s.pool.QueryRow(ctx, `UPDATE apps AS t SET droplet_guid = d.guid, updated_at = now()
		FROM droplets d WHERE t.guid = $1 AND d.guid = $2 AND d.app_guid = t.guid AND d.state = 'STAGED'
		RETURNING `+appCols, app, droplet))
	if err = wrap("assign droplet", err); errors.Is(err, ErrNotFound) {
		return out, ErrDropletNotAssignable
	}
	return out, err
}

// DropletDownload is what a cell needs to fetch a droplet: the blob's key
// in the droplets bucket and its SHA-256 (for the download action's
// checksum and cache key).
type DropletDownload struct {
	DropletGUID string
	// BlobKey is the key in the droplets bucket (the droplet's guid).
	BlobKey string
	SHA256  string
	Stack   string
	// ProcessTypes are the droplet's detected start commands by type.
	ProcessTypes      map[string]string
	ExecutionMetadata string
}

// DropletForProcess returns the current droplet of a process's app, for
// the Diego sync to build the LRP (it mints a signed GET URL for
// BlobKey). ErrNotFound when the app has no current droplet or the
// droplet is not STAGED.
func (s *Store) DropletForProcess(ctx context.Context, processGUID string) (DropletDownload, error) {
	var d DropletDownload
	err := s.pool.QueryRow(ctx, `SELECT d.guid::text, d.sha256, d.stack, d.process_types, d.execution_metadata
		FROM processes p JOIN apps a ON a.guid = p.app_guid JOIN droplets d ON d.guid = a.droplet_guid
		WHERE p.guid = $1 AND d.state = 'STAGED'`, processGUID).Scan(&d.DropletGUID, &d.SHA256, &d.Stack, &d.ProcessTypes, &d.ExecutionMetadata)
	d.BlobKey = d.DropletGUID
	return d, wrap("droplet for process", err)
}

// newDroplet inserts a STAGING droplet for a build, in tx.
func newDroplet(ctx context.Context, tx pgx.Tx, b Build) (string, error) {
	guid := uuid.NewString()
	_, err := tx.Exec(ctx, `INSERT INTO droplets (guid, app_guid, package_guid, build_guid, state, lifecycle_type, stack)
		VALUES ($1, $2, $3, $4, 'STAGING', $5, $6)`, guid, b.AppGUID, nullUUID(b.PackageGUID), b.GUID, b.LifecycleType, b.Stack)
	return guid, err
}
