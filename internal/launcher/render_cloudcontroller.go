package launcher

import "strconv"

// The cloud_controller daemon's row. It listens on the public API port
// (--api-port) in the dev shape.

func cloudControllerDaemon() Daemon {
	return Daemon{
		Name:      "cloud_controller",
		Databases: []string{"cloud_controller"},
		Render:    renderCloudController,
	}
}

func renderCloudController(env *Env) (any, error) {
	ep := env.Endpoints()
	o := env.Options()
	return map[string]any{
		"listen":        "127.0.0.1:" + strconv.Itoa(o.APIPort),
		"external_url":  ep.API,
		"ops":           map[string]any{"listen": env.Addr("cloud_controller", "ops")},
		"logging":       map[string]any{"level": env.LogLevel()},
		"database":      map[string]any{"dsn": env.DSN("cloud_controller")},
		"log_cache_url": ep.LogCache,
		"bootstrap":     map[string]any{"apps_domain": o.AppsDomain},
		"uaa": map[string]any{
			"url":          ep.UAA,
			"login_url":    ep.Login,
			"internal_url": "http://" + env.Addr("uaa", "http"),
			"client": map[string]any{
				"client_id":     "cloud_controller",
				"client_secret": env.Secret("uaa_client_cloud_controller"),
			},
		},
	}, nil
}
