package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Buildpack states, as CF names them.
const (
	BuildpackAwaitingUpload = "AWAITING_UPLOAD"
	BuildpackReady          = "READY"
	BuildpackFailed         = "FAILED"
)

// Buildpack is an admin buildpack. Positions are 1-based and dense: the
// first enabled buildpack is tried first when an app names none.
type Buildpack struct {
	GUID string
	Name string
	// Stack "" is any stack.
	Stack    string
	Position int
	Enabled  bool
	Locked   bool
	State    string
	// Filename is the uploaded zip's name; "" until uploaded.
	Filename string
	// SHA256 is the zip's digest; BlobKey its key in the buildpacks
	// bucket, TarballKey/TarballSHA256 the tarball staging downloads.
	SHA256        string
	BlobKey       string
	TarballKey    string
	TarballSHA256 string
	Metadata      Metadata
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

const buildpackCols = `t.guid::text, t.name, coalesce(t.stack, ''), t.position, t.enabled, t.locked, t.state, coalesce(t.filename, ''),
	t.sha256, t.blob_key, t.tarball_key, t.tarball_sha256, t.labels, t.annotations, t.created_at, t.updated_at`

var buildpackOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at", "position": "t.position"}

func scanBuildpack(row pgx.Row, extra ...any) (Buildpack, error) {
	var b Buildpack
	dest := append([]any{&b.GUID, &b.Name, &b.Stack, &b.Position, &b.Enabled, &b.Locked, &b.State, &b.Filename,
		&b.SHA256, &b.BlobKey, &b.TarballKey, &b.TarballSHA256, &b.Metadata.Labels, &b.Metadata.Annotations, &b.CreatedAt, &b.UpdatedAt}, extra...)
	err := row.Scan(dest...)
	b.Metadata.normalize()
	return b, err
}

// lockBuildpacks serialises position changes (every write of positions
// takes it first, so positions stay dense).
func lockBuildpacks(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `LOCK TABLE buildpacks IN SHARE ROW EXCLUSIVE MODE`)
	return err
}

// clampPosition bounds pos to 1…n (0 or less, or past the end: the end).
func clampPosition(pos, n int) int {
	if pos <= 0 || pos > n {
		return n
	}
	return pos
}

// CreateBuildpack inserts b at b.Position (1-based; 0 or past the end
// appends), shifting the buildpacks at and after it down. ErrConflict
// when the name and stack are taken.
func (s *Store) CreateBuildpack(ctx context.Context, b Buildpack) (Buildpack, error) {
	if b.GUID == "" {
		b.GUID = uuid.NewString()
	}
	b.Metadata.normalize()
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockBuildpacks(ctx, tx); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM buildpacks`).Scan(&n); err != nil {
			return err
		}
		pos := clampPosition(b.Position, n+1)
		if _, err := tx.Exec(ctx, `UPDATE buildpacks SET position = position + 1 WHERE position >= $1`, pos); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO buildpacks (guid, name, stack, position, enabled, locked, state, labels, annotations)
			VALUES ($1, $2, nullif($3, ''), $4, $5, $6, 'AWAITING_UPLOAD', $7, $8)`,
			b.GUID, b.Name, b.Stack, pos, b.Enabled, b.Locked, b.Metadata.Labels, b.Metadata.Annotations)
		return err
	})
	if err != nil {
		return Buildpack{}, wrap("create buildpack", err)
	}
	return s.GetBuildpack(ctx, b.GUID)
}

// GetBuildpack returns one buildpack.
func (s *Store) GetBuildpack(ctx context.Context, guid string) (Buildpack, error) {
	out, err := scanBuildpack(s.pool.QueryRow(ctx, `SELECT `+buildpackCols+` FROM buildpacks t WHERE t.guid = $1`, guid))
	return out, wrap("get buildpack", err)
}

// ListBuildpacks returns a page of buildpacks and the total count.
func (s *Store) ListBuildpacks(ctx context.Context, f Filter) ([]Buildpack, int, error) {
	return listPage(ctx, s, "list buildpacks", "buildpacks", `SELECT `+buildpackCols+`, count(*) OVER () FROM buildpacks t`+f.clause(buildpackOrder), f, scanBuildpack)
}

