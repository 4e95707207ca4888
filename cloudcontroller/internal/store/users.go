package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is a Cloud Controller user: a UAA user (or client) known to CC.
type User struct {
	GUID      string
	Username  string // "" when unknown (a client, or a UAA user not looked up)
	Origin    string
	Metadata  Metadata
	CreatedAt time.Time
	UpdatedAt time.Time
}

const userCols = "t.guid, coalesce(t.username, ''), coalesce(t.origin, ''), t.labels, t.annotations, t.created_at, t.updated_at"

var userOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at"}

func scanUser(row pgx.Row, extra ...any) (User, error) {
	var u User
	dest := append([]any{&u.GUID, &u.Username, &u.Origin, &u.Metadata.Labels, &u.Metadata.Annotations, &u.CreatedAt, &u.UpdatedAt}, extra...)
	err := row.Scan(dest...)
	u.Metadata.normalize()
	return u, err
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateUser inserts u (ErrConflict if the guid exists).
func (s *Store) CreateUser(ctx context.Context, u User) (User, error) {
	u.Metadata.normalize()
	row := s.pool.QueryRow(ctx, `INSERT INTO users AS t (guid, username, origin, labels, annotations) VALUES ($1, $2, $3, $4, $5) RETURNING `+userCols,
		u.GUID, nullable(u.Username), nullable(u.Origin), u.Metadata.Labels, u.Metadata.Annotations)
	out, err := scanUser(row)
	return out, wrap("create user", err)
}

// EnsureUser creates the user if missing and fills in a username and
// origin that were not known; it returns the stored user.
func (s *Store) EnsureUser(ctx context.Context, u User) (User, error) {
	row := s.pool.QueryRow(ctx, `INSERT INTO users AS t (guid, username, origin) VALUES ($1, $2, $3)
		ON CONFLICT (guid) DO UPDATE SET
			username = coalesce(t.username, excluded.username),
			origin = coalesce(t.origin, excluded.origin)
		RETURNING `+userCols, u.GUID, nullable(u.Username), nullable(u.Origin))
	out, err := scanUser(row)
	return out, wrap("ensure user", err)
}

// GetUser returns one user.
func (s *Store) GetUser(ctx context.Context, guid string) (User, error) {
	out, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users t WHERE t.guid = $1`, guid))
	return out, wrap("get user", err)
}

// GetUserByName returns the user with username and origin (origin ""
// matches any origin, as CF does when the origin is omitted; the first
// match by creation wins).
func (s *Store) GetUserByName(ctx context.Context, username, origin string) (User, error) {
	out, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users t
		WHERE t.username = $1 AND ($2 = '' OR t.origin = $2) ORDER BY t.created_at LIMIT 1`, username, origin))
	return out, wrap("get user by name", err)
}

// ListUsers returns a page of users and the total count.
func (s *Store) ListUsers(ctx context.Context, f Filter) ([]User, int, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userCols+`, count(*) OVER () FROM users t`+f.clause(userOrder), f.args...)
	if err != nil {
		return nil, 0, wrap("list users", err)
	}
	defer rows.Close()
	var out []User
	total := 0
	for rows.Next() {
		u, err := scanUser(rows, &total)
		if err != nil {
			return nil, 0, wrap("list users", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, wrap("list users", err)
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = s.count(ctx, "users", f)
	}
	return out, total, err
}

// UsersByGUID returns the users with the given guids (for include=user).
func (s *Store) UsersByGUID(ctx context.Context, guids []string) ([]User, error) {
	f := Filter{}
	f.In("t.guid", guids)
	users, _, err := s.ListUsers(ctx, f)
	return users, err
}

// DeleteUser deletes a user and its roles.
func (s *Store) DeleteUser(ctx context.Context, guid string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM users WHERE guid = $1`, guid)
	if err != nil {
		return wrap("delete user", err)
	}
	if tag.RowsAffected() == 0 {
		return wrap("delete user", pgx.ErrNoRows)
	}
	return nil
}

// UpdateUserMetadata writes a user's labels and annotations.
func (s *Store) UpdateUserMetadata(ctx context.Context, u User) (User, error) {
	u.Metadata.normalize()
	out, err := scanUser(s.pool.QueryRow(ctx, `UPDATE users AS t SET labels = $2, annotations = $3, updated_at = now() WHERE t.guid = $1 RETURNING `+userCols,
		u.GUID, u.Metadata.Labels, u.Metadata.Annotations))
	return out, wrap("update user", err)
}
