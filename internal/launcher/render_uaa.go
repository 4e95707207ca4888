package launcher

// The uaa daemon's row: its database, port and config. The config is
// rendered as a plain map, as a BOSH job template would render YAML; the
// launcher does not import component packages.

// cfGroups are the groups Cloud Foundry's UAA has, each a scope users can
// be given.
var cfGroups = []string{
	"cloud_controller.admin", "cloud_controller.admin_read_only", "cloud_controller.global_auditor",
	"cloud_controller.read", "cloud_controller.write", "cloud_controller.update_build_state",
	"scim.read", "scim.write", "scim.create", "scim.invite", "scim.userids", "scim.me",
	"uaa.user", "uaa.admin", "openid", "profile", "roles", "user_attributes", "approvals.me", "oauth.approvals",
	"password.write", "clients.read", "clients.write", "clients.secret", "clients.admin",
	"doppler.firehose", "routing.router_groups.read", "routing.router_groups.write",
	"network.admin", "network.write", "logs.admin",
}

// cfClientScopes are the scopes the cf CLI's client may ask for, as in CF.
var cfClientScopes = []string{
	"cloud_controller.read", "cloud_controller.write", "openid", "password.write", "cloud_controller.admin",
	"cloud_controller.admin_read_only", "cloud_controller.global_auditor", "scim.read", "scim.write",
	"doppler.firehose", "uaa.user", "routing.router_groups.read", "routing.router_groups.write",
	"network.admin", "network.write", "clients.read", "logs.admin",
}

func uaaDaemon() Daemon {
	return Daemon{
		Name:      "uaa",
		Databases: []string{"uaa"},
		Ports:     []string{"http"},
		Render:    renderUAA,
	}
}

func renderUAA(env *Env) (any, error) {
	ep := env.Endpoints()
	groups := make([]map[string]string, 0, len(cfGroups))
	for _, g := range cfGroups {
		groups = append(groups, map[string]string{"name": g})
	}
	cfg := map[string]any{
		"listen":    env.Addr("uaa", "http"),
		"url":       ep.UAA,
		"login_url": ep.Login,
		"ops":       map[string]any{"listen": env.Addr("uaa", "ops")},
		"logging":   map[string]any{"level": env.LogLevel()},
		"database":  map[string]any{"dsn": env.DSN("uaa")},
		"signing_keys": []map[string]any{
			{"id": "key-1", "pem_file": env.UAASigningKeyFile()},
		},
		"active_key_id": "key-1",
		"bootstrap": map[string]any{
			"groups": groups,
			"users": []map[string]any{{
				"username": AdminUser,
				"password": env.AdminPassword(),
				"email":    "admin@anvil.local",
				"groups":   cfGroups,
			}},
			"clients": []map[string]any{
				{
					"id":                     "cf",
					"name":                   "cf CLI",
					"authorized_grant_types": []string{"password", "refresh_token"},
					"scope":                  cfClientScopes,
					"authorities":            []string{"uaa.none"},
					"access_token_validity":  "2h",
					"refresh_token_validity": "720h",
				},
				{
					"id":                     "cloud_controller",
					"secret":                 env.Secret("uaa_client_cloud_controller"),
					"authorized_grant_types": []string{"client_credentials"},
					"authorities":            []string{"scim.read", "scim.write", "uaa.resource", "cloud_controller.admin", "clients.read"},
				},
				{
					"id":                     "anvil_admin",
					"secret":                 env.Secret("uaa_client_anvil_admin"),
					"authorized_grant_types": []string{"client_credentials"},
					"authorities": []string{
						"uaa.admin", "clients.admin", "scim.read", "scim.write", "uaa.resource",
						"cloud_controller.admin", "doppler.firehose", "logs.admin",
					},
				},
			},
		},
	}
	if rr := routeRegistrar(env, env.Port("uaa", "http"), "uaa", "login"); rr != nil {
		cfg["route_registrar"] = rr
	}
	return cfg, nil
}
