package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Deployment status values and reasons, as CF names them.
const (
	DeploymentActive    = "ACTIVE"
	DeploymentFinalized = "FINALIZED"

	DeploymentDeploying  = "DEPLOYING"
	DeploymentDeployed   = "DEPLOYED"
	DeploymentCanceling  = "CANCELING"
	DeploymentCanceled   = "CANCELED"
	DeploymentSuperseded = "SUPERSEDED"
)

// Deployment is a rolling deployment of an app's droplet.
type Deployment struct {
	GUID    string
	AppGUID string
	// State is CF's deprecated single field (DEPLOYING, DEPLOYED,
	// CANCELING, CANCELED).
	State        string
	StatusValue  string
	StatusReason string
	Strategy     string
	MaxInFlight  int
	DropletGUID  string
	// PreviousDropletGUID is the app's droplet before ("" for none).
	PreviousDropletGUID string
	// ProcessGUID is the web process being rolled.
	ProcessGUID      string
	WebInstances     int
	LastStatusChange time.Time
	Metadata         Metadata
	CreatedAt        time.Time
	UpdatedAt        time.Time

	// Read from the app.
	SpaceGUID string
}

const deploymentCols = `t.guid::text, t.app_guid::text, t.state, t.status_value, t.status_reason, t.strategy, t.max_in_flight,
	t.droplet_guid::text, coalesce(t.previous_droplet_guid::text, ''), coalesce(t.process_guid::text, ''), t.web_instances,
	t.last_status_change, t.labels, t.annotations, t.created_at, t.updated_at, pa.space_guid::text`

const deploymentFrom = ` FROM deployments t JOIN apps pa ON pa.guid = t.app_guid`

var deploymentOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at"}

func scanDeployment(row pgx.Row, extra ...any) (Deployment, error) {
	var d Deployment
	dest := append([]any{&d.GUID, &d.AppGUID, &d.State, &d.StatusValue, &d.StatusReason, &d.Strategy, &d.MaxInFlight,
		&d.DropletGUID, &d.PreviousDropletGUID, &d.ProcessGUID, &d.WebInstances,
		&d.LastStatusChange, &d.Metadata.Labels, &d.Metadata.Annotations, &d.CreatedAt, &d.UpdatedAt, &d.SpaceGUID}, extra...)
	err := row.Scan(dest...)
	d.Metadata.normalize()
	return d, err
}

// CreateDeployment supersedes the app's ACTIVE deployment (FINALIZED,
// SUPERSEDED), inserts d as ACTIVE/DEPLOYING and makes d's droplet the
// app's current droplet, in one transaction. The droplet must be a STAGED
// droplet of the app (else ErrDropletNotAssignable). It returns the
// deployment and the superseded one's guid ("" for none).
func (s *Store) CreateDeployment(ctx context.Context, d Deployment) (Deployment, string, error) {
	if d.GUID == "" {
		d.GUID = uuid.NewString()
	}
	d.Metadata.normalize()
	var superseded string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var prev string
		if err := tx.QueryRow(ctx, `SELECT coalesce(droplet_guid::text, '') FROM apps WHERE guid = $1 FOR UPDATE`, d.AppGUID).Scan(&prev); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `UPDATE deployments SET status_value = 'FINALIZED', status_reason = 'SUPERSEDED', state = 'DEPLOYED',
			last_status_change = now(), updated_at = now() WHERE app_guid = $1 AND status_value = 'ACTIVE' RETURNING guid::text`, d.AppGUID).Scan(&superseded)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE apps AS t SET droplet_guid = dr.guid, state = 'STARTED', updated_at = now()
			FROM droplets dr WHERE t.guid = $1 AND dr.guid = $2 AND dr.app_guid = t.guid AND dr.state = 'STAGED'`, d.AppGUID, d.DropletGUID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrDropletNotAssignable
		}
		_, err = tx.Exec(ctx, `INSERT INTO deployments (guid, app_guid, strategy, max_in_flight, droplet_guid, previous_droplet_guid,
				process_guid, web_instances, labels, annotations)
			VALUES ($1, $2, $3, $4, $5, nullif($6, '')::uuid, nullif($7, '')::uuid, $8, $9, $10)`,
			d.GUID, d.AppGUID, d.Strategy, d.MaxInFlight, d.DropletGUID, prev, d.ProcessGUID, d.WebInstances,
			d.Metadata.Labels, d.Metadata.Annotations)
		return err
	})
	if errors.Is(err, ErrDropletNotAssignable) {
		return Deployment{}, "", err
	}
	if err != nil {
		return Deployment{}, "", wrap("create deployment", err)
	}
	out, err := s.GetDeployment(ctx, d.GUID)
	return out, superseded, err
}

// GetDeployment returns one deployment.
func (s *Store) GetDeployment(ctx context.Context, guid string) (Deployment, error) {
	out, err := scanDeployment(s.pool.QueryRow(ctx, `SELECT `+deploymentCols+deploymentFrom+` WHERE t.guid = $1`, guid))
	return out, wrap("get deployment", err)
}

// ListDeployments returns a page of deployments and the total count.
// Filters may refer to t (deployments) and pa (its app).
func (s *Store) ListDeployments(ctx context.Context, f Filter) ([]Deployment, int, error) {
	return listPage(ctx, s, "list deployments", "deployments", `SELECT `+deploymentCols+`, count(*) OVER ()`+deploymentFrom+f.clause(deploymentOrder), f, scanDeployment)
}

// ActiveDeployments returns every ACTIVE deployment (the updater's work).
func (s *Store) ActiveDeployments(ctx context.Context) ([]Deployment, error) {
	f := Filter{OrderBy: "created_at"}
	f.Where("t.status_value = ?", DeploymentActive)
	out, _, err := s.ListDeployments(ctx, f)
	return out, err
}

// ErrDeploymentFinished is returned when a FINALIZED deployment would
// change.
var ErrDeploymentFinished = errors.New("deployment is finalized")

// SetDeploymentStatus moves an ACTIVE deployment to (value, reason) and
// state; a FINALIZED one is left alone (ErrDeploymentFinished).
func (s *Store) SetDeploymentStatus(ctx context.Context, guid, state, value, reason string) (Deployment, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE deployments SET state = $2, status_value = $3, status_reason = $4,
		last_status_change = now(), updated_at = now() WHERE guid = $1 AND status_value = 'ACTIVE'`, guid, state, value, reason)
	if err != nil {
		return Deployment{}, wrap("set deployment status", err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := s.GetDeployment(ctx, guid); err != nil {
			return Deployment{}, err
		}
		return Deployment{}, ErrDeploymentFinished
	}
	return s.GetDeployment(ctx, guid)
}

