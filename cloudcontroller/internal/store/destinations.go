package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Destination sends a route's traffic to a process of an app.
type Destination struct {
	GUID        string
	RouteGUID   string
	AppGUID     string
	ProcessType string
	Port        int
	Protocol    string
	Weight      *int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const destCols = "guid::text, route_guid::text, app_guid, process_type, port, protocol, weight, created_at, updated_at"

func scanDestination(row pgx.Row) (Destination, error) {
	var d Destination
	err := row.Scan(&d.GUID, &d.RouteGUID, &d.AppGUID, &d.ProcessType, &d.Port, &d.Protocol, &d.Weight, &d.CreatedAt, &d.UpdatedAt)
	return d, err
}

// RouteDestinations returns the destinations of routes by route guid,
// each list ordered by guid (as CF presents them).
func (s *Store) RouteDestinations(ctx context.Context, routes []string) (map[string][]Destination, error) {
	out := map[string][]Destination{}
	if len(routes) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+destCols+` FROM route_destinations WHERE route_guid::text = ANY($1) ORDER BY guid`, routes)
	if err != nil {
		return nil, wrap("list destinations", err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDestination(rows)
		if err != nil {
			return nil, wrap("list destinations", err)
		}
		out[d.RouteGUID] = append(out[d.RouteGUID], d)
	}
	return out, wrap("list destinations", rows.Err())
}

// DestinationChange is what UpdateDestinations applies: destinations to
// delete (by guid) and to add.
type DestinationChange struct {
	Delete []string
	Add    []Destination
}

// UpdateDestinations changes a route's destinations atomically: decide
// gets the current destinations (with the route locked against concurrent
// changes) and returns the change, or an error that aborts it. It returns
// the destinations afterwards.
func (s *Store) UpdateDestinations(ctx context.Context, route string, decide func(current []Destination) (DestinationChange, error)) ([]Destination, error) {
	var after []Destination
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var g string
		if err := tx.QueryRow(ctx, `SELECT guid::text FROM routes WHERE guid = $1 FOR UPDATE`, route).Scan(&g); err != nil {
			return err
		}
		current, err := destinationsTx(ctx, tx, route)
		if err != nil {
			return err
		}
		change, err := decide(current)
		if err != nil {
			return err
		}
		if len(change.Delete) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM route_destinations WHERE route_guid = $1 AND guid::text = ANY($2)`, route, change.Delete); err != nil {
				return err
			}
		}
		for _, d := range change.Add {
			if d.GUID == "" {
				d.GUID = uuid.NewString()
			}
			if _, err := tx.Exec(ctx, `INSERT INTO route_destinations (guid, route_guid, app_guid, process_type, port, protocol, weight)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, d.GUID, route, d.AppGUID, d.ProcessType, d.Port, d.Protocol, d.Weight); err != nil {
				return err
			}
		}
		if len(change.Delete) > 0 || len(change.Add) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE routes SET updated_at = now() WHERE guid = $1`, route); err != nil {
				return err
			}
		}
		after, err = destinationsTx(ctx, tx, route)
		return err
	})
	return after, wrap("update destinations", err)
}

func destinationsTx(ctx context.Context, tx pgx.Tx, route string) ([]Destination, error) {
	rows, err := tx.Query(ctx, `SELECT `+destCols+` FROM route_destinations WHERE route_guid = $1 ORDER BY guid`, route)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Destination, error) { return scanDestination(r) })
}

// UpdateDestinationProtocol sets one destination's protocol.
func (s *Store) UpdateDestinationProtocol(ctx context.Context, route, guid, protocol string) (Destination, error) {
	out, err := scanDestination(s.pool.QueryRow(ctx, `UPDATE route_destinations SET protocol = $3, updated_at = now()
		WHERE route_guid = $1 AND guid = $2 RETURNING `+destCols, route, guid, protocol))
	return out, wrap("update destination", err)
}

// GetDestination returns one destination of a route.
func (s *Store) GetDestination(ctx context.Context, route, guid string) (Destination, error) {
	out, err := scanDestination(s.pool.QueryRow(ctx, `SELECT `+destCols+` FROM route_destinations WHERE route_guid = $1 AND guid = $2`, route, guid))
	return out, wrap("get destination", err)
}
