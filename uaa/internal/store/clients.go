package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Client is an OAuth client registration.
type Client struct {
	ID string
	// SecretHash is nil for public clients such as cf.
	SecretHash   []byte
	Name         string
	Scope        []string
	Authorities  []string
	GrantTypes   []string
	RedirectURIs []string
	// AutoApprove lists the scopes granted without asking the user ("true"
	// for all, as in UAA).
	AutoApprove []string
	// AccessTokenValidity and RefreshTokenValidity are in seconds; 0
	// means the server's default.
	AccessTokenValidity  int
	RefreshTokenValidity int
	// LastModified is set by the store.
	LastModified time.Time
}

const clientCols = `id, secret_hash, name, scope, authorities, grant_types, redirect_uris, autoapprove,
	access_token_validity, refresh_token_validity, last_modified`

func scanClient(row pgx.Row) (Client, error) {
	var c Client
	err := row.Scan(&c.ID, &c.SecretHash, &c.Name, &c.Scope, &c.Authorities, &c.GrantTypes, &c.RedirectURIs,
		&c.AutoApprove, &c.AccessTokenValidity, &c.RefreshTokenValidity, &c.LastModified)
	c.LastModified = c.LastModified.UTC()
	return c, err
}

// normalize checks c and makes its nil slices empty.
func (c *Client) normalize() error {
	if err := checkKey("client id", c.ID); err != nil {
		return err
	}
	c.Scope, c.Authorities, c.GrantTypes = orEmpty(c.Scope), orEmpty(c.Authorities), orEmpty(c.GrantTypes)
	c.RedirectURIs, c.AutoApprove = orEmpty(c.RedirectURIs), orEmpty(c.AutoApprove)
	return nil
}

// CreateClient stores a new client and returns it as stored. ErrConflict if
// the ID is taken.
func (s *Store) CreateClient(ctx context.Context, c Client) (Client, error) {
	const op = "create client"
	if err := c.normalize(); err != nil {
		return Client{}, fmt.Errorf("%s: %w", op, err)
	}
	out, err := scanClient(s.pool.QueryRow(ctx, `INSERT INTO clients (`+clientCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING `+clientCols,
		c.ID, c.SecretHash, c.Name, c.Scope, c.Authorities, c.GrantTypes, c.RedirectURIs, c.AutoApprove,
		c.AccessTokenValidity, c.RefreshTokenValidity, s.timestamp()))
	if err != nil {
		return Client{}, wrap(op, err)
	}
	return out, nil
}

// UpsertClient creates the client or overwrites every field of an existing
// one, its secret included. It is meant for bootstrap configuration.
func (s *Store) UpsertClient(ctx context.Context, c Client) (Client, error) {
	const op = "upsert client"
	if err := c.normalize(); err != nil {
		return Client{}, fmt.Errorf("%s: %w", op, err)
	}
	out, err := scanClient(s.pool.QueryRow(ctx, `INSERT INTO clients (`+clientCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, name = EXCLUDED.name,
			scope = EXCLUDED.scope, authorities = EXCLUDED.authorities, grant_types = EXCLUDED.grant_types,
			redirect_uris = EXCLUDED.redirect_uris, autoapprove = EXCLUDED.autoapprove,
			access_token_validity = EXCLUDED.access_token_validity,
			refresh_token_validity = EXCLUDED.refresh_token_validity, last_modified = EXCLUDED.last_modified
		RETURNING `+clientCols,
		c.ID, c.SecretHash, c.Name, c.Scope, c.Authorities, c.GrantTypes, c.RedirectURIs, c.AutoApprove,
		c.AccessTokenValidity, c.RefreshTokenValidity, s.timestamp()))
	if err != nil {
		return Client{}, wrap(op, err)
	}
	return out, nil
}

// GetClient returns the client with the given ID, or ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (Client, error) {
	c, err := scanClient(s.pool.QueryRow(ctx, "SELECT "+clientCols+" FROM clients WHERE id = $1", id))
	if err != nil {
		return Client{}, wrap("get client", err)
	}
	return c, nil
}

// ListClients returns clients sorted by ID, starting at the 1-based
// startIndex (values below 1 mean 1), at most count of them (0: none, as
// in SCIM; negative: no limit), and the total number of clients.
func (s *Store) ListClients(ctx context.Context, startIndex, count int) (clients []Client, total int, err error) {
	limit := any(nil) // NULL: no limit
	if count >= 0 {
		limit = count
	}
	err = s.inSnapshot(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM clients").Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT "+clientCols+" FROM clients ORDER BY id LIMIT $1::bigint OFFSET $2",
			limit, int64(max(startIndex, 1)-1))
		if err != nil {
			return err
		}
		clients, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Client, error) { return scanClient(r) })
		return err
	})
	if err != nil {
		return nil, 0, wrap("list clients", err)
	}
	return clients, total, nil
}

// UpdateClient overwrites every field of the client but its secret and
// returns it. ErrNotFound if there is none.
func (s *Store) UpdateClient(ctx context.Context, c Client) (Client, error) {
	const op = "update client"
	if err := c.normalize(); err != nil {
		return Client{}, fmt.Errorf("%s: %w", op, err)
	}
	out, err := scanClient(s.pool.QueryRow(ctx, `UPDATE clients SET name = $2, scope = $3, authorities = $4,
		grant_types = $5, redirect_uris = $6, autoapprove = $7, access_token_validity = $8,
		refresh_token_validity = $9, last_modified = $10
		WHERE id = $1 RETURNING `+clientCols,
		c.ID, c.Name, c.Scope, c.Authorities, c.GrantTypes, c.RedirectURIs, c.AutoApprove,
		c.AccessTokenValidity, c.RefreshTokenValidity, s.timestamp()))
	if err != nil {
		return Client{}, wrap(op, err)
	}
	return out, nil
}

// DeleteClient deletes the client with its refresh tokens and returns it as
// it was. ErrNotFound if there is none.
func (s *Store) DeleteClient(ctx context.Context, id string) (Client, error) {
	c, err := scanClient(s.pool.QueryRow(ctx, "DELETE FROM clients WHERE id = $1 RETURNING "+clientCols, id))
	if err != nil {
		return Client{}, wrap("delete client", err)
	}
	return c, nil
}

// SetClientSecret replaces the client's secret hash (nil makes it public)
// and sets LastModified. ErrNotFound if there is no such client.
func (s *Store) SetClientSecret(ctx context.Context, id string, hash []byte) error {
	tag, err := s.pool.Exec(ctx, "UPDATE clients SET secret_hash = $2, last_modified = $3 WHERE id = $1",
		id, hash, s.timestamp())
	if err != nil {
		return wrap("set client secret", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set client secret: %w", ErrNotFound)
	}
	return nil
}
