package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RefreshToken is an opaque refresh token's record. Access tokens are JWTs
// and are not stored.
type RefreshToken struct {
	// ID is the token itself, a random opaque string; empty means the
	// store makes one.
	ID        string
	ClientID  string
	UserID    string
	Scopes    []string
	GrantType string
	// IssuedAt defaults to now; ExpiresAt is required.
	IssuedAt  time.Time
	ExpiresAt time.Time
}

const tokenCols = "id, client_id, user_id, scopes, grant_type, issued_at, expires_at"

func scanToken(row pgx.Row) (RefreshToken, error) {
	var t RefreshToken
	err := row.Scan(&t.ID, &t.ClientID, &t.UserID, &t.Scopes, &t.GrantType, &t.IssuedAt, &t.ExpiresAt)
	t.IssuedAt, t.ExpiresAt = t.IssuedAt.UTC(), t.ExpiresAt.UTC()
	return t, err
}

// CreateRefreshToken stores a refresh token and returns it as stored.
// ErrNotFound if its client or user does not exist, ErrConflict if the ID
// is taken, ErrInvalid if ExpiresAt is unset.
func (s *Store) CreateRefreshToken(ctx context.Context, t RefreshToken) (RefreshToken, error) {
	const op = "create refresh token"
	if t.ID == "" {
		t.ID = rand.Text() + "-r"
	}
	if err := checkKey("refresh token id", t.ID); err != nil {
		return RefreshToken{}, fmt.Errorf("%s: %w", op, err)
	}
	if t.ExpiresAt.IsZero() {
		return RefreshToken{}, fmt.Errorf("%s: no expiry: %w", op, ErrInvalid)
	}
	if t.IssuedAt.IsZero() {
		t.IssuedAt = s.timestamp()
	}
	out, err := scanToken(s.pool.QueryRow(ctx, `INSERT INTO refresh_tokens (`+tokenCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+tokenCols,
		t.ID, t.ClientID, t.UserID, orEmpty(t.Scopes), t.GrantType, t.IssuedAt, t.ExpiresAt))
	if err != nil {
		return RefreshToken{}, wrap(op, err)
	}
	return out, nil
}

// GetRefreshToken returns the refresh token with the given ID, expired or
// not, or ErrNotFound.
func (s *Store) GetRefreshToken(ctx context.Context, id string) (RefreshToken, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, "SELECT "+tokenCols+" FROM refresh_tokens WHERE id = $1", id))
	if err != nil {
		return RefreshToken{}, wrap("get refresh token", err)
	}
	return t, nil
}

// DeleteRefreshToken deletes a refresh token and reports whether it
// existed. Of several concurrent calls for one token exactly one reports
// true, so a rotating token endpoint that issues a new token only when this
// returns true lets each refresh token be used once.
func (s *Store) DeleteRefreshToken(ctx context.Context, id string) (deleted bool, err error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM refresh_tokens WHERE id = $1", id)
	if err != nil {
		return false, wrap("delete refresh token", err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteUserRefreshTokens deletes all of a user's refresh tokens and
// returns how many there were.
func (s *Store) DeleteUserRefreshTokens(ctx context.Context, userID string) (int, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM refresh_tokens WHERE user_id = $1", userID)
	if err != nil {
		return 0, wrap("delete user refresh tokens", err)
	}
	return int(tag.RowsAffected()), nil
}

// DeleteClientRefreshTokens deletes all refresh tokens issued to a client
// and returns how many there were.
func (s *Store) DeleteClientRefreshTokens(ctx context.Context, clientID string) (int, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM refresh_tokens WHERE client_id = $1", clientID)
	if err != nil {
		return 0, wrap("delete client refresh tokens", err)
	}
	return int(tag.RowsAffected()), nil
}

// DeleteExpiredRefreshTokens deletes the refresh tokens that expired at or
// before now and returns how many there were.
func (s *Store) DeleteExpiredRefreshTokens(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM refresh_tokens WHERE expires_at <= $1", now)
	if err != nil {
		return 0, wrap("delete expired refresh tokens", err)
	}
	return int(tag.RowsAffected()), nil
}