// UpdateBuildpack writes name, stack, enabled, locked and metadata, and
// moves the buildpack to b.Position (clamped to 1…count), shifting those
// in between, in one transaction.
func (s *Store) UpdateBuildpack(ctx context.Context, b Buildpack) (Buildpack, error) {
	b.Metadata.normalize()
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockBuildpacks(ctx, tx); err != nil {
			return err
		}
		var old, n int
		if err := tx.QueryRow(ctx, `SELECT position, (SELECT count(*) FROM buildpacks) FROM buildpacks WHERE guid = $1`, b.GUID).Scan(&old, &n); err != nil {
			return err
		}
		pos := clampPosition(b.Position, n)
		if pos < old {
			if _, err := tx.Exec(ctx, `UPDATE buildpacks SET position = position + 1 WHERE position >= $1 AND position < $2`, pos, old); err != nil {
				return err
			}
		} else if pos > old {
			if _, err := tx.Exec(ctx, `UPDATE buildpacks SET position = position - 1 WHERE position > $1 AND position <= $2`, old, pos); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `UPDATE buildpacks SET name = $2, stack = nullif($3, ''), position = $4, enabled = $5, locked = $6,
			labels = $7, annotations = $8, updated_at = now() WHERE guid = $1`,
			b.GUID, b.Name, b.Stack, pos, b.Enabled, b.Locked, b.Metadata.Labels, b.Metadata.Annotations)
		return err
	})
	if err != nil {
		return Buildpack{}, wrap("update buildpack", err)
	}
	return s.GetBuildpack(ctx, b.GUID)
}

// DeleteBuildpack deletes a buildpack and closes the gap in positions.
func (s *Store) DeleteBuildpack(ctx context.Context, guid string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockBuildpacks(ctx, tx); err != nil {
			return err
		}
		var pos int
		if err := tx.QueryRow(ctx, `DELETE FROM buildpacks WHERE guid = $1 RETURNING position`, guid).Scan(&pos); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE buildpacks SET position = position - 1 WHERE position > $1`, pos)
		return err
	})
	return wrap("delete buildpack", err)
}

// BuildpackBits is an uploaded buildpack zip and its tarball.
type BuildpackBits struct {
	Filename, SHA256, BlobKey, TarballKey, TarballSHA256 string
}

// SetBuildpackBits records an upload and makes the buildpack READY.
func (s *Store) SetBuildpackBits(ctx context.Context, guid string, bits BuildpackBits) (Buildpack, error) {
	out, err := scanBuildpack(s.pool.QueryRow(ctx, `UPDATE buildpacks AS t SET filename = $2, sha256 = $3, blob_key = $4,
		tarball_key = $5, tarball_sha256 = $6, state = 'READY', updated_at = now() WHERE t.guid = $1 RETURNING `+buildpackCols,
		guid, bits.Filename, bits.SHA256, bits.BlobKey, bits.TarballKey, bits.TarballSHA256))
	return out, wrap("set buildpack bits", err)
}

// BuildpackByName returns the buildpack called name for stack: the one of
// that stack, else the stack-less one. ErrNotFound if neither exists.
func (s *Store) BuildpackByName(ctx context.Context, name, stack string) (Buildpack, error) {
	out, err := scanBuildpack(s.pool.QueryRow(ctx, `SELECT `+buildpackCols+` FROM buildpacks t
		WHERE t.name = $1 AND (t.stack IS NULL OR t.stack = $2) ORDER BY t.stack IS NULL LIMIT 1`, name, stack))
	return out, wrap("buildpack by name", err)
}

// StagingBuildpacks returns the enabled, READY buildpacks for stack (or
// any stack) in position order: the detection order of an app that names
// no buildpack.
func (s *Store) StagingBuildpacks(ctx context.Context, stack string) ([]Buildpack, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+buildpackCols+` FROM buildpacks t
		WHERE t.enabled AND t.state = 'READY' AND (t.stack IS NULL OR t.stack = $1) ORDER BY t.position`, stack)
	if err != nil {
		return nil, wrap("staging buildpacks", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Buildpack, error) { return scanBuildpack(r) })
	return out, wrap("staging buildpacks", err)
}

// CountBuildpacks returns how many buildpacks exist.
func (s *Store) CountBuildpacks(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM buildpacks`).Scan(&n)
	return n, wrap("count buildpacks", err)
}
