package launcher

// The blobstore daemon's row: its HTTPS port, data dir and config. The
// config is rendered as a plain map, as a BOSH job template would render
// YAML; the launcher does not import component packages.
//
// Internal callers reach it with mutual TLS (the Cloud Controller's
// certificate, common name cloud_controller) or the shared secret
// blobstore_shared_secret; the Cloud Controller signs URLs for cells with
// the key blobstore-key-1 (secret blobstore_signing_key_1). Other daemons'
// rows read the same secrets with env.Secret.

// dropletURLTTL is the lifetime of the signed droplet URLs the Cloud
// Controller writes into desired LRPs, and so the longest signed URL the
// blobstore accepts.
const dropletURLTTL = "8760h"

func blobstoreDaemon() Daemon {
	return Daemon{
		Name:   "blobstore",
		Ports:  []string{"https"},
		Render: renderBlobstore,
	}
}

func renderBlobstore(env *Env) (any, error) {
	cert, err := env.Cert("blobstore")
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"listen": env.Addr("blobstore", "https"),
		"tls": map[string]any{
			"cert_file": cert.Cert,
			"key_file":  cert.Key,
			"ca_file":   env.CAFile(),
		},
		"ops":     map[string]any{"listen": env.Addr("blobstore", "ops")},
		"logging": map[string]any{"level": env.LogLevel()},
		"storage": map[string]any{"backend": "local", "dir": env.DataDir("blobstore")},
		"auth": map[string]any{
			"client_names":   []string{"cloud_controller"},
			"shared_secrets": []string{env.Secret("blobstore_shared_secret")},
			"signing_keys": []map[string]any{
				{"id": "blobstore-key-1", "secret": env.Secret("blobstore_signing_key_1")},
			},
			// The droplet URL in a desired LRP is used whenever an
			// instance starts, for as long as the app runs.
			"max_signed_url_lifetime": dropletURLTTL,
		},
	}, nil
}