// CancelDeployment finalizes an ACTIVE deployment as CANCELED and gives
// the app back its previous droplet (when it had one), in one
// transaction.
func (s *Store) CancelDeployment(ctx context.Context, guid string) (Deployment, error) {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var app, prev string
		err := tx.QueryRow(ctx, `UPDATE deployments SET state = 'CANCELED', status_value = 'FINALIZED', status_reason = 'CANCELED',
			last_status_change = now(), updated_at = now() WHERE guid = $1 AND status_value = 'ACTIVE'
			RETURNING app_guid::text, coalesce(previous_droplet_guid::text, '')`, guid).Scan(&app, &prev)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrDeploymentFinished
		}
		if err != nil {
			return err
		}
		if prev == "" {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE apps AS t SET droplet_guid = dr.guid, updated_at = now()
			FROM droplets dr WHERE t.guid = $1 AND dr.guid = $2 AND dr.app_guid = t.guid AND dr.state = 'STAGED'`, app, prev)
		return err
	})
	if errors.Is(err, ErrDeploymentFinished) {
		if _, gerr := s.GetDeployment(ctx, guid); gerr != nil {
			return Deployment{}, gerr
		}
		return Deployment{}, err
	}
	if err != nil {
		return Deployment{}, wrap("cancel deployment", err)
	}
	return s.GetDeployment(ctx, guid)
}

// UpdateDeploymentMetadata writes a deployment's labels and annotations.
func (s *Store) UpdateDeploymentMetadata(ctx context.Context, guid string, m Metadata) (Deployment, error) {
	m.normalize()
	if err := s.execOne(ctx, "update deployment", `UPDATE deployments SET labels = $2, annotations = $3, updated_at = now() WHERE guid = $1`,
		guid, m.Labels, m.Annotations); err != nil {
		return Deployment{}, err
	}
	return s.GetDeployment(ctx, guid)
}

// NewestStagedDroplet returns the guid of the app's newest STAGED droplet.
func (s *Store) NewestStagedDroplet(ctx context.Context, app string) (string, error) {
	var g string
	err := s.pool.QueryRow(ctx, `SELECT guid::text FROM droplets WHERE app_guid = $1 AND state = 'STAGED' ORDER BY created_at DESC LIMIT 1`, app).Scan(&g)
	return g, wrap("newest staged droplet", err)
}

// Rollout is an ACTIVE deployment as the Diego sync sees it.
type Rollout struct {
	// DeploymentGUID names the process's new LRP version.
	DeploymentGUID string
	MaxInFlight    int
}

// RolloutFor returns the ACTIVE deployment rolling processGUID onto its
// started app's current droplet; a zero Rollout when none is (the Diego
// sync then keeps one LRP version, as always).
func (s *Store) RolloutFor(ctx context.Context, processGUID string) (Rollout, error) {
	var r Rollout
	err := s.pool.QueryRow(ctx, `SELECT d.guid::text, d.max_in_flight FROM deployments d JOIN apps a ON a.guid = d.app_guid
		WHERE d.process_guid = $1 AND d.status_value = 'ACTIVE' AND d.droplet_guid = a.droplet_guid AND a.state = 'STARTED'`,
		processGUID).Scan(&r.DeploymentGUID, &r.MaxInFlight)
	if errors.Is(err, pgx.ErrNoRows) {
		return Rollout{}, nil
	}
	return r, wrap("rollout for process", err)
}
