package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Package states and types (CF's).
const (
	PackageAwaitingUpload   = "AWAITING_UPLOAD"
	PackageProcessingUpload = "PROCESSING_UPLOAD"
	PackageReady            = "READY"
	PackageFailed           = "FAILED"

	PackageBits   = "bits"
	PackageDocker = "docker"
)

// Package is an app's bits: the zip `cf push` uploads, stored in the
// blobstore as packages/<GUID>.
type Package struct {
	GUID    string
	AppGUID string
	Type    string
	State   string
	// Error is set when State is FAILED.
	Error string
	// SHA256, SHA1 and Size describe the blob once READY.
	SHA256, SHA1 string
	Size         int64
	DockerImage  string
	Metadata     Metadata
	CreatedAt    time.Time
	UpdatedAt    time.Time

	// Read from the app.
	SpaceGUID string
}

const (
	packageFrom = ` FROM packages t JOIN apps pa ON pa.guid = t.app_guid`
	packageCols = `t.guid::text, t.app_guid::text, t.type, t.state, coalesce(t.error, ''), t.sha256, t.sha1, t.size, t.docker_image,
	t.labels, t.annotations, t.created_at, t.updated_at, pa.space_guid::text`
)

var packageOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at"}

func scanPackage(row pgx.Row, extra ...any) (Package, error) {
	var p Package
	dest := append([]any{&p.GUID, &p.AppGUID, &p.Type, &p.State, &p.Error, &p.SHA256, &p.SHA1, &p.Size, &p.DockerImage,
		&p.Metadata.Labels, &p.Metadata.Annotations, &p.CreatedAt, &p.UpdatedAt, &p.SpaceGUID}, extra...)
	err := row.Scan(dest...)
	p.Metadata.normalize()
	return p, err
}

// CreatePackage inserts p (ErrReferenced if the app is gone).
func (s *Store) CreatePackage(ctx context.Context, p Package) (Package, error) {
	if p.GUID == "" {
		p.GUID = uuid.NewString()
	}
	if p.Type == "" {
		p.Type = PackageBits
	}
	if p.State == "" {
		p.State = PackageAwaitingUpload
	}
	p.Metadata.normalize()
	out, err := scanPackage(s.pool.QueryRow(ctx, `WITH t AS (INSERT INTO packages (guid, app_guid, type, state, sha256, sha1, size, docker_image, labels, annotations)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *)
		SELECT `+packageCols+` FROM t JOIN apps pa ON pa.guid = t.app_guid`,
		p.GUID, p.AppGUID, p.Type, p.State, p.SHA256, p.SHA1, p.Size, p.DockerImage, p.Metadata.Labels, p.Metadata.Annotations))
	return out, wrap("create package", err)
}

// GetPackage returns one package.
func (s *Store) GetPackage(ctx context.Context, guid string) (Package, error) {
	out, err := scanPackage(s.pool.QueryRow(ctx, `SELECT `+packageCols+packageFrom+` WHERE t.guid = $1`, guid))
	return out, wrap("get package", err)
}

// ListPackages returns a page of packages; filters may refer to t
// (packages) and pa (the app).
func (s *Store) ListPackages(ctx context.Context, f Filter) ([]Package, int, error) {
	return listPage(ctx, s, "list packages", "packages t JOIN apps pa ON pa.guid = t.app_guid",
		`SELECT `+packageCols+`, count(*) OVER ()`+packageFrom+f.clause(packageOrder), f, scanPackage)
}

// PackageUpdate is a state change of a package.
type PackageUpdate struct {
	State string
	Error string
	// From, when set, is the state the package must be in (else
	// ErrNotFound): a compare-and-set.
	From         []string
	SHA256, SHA1 string
	Size         int64
}

// UpdatePackageState changes a package's state (and digests when set).
func (s *Store) UpdatePackageState(ctx context.Context, guid string, u PackageUpdate) (Package, error) {
	var from any
	if len(u.From) > 0 {
		from = u.From
	}
	var perr any
	if u.Error != "" {
		perr = u.Error
	}
	out, err := scanPackage(s.pool.QueryRow(ctx, `WITH t AS (UPDATE packages SET state = $2, error = $3,
			sha256 = CASE WHEN $5 = '' THEN sha256 ELSE $5 END, sha1 = CASE WHEN $6 = '' THEN sha1 ELSE $6 END,
			size = CASE WHEN $5 = '' THEN size ELSE $7 END, updated_at = now()
		WHERE guid = $1 AND ($4::text[] IS NULL OR state = ANY($4::text[])) RETURNING *)
		SELECT `+packageCols+` FROM t JOIN apps pa ON pa.guid = t.app_guid`,
		guid, u.State, perr, from, u.SHA256, u.SHA1, u.Size))
	return out, wrap("update package", err)
}

// UpdatePackageMetadata writes labels and annotations.
func (s *Store) UpdatePackageMetadata(ctx context.Context, guid string, m Metadata) (Package, error) {
	m.normalize()
	out, err := scanPackage(s.pool.QueryRow(ctx, `WITH t AS (UPDATE packages SET labels = $2, annotations = $3, updated_at = now()
		WHERE guid = $1 RETURNING *) SELECT `+packageCols+` FROM t JOIN apps pa ON pa.guid = t.app_guid`, guid, m.Labels, m.Annotations))
	return out, wrap("update package metadata", err)
}

// DeletePackage deletes a package row (its blob first, by the caller).
func (s *Store) DeletePackage(ctx context.Context, guid string) error {
	return s.execOne(ctx, "delete package", `DELETE FROM packages WHERE guid = $1`, guid)
}

// AppBlobs are the blob keys of an app's packages and droplets, for the
// app.delete job.
type AppBlobs struct {
	Packages []string
	Droplets []string
}

// AppBlobs lists the package and droplet guids of an app (their blob
// keys).
func (s *Store) AppBlobs(ctx context.Context, app string) (AppBlobs, error) {
	var b AppBlobs
	err := s.pool.QueryRow(ctx, `SELECT
			coalesce((SELECT array_agg(guid::text) FROM packages WHERE app_guid = $1 AND type = 'bits'), '{}'),
			coalesce((SELECT array_agg(guid::text) FROM droplets WHERE app_guid = $1), '{}')`, app).Scan(&b.Packages, &b.Droplets)
	return b, wrap("app blobs", err)
}
