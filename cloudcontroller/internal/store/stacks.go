package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Stack states, as CF names them.
const (
	StackActive     = "ACTIVE"
	StackRestricted = "RESTRICTED"
	StackDeprecated = "DEPRECATED"
	StackDisabled   = "DISABLED"
)

// Stack is a root filesystem apps run on.
type Stack struct {
	GUID        string
	Name        string
	Description string
	State       string
	StateReason string
	Default     bool
	Metadata    Metadata
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const stackCols = "t.guid::text, t.name, t.description, t.state, t.state_reason, t.is_default, t.labels, t.annotations, t.created_at, t.updated_at"

var stackOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at", "name": "t.name"}

func scanStack(row pgx.Row, extra ...any) (Stack, error) {
	var st Stack
	dest := append([]any{&st.GUID, &st.Name, &st.Description, &st.State, &st.StateReason, &st.Default,
		&st.Metadata.Labels, &st.Metadata.Annotations, &st.CreatedAt, &st.UpdatedAt}, extra...)
	err := row.Scan(dest...)
	st.Metadata.normalize()
	return st, err
}

// CreateStack inserts st (ErrConflict if the name is taken). Default is
// ignored: SetDefaultStack moves the default.
func (s *Store) CreateStack(ctx context.Context, st Stack) (Stack, error) {
	if st.GUID == "" {
		st.GUID = uuid.NewString()
	}
	if st.State == "" {
		st.State = StackActive
	}
	st.Metadata.normalize()
	out, err := scanStack(s.pool.QueryRow(ctx, `INSERT INTO stacks AS t (guid, name, description, state, state_reason, labels, annotations)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+stackCols,
		st.GUID, st.Name, st.Description, st.State, st.StateReason, st.Metadata.Labels, st.Metadata.Annotations))
	return out, wrap("create stack", err)
}

// GetStack returns one stack.
func (s *Store) GetStack(ctx context.Context, guid string) (Stack, error) {
	out, err := scanStack(s.pool.QueryRow(ctx, `SELECT `+stackCols+` FROM stacks t WHERE t.guid = $1`, guid))
	return out, wrap("get stack", err)
}

// ListStacks returns a page of stacks and the total count.
func (s *Store) ListStacks(ctx context.Context, f Filter) ([]Stack, int, error) {
	return listPage(ctx, s, "list stacks", "stacks", `SELECT `+stackCols+`, count(*) OVER () FROM stacks t`+f.clause(stackOrder), f, scanStack)
}

// UpdateStack writes state, state reason and metadata.
func (s *Store) UpdateStack(ctx context.Context, st Stack) (Stack, error) {
	st.Metadata.normalize()
	out, err := scanStack(s.pool.QueryRow(ctx, `UPDATE stacks AS t SET state = $2, state_reason = $3, labels = $4, annotations = $5, updated_at = now()
		WHERE t.guid = $1 RETURNING `+stackCols, st.GUID, st.State, st.StateReason, st.Metadata.Labels, st.Metadata.Annotations))
	return out, wrap("update stack", err)
}

// DeleteStack deletes a stack.
func (s *Store) DeleteStack(ctx context.Context, guid string) error {
	return s.execOne(ctx, "delete stack", `DELETE FROM stacks WHERE guid = $1`, guid)
}

// EnsureStack creates the stack name with description unless a stack of
// that name exists (bootstrap).
func (s *Store) EnsureStack(ctx context.Context, name, description string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO stacks (guid, name, description) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
		uuid.NewString(), name, description)
	return wrap("ensure stack", err)
}

// SetDefaultStack makes the stack called name the only default one.
func (s *Store) SetDefaultStack(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE stacks SET is_default = false, updated_at = now() WHERE is_default AND name <> $1`, name); err != nil {
			return wrap("set default stack", err)
		}
		tag, err := tx.Exec(ctx, `UPDATE stacks SET is_default = true, updated_at = now() WHERE name = $1 AND NOT is_default`, name)
		if err != nil {
			return wrap("set default stack", err)
		}
		if tag.RowsAffected() == 0 {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM stacks WHERE name = $1`, name).Scan(&n); err != nil {
				return wrap("set default stack", err)
			}
			if n == 0 {
				return fmt.Errorf("set default stack %q: %w", name, ErrNotFound)
			}
		}
		return nil
	})
}
