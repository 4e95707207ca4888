package launcher

import (
	"os"
	"path/filepath"
	"strconv"
)

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
	cfg := map[string]any{
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
	}
	// Packages and droplets live in the blobstore; the Cloud Controller
	// signs URLs for the cells with the blobstore's key.
	cert, err := env.Cert("cloud_controller")
	if err != nil {
		return nil, err
	}
	if env.Port("blobstore", "https") != 0 {
		cfg["blobstore"] = map[string]any{
			"url":         "https://" + env.Addr("blobstore", "https"),
			"ca_file":     env.CAFile(),
			"cert_file":   cert.Cert,
			"key_file":    cert.Key,
			"signing_key": map[string]any{"id": "blobstore-key-1", "secret": env.Secret("blobstore_signing_key_1")},
		}
	}
	// The [API/0] lines written into apps' logs go to loggregator.
	lg, err := loggregatorClient(env, "cloud_controller")
	if err != nil {
		return nil, err
	}
	if lg != nil {
		cfg["loggregator"] = lg
	}
	// Staging tasks and the desired LRPs go to the BBS; the BBS calls back
	// on the API port when a staging task completes.
	if env.Port("bbs", "grpc") != 0 {
		bbs, err := tlsFiles(env, "cloud_controller", map[string]any{"addresses": []string{env.Addr("bbs", "grpc")}})
		if err != nil {
			return nil, err
		}
		staging := map[string]any{
			"bbs":             bbs,
			"callback_url":    "http://127.0.0.1:" + strconv.Itoa(o.APIPort),
			"callback_secret": env.Secret("cc_staging_callback_secret"),
		}
		// The system buildpacks built by `make buildpacks`.
		if dir, err := filepath.Abs(filepath.Join(o.BinDir, "buildpacks")); err == nil {
			if _, err := os.Stat(dir); err == nil {
				staging["buildpacks_dir"] = dir
				// Detection order, as Cloud Foundry ships them.
				staging["default_buildpacks"] = []string{
					"staticfile_buildpack", "ruby_buildpack", "nodejs_buildpack",
					"go_buildpack", "python_buildpack", "binary_buildpack",
				}
			}
		}
		cfg["staging"] = staging
		cfg["diego"] = map[string]any{
			"bbs": bbs,
			// As long as the blobstore accepts (max_signed_url_lifetime):
			// instances download their droplet whenever they start.
			"droplet_url_ttl": dropletURLTTL,
		}
	}
	if rr := routeRegistrar(env, o.APIPort, "api"); rr != nil {
		cfg["route_registrar"] = rr
	}
	return cfg, nil
}
