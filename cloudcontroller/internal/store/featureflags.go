package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Feature flag names, as CF names them.
const (
	FlagUserOrgCreation                         = "user_org_creation"
	FlagPrivateDomainCreation                   = "private_domain_creation"
	FlagAppBitsUpload                           = "app_bits_upload"
	FlagAppScaling                              = "app_scaling"
	FlagRouteCreation                           = "route_creation"
	FlagServiceInstanceCreation                 = "service_instance_creation"
	FlagDiegoDocker                             = "diego_docker"
	FlagDiegoCNB                                = "diego_cnb"
	FlagSetRolesByUsername                      = "set_roles_by_username"
	FlagUnsetRolesByUsername                    = "unset_roles_by_username"
	FlagTaskCreation                            = "task_creation"
	FlagEnvVarVisibility                        = "env_var_visibility"
	FlagSpaceScopedPrivateBrokerCreation        = "space_scoped_private_broker_creation"
	FlagSpaceDeveloperEnvVarVisibility          = "space_developer_env_var_visibility"
	FlagServiceInstanceSharing                  = "service_instance_sharing"
	FlagHideMarketplaceFromUnauthenticatedUsers = "hide_marketplace_from_unauthenticated_users"
	FlagResourceMatching                        = "resource_matching"
	FlagRouteSharing                            = "route_sharing"
)

// defaultFlags is CF's flag set with its defaults (FeatureFlag::DEFAULT_FLAGS).
var defaultFlags = map[string]bool{
	FlagUserOrgCreation:                         false,
	FlagPrivateDomainCreation:                   true,
	FlagAppBitsUpload:                           true,
	FlagAppScaling:                              true,
	FlagRouteCreation:                           true,
	FlagServiceInstanceCreation:                 true,
	FlagDiegoDocker:                             false,
	FlagDiegoCNB:                                false,
	FlagSetRolesByUsername:                      true,
	FlagUnsetRolesByUsername:                    true,
	FlagTaskCreation:                            true,
	FlagEnvVarVisibility:                        true,
	FlagSpaceScopedPrivateBrokerCreation:        true,
	FlagSpaceDeveloperEnvVarVisibility:          true,
	FlagServiceInstanceSharing:                  false,
	FlagHideMarketplaceFromUnauthenticatedUsers: false,
	FlagResourceMatching:                        true,
	FlagRouteSharing:                            false,
}

// FeatureFlag is one flag's effective state.
type FeatureFlag struct {
	Name    string
	Enabled bool
	// ErrorMessage replaces the flag name in the FeatureDisabled error;
	// "" means none.
	ErrorMessage string
	// CreatedAt and UpdatedAt are nil while the flag has its default.
	CreatedAt *time.Time
	UpdatedAt *time.Time
}

// FeatureFlags returns every known flag, set or default, in no order.
func (s *Store) FeatureFlags(ctx context.Context) ([]FeatureFlag, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, enabled, coalesce(error_message, ''), created_at, updated_at FROM feature_flags`)
	if err != nil {
		return nil, wrap("list feature flags", err)
	}
	defer rows.Close()
	set := map[string]FeatureFlag{}
	for rows.Next() {
		var f FeatureFlag
		var created, updated time.Time
		if err := rows.Scan(&f.Name, &f.Enabled, &f.ErrorMessage, &created, &updated); err != nil {
			return nil, wrap("list feature flags", err)
		}
		f.CreatedAt, f.UpdatedAt = &created, &updated
		set[f.Name] = f
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list feature flags", err)
	}
	out := make([]FeatureFlag, 0, len(defaultFlags))
	for name, def := range defaultFlags {
		f, ok := set[name]
		if !ok {
			f = FeatureFlag{Name: name, Enabled: def}
		}
		out = append(out, f)
	}
	return out, nil
}

// FeatureFlag returns one flag (ErrNotFound if the name is unknown).
func (s *Store) FeatureFlag(ctx context.Context, name string) (FeatureFlag, error) {
	def, known := defaultFlags[name]
	if !known {
		return FeatureFlag{}, fmt.Errorf("get feature flag %q: %w", name, ErrNotFound)
	}
	f := FeatureFlag{Name: name}
	var created, updated time.Time
	err := s.pool.QueryRow(ctx, `SELECT enabled, coalesce(error_message, ''), created_at, updated_at FROM feature_flags WHERE name = $1`, name).
		Scan(&f.Enabled, &f.ErrorMessage, &created, &updated)
	if err != nil {
		if err = wrap("get feature flag", err); errors.Is(err, ErrNotFound) {
			return FeatureFlag{Name: name, Enabled: def}, nil
		}
		return FeatureFlag{}, err
	}
	f.CreatedAt, f.UpdatedAt = &created, &updated
	return f, nil
}

// FeatureFlagEnabled reports whether a flag is on (ErrNotFound if the name
// is unknown).
func (s *Store) FeatureFlagEnabled(ctx context.Context, name string) (bool, error) {
	f, err := s.FeatureFlag(ctx, name)
	return f.Enabled, err
}

// SetFeatureFlag stores a flag's state and error message.
func (s *Store) SetFeatureFlag(ctx context.Context, f FeatureFlag) (FeatureFlag, error) {
	if _, known := defaultFlags[f.Name]; !known {
		return FeatureFlag{}, fmt.Errorf("set feature flag %q: %w", f.Name, ErrNotFound)
	}
	var created, updated time.Time
	err := s.pool.QueryRow(ctx, `INSERT INTO feature_flags (name, enabled, error_message) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, error_message = excluded.error_message, updated_at = now()
		RETURNING created_at, updated_at`, f.Name, f.Enabled, nullable(f.ErrorMessage)).Scan(&created, &updated)
	if err != nil {
		return FeatureFlag{}, wrap("set feature flag", err)
	}
	f.CreatedAt, f.UpdatedAt = &created, &updated
	return f, nil
}
