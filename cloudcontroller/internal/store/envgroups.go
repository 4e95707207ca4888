package store

import (
	"context"
	"time"
)

// Environment variable group names.
const (
	EnvGroupRunning = "running"
	EnvGroupStaging = "staging"
)

// EnvGroup is the running or staging environment variable group: the
// variables every app's instances (running) or staging tasks (staging)
// get before the app's own.
type EnvGroup struct {
	Name      string
	Variables map[string]string
	UpdatedAt time.Time
}

// GetEnvGroup returns a group (running or staging).
func (s *Store) GetEnvGroup(ctx context.Context, name string) (EnvGroup, error) {
	g := EnvGroup{Name: name}
	err := s.pool.QueryRow(ctx, `SELECT variables, updated_at FROM environment_variable_groups WHERE name = $1`, name).Scan(&g.Variables, &g.UpdatedAt)
	if g.Variables == nil {
		g.Variables = map[string]string{}
	}
	return g, wrap("get environment variable group", err)
}

// UpdateEnvGroup merges patch into a group in one statement: a nil value
// deletes the key.
func (s *Store) UpdateEnvGroup(ctx context.Context, name string, patch map[string]*string) (EnvGroup, error) {
	set, del := map[string]string{}, []string{}
	for k, v := range patch {
		if v == nil {
			del = append(del, k)
		} else {
			set[k] = *v
		}
	}
	g := EnvGroup{Name: name}
	err := s.pool.QueryRow(ctx, `UPDATE environment_variable_groups SET variables = (variables - $2::text[]) || $3::jsonb, updated_at = now()
		WHERE name = $1 RETURNING variables, updated_at`, name, del, set).Scan(&g.Variables, &g.UpdatedAt)
	if g.Variables == nil {
		g.Variables = map[string]string{}
	}
	return g, wrap("update environment variable group", err)
}

// RunningEnv returns the running group's variables (the Diego sync puts
// them in every instance's environment before the app's own).
func (s *Store) RunningEnv(ctx context.Context) (map[string]string, error) {
	g, err := s.GetEnvGroup(ctx, EnvGroupRunning)
	return g.Variables, err
}
