package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/anvilpaas/anvil/uaa/internal/scimfilter"
)

// DefaultOrigin is the origin of users whose passwords UAA itself checks.
const DefaultOrigin = "uaa"

// User is a SCIM user.
type User struct {
	ID       string
	Username string
	// Origin is the identity provider ("uaa", "ldap", …); empty means
	// DefaultOrigin.
	Origin     string
	Email      string
	GivenName  string
	FamilyName string
	// PasswordHash is nil for users who log in elsewhere.
	PasswordHash []byte
	Active       bool
	Verified     bool
	Version      int
	Created      time.Time
	LastModified time.Time
	// PasswordLastModified is set on creation and by SetPassword.
	PasswordLastModified time.Time
	// Groups are the user's direct memberships, sorted by name. The store
	// fills them on reads and ignores them on writes.
	Groups []GroupRef
}

// GroupRef names a group a user belongs to.
type GroupRef struct {
	ID      string
	Display string
}

// userAttrs maps SCIM user attributes to columns of "users u".
var userAttrs = map[string]scimfilter.Column{
	"id":                   {SQL: "u.id", Type: scimfilter.CaseExactString},
	"userName":             {SQL: "u.username", Type: scimfilter.String},
	"origin":               {SQL: "u.origin", Type: scimfilter.String},
	"email":                {SQL: "u.email", Type: scimfilter.String},
	"emails":               {SQL: "u.email", Type: scimfilter.String},
	"emails.value":         {SQL: "u.email", Type: scimfilter.String},
	"name":                 {SQL: "btrim(u.given_name || ' ' || u.family_name)", Type: scimfilter.String},
	"name.formatted":       {SQL: "btrim(u.given_name || ' ' || u.family_name)", Type: scimfilter.String},
	"name.givenName":       {SQL: "u.given_name", Type: scimfilter.String},
	"name.familyName":      {SQL: "u.family_name", Type: scimfilter.String},
	"active":               {SQL: "u.active", Type: scimfilter.Bool},
	"verified":             {SQL: "u.verified", Type: scimfilter.Bool},
	"meta.created":         {SQL: "u.created", Type: scimfilter.Time},
	"meta.lastModified":    {SQL: "u.last_modified", Type: scimfilter.Time},
	"meta.version":         {SQL: "u.version", Type: scimfilter.Int},
	"passwordLastModified": {SQL: "u.password_last_modified", Type: scimfilter.Time},
	"zoneId":               {SQL: "'uaa'::text", Type: scimfilter.CaseExactString},
	"groups.display": {
		SQL: "ug.display_name", Type: scimfilter.String,
		Exists: "SELECT 1 FROM group_members um JOIN groups ug ON ug.id = um.group_id WHERE um.member_id = u.id",
	},
	"groups.value": {
		SQL: "um.group_id", Type: scimfilter.CaseExactString,
		Exists: "SELECT 1 FROM group_members um WHERE um.member_id = u.id",
	},
}

const userCols = `u.id, u.username, u.origin, u.email, u.given_name, u.family_name, u.password_hash,
	u.active, u.verified, u.version, u.created, u.last_modified, u.password_last_modified`

var userList = listSpec{from: "users u", cols: userCols, seq: "u.seq", attrs: userAttrs}

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Username, &u.Origin, &u.Email, &u.GivenName, &u.FamilyName, &u.PasswordHash,
		&u.Active, &u.Verified, &u.Version, &u.Created, &u.LastModified, &u.PasswordLastModified)
	u.Created, u.LastModified, u.PasswordLastModified = u.Created.UTC(), u.LastModified.UTC(), u.PasswordLastModified.UTC()
	u.Groups = []GroupRef{}
	return u, err
}

func checkUser(u *User) error {
	if u.Origin == "" {
		u.Origin = DefaultOrigin
	}
	if err := checkKey("user name", u.Username); err != nil {
		return err
	}
	if err := checkKey("origin", u.Origin); err != nil {
		return err
	}
	if len(u.Email) > maxKeyLen {
		return fmt.Errorf("email is longer than %d bytes: %w", maxKeyLen, ErrInvalid)
	}
	return nil
}

// CreateUser stores a new user and returns it as stored. An empty ID gets a
// new UUID; Version, Created, LastModified and PasswordLastModified are set
// by the store. ErrConflict if the user name is taken in its origin.
func (s *Store) CreateUser(ctx context.Context, u User) (User, error) {
	const op = "create user"
	if err := checkUser(&u); err != nil {
		return User{}, fmt.Errorf("%s: %w", op, err)
	}
	if u.ID == "" {
		u.ID = uuid.NewString()
	}
	now := s.timestamp()
	u.Version, u.Created, u.LastModified, u.PasswordLastModified = 0, now, now, now
	u.Groups = []GroupRef{}
	_, err := s.pool.Exec(ctx, `INSERT INTO users (id, username, origin, email, given_name, family_name,
		password_hash, active, verified, version, created, last_modified, password_last_modified)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10, $10)`,
		u.ID, u.Username, u.Origin, u.Email, u.GivenName, u.FamilyName, u.PasswordHash, u.Active, u.Verified, now)
	if err != nil {
		return User{}, wrap(op, err)
	}
	return u, nil
}

// GetUser returns the user with the given ID, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id string) (User, error) {
	u, err := s.getUser(ctx, s.pool, "u.id = $1", id)
	return u, wrap("get user", err)
}

