package store

import (
	"context"
	"time"
)

// RecordLoginFailure records a failed login of the user at the given time.
// ErrNotFound if there is no such user.
func (s *Store) RecordLoginFailure(ctx context.Context, userID string, at time.Time) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO login_failures (user_id, at) VALUES ($1, $2)", userID, at)
	return wrap("record login failure", err)
}

// CountLoginFailures returns how many failed logins of the user were
// recorded at or after since.
func (s *Store) CountLoginFailures(ctx context.Context, userID string, since time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM login_failures WHERE user_id = $1 AND at >= $2", userID, since).Scan(&n)
	if err != nil {
		return 0, wrap("count login failures", err)
	}
	return n, nil
}

// ClearLoginFailures forgets the user's failed logins, as after a
// successful one.
func (s *Store) ClearLoginFailures(ctx context.Context, userID string) error {
	_, err := s.pool.Exec(ctx, "DELETE FROM login_failures WHERE user_id = $1", userID)
	return wrap("clear login failures", err)
}