// GetUserByName returns the user with the given name, compared without
// regard to case, in origin (empty means DefaultOrigin), or ErrNotFound.
func (s *Store) GetUserByName(ctx context.Context, username, origin string) (User, error) {
	if origin == "" {
		origin = DefaultOrigin
	}
	u, err := s.getUser(ctx, s.pool, "lower(u.username) = lower($1) AND u.origin = $2", username, origin)
	return u, wrap("get user by name", err)
}

func (s *Store) getUser(ctx context.Context, q querier, where string, args ...any) (User, error) {
	u, err := scanUser(q.QueryRow(ctx, "SELECT "+userCols+" FROM users u WHERE "+where, args...))
	if err != nil {
		return User{}, err
	}
	groups, err := userGroups(ctx, q, []string{u.ID})
	if err != nil {
		return User{}, err
	}
	if g := groups[u.ID]; g != nil {
		u.Groups = g
	}
	return u, nil
}

// userGroups returns the direct memberships of the given users.
func userGroups(ctx context.Context, q querier, userIDs []string) (map[string][]GroupRef, error) {
	rows, err := q.Query(ctx, `SELECT m.member_id, g.id, g.display_name
		FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.member_id = ANY($1) ORDER BY lower(g.display_name), g.id`, userIDs)
	if err != nil {
		return nil, err
	}
	groups := make(map[string][]GroupRef, len(userIDs))
	var userID string
	var g GroupRef
	_, err = pgx.ForEachRow(rows, []any{&userID, &g.ID, &g.Display}, func() error {
		groups[userID] = append(groups[userID], g)
		return nil
	})
	return groups, err
}

// ListUsers returns one page of the users matching opts.Filter and the
// total number of matches. Filterable and sortable attributes: id,
// userName, origin, email, emails, emails.value, name, name.formatted,
// name.givenName, name.familyName, active, verified, meta.created,
// meta.lastModified, meta.version, passwordLastModified, zoneId, and (filter
// only) groups.display and groups.value.
func (s *Store) ListUsers(ctx context.Context, opts ListOptions) (users []User, total int, err error) {
	const op = "list users"
	countSQL, pageSQL, args, pageArgs, err := userList.queries(opts)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", op, err)
	}
	err = s.inSnapshot(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, countSQL, args...).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, pageSQL, pageArgs...)
		if err != nil {
			return err
		}
		users, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
		if err != nil {
			return err
		}
		ids := make([]string, len(users))
		for i, u := range users {
			ids[i] = u.ID
		}
		groups, err := userGroups(ctx, tx, ids)
		if err != nil {
			return err
		}
		for i := range users {
			if g := groups[users[i].ID]; g != nil {
				users[i].Groups = g
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, wrap(op, err)
	}
	return users, total, nil
}

// UpdateUser overwrites the user's name, origin, email, given and family
// names, and its active and verified flags, bumps its version and returns
// it. The password and timestamps other than LastModified are kept. ifMatch
// is the version the caller read, or -1 to skip the check. ErrNotFound,
// ErrVersionMismatch, or ErrConflict if the new name is taken.
func (s *Store) UpdateUser(ctx context.Context, u User, ifMatch int) (User, error) {
	const op = "update user"
	if err := checkUser(&u); err != nil {
		return User{}, fmt.Errorf("%s: %w", op, err)
	}
	var out User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanUser(tx.QueryRow(ctx, `UPDATE users u SET username = $2, origin = $3, email = $4,
			given_name = $5, family_name = $6, active = $7, verified = $8,
			version = version + 1, last_modified = $9
			WHERE id = $1 AND ($10::bigint < 0 OR version = $10::bigint) RETURNING `+userCols,
			u.ID, u.Username, u.Origin, u.Email, u.GivenName, u.FamilyName, u.Active, u.Verified,
			s.timestamp(), ifMatch))
		if errors.Is(err, pgx.ErrNoRows) {
			return versionOrNotFound(ctx, tx, "users", u.ID)
		}
		if err != nil {
			return err
		}
		groups, err := userGroups(ctx, tx, []string{out.ID})
		if g := groups[out.ID]; g != nil {
			out.Groups = g
		}
		return err
	})
	if err != nil {
		return User{}, wrap(op, err)
	}
	return out, nil
}

// versionOrNotFound explains why a conditional update of id in table
// matched no row.
func versionOrNotFound(ctx context.Context, q querier, table, id string) error {
	var exists bool
	if err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+table+" WHERE id = $1)", id).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return ErrVersionMismatch
	}
	return ErrNotFound
}

// DeleteUser deletes the user with its memberships, refresh tokens and
// login failures, and returns it as it was. ErrNotFound if there is none.
func (s *Store) DeleteUser(ctx context.Context, id string) (User, error) {
	var u User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		// Lock the row first, so the memberships read belong to it.
		if u, err = s.getUser(ctx, tx, "u.id = $1 FOR UPDATE", id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "DELETE FROM users WHERE id = $1", id)
		return err
	})
	if err != nil {
		return User{}, wrap("delete user", err)
	}
	return u, nil
}

// SetPassword stores a new password hash, sets PasswordLastModified and
// LastModified (not Version), and deletes the user's refresh tokens.
// ErrNotFound if there is no such user.
func (s *Store) SetPassword(ctx context.Context, id string, hash []byte) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2, password_last_modified = $3,
			last_modified = $3 WHERE id = $1`, id, hash, s.timestamp())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		_, err = tx.Exec(ctx, "DELETE FROM refresh_tokens WHERE user_id = $1", id)
		return err
	})
	return wrap("set password", err)
}
