package launcher

import "strconv"

// The gorouter's row: the public HTTP and HTTPS ports (options
// RouterHTTPPort and RouterHTTPSPort, on loopback), its status listener on
// the ops port (/health, /metrics, /routes with a generated password), the
// NATS it learns routes from, and an HTTPS certificate from the internal CA
// valid for the apps and system domains.

func gorouterDaemon() Daemon {
	return Daemon{
		Name:   "gorouter",
		Render: renderGorouter,
	}
}

func renderGorouter(env *Env) (any, error) {
	o := env.Options()
	names := []string{"*." + o.AppsDomain}
	if o.SystemDomain != "" {
		names = append(names, o.SystemDomain, "*."+o.SystemDomain)
	}
	cert, err := env.sec.cert("gorouter", names...)
	if err != nil {
		return nil, err
	}
	lg, err := loggregatorClient(env, "gorouter")
	if err != nil {
		return nil, err
	}
	cfg := map[string]any{
		"http":  map[string]any{"listen": "127.0.0.1:" + strconv.Itoa(o.RouterHTTPPort)},
		"https": map[string]any{"listen": "127.0.0.1:" + strconv.Itoa(o.RouterHTTPSPort), "cert_file": cert.Cert, "key_file": cert.Key},
		"status": map[string]any{
			"listen":   env.Addr("gorouter", "ops"),
			"user":     "router-status",
			"password": env.Secret("gorouter_status_password"),
		},
		"nats":       map[string]any{"url": env.NATSURL()},
		"backends":   map[string]any{"ca_file": env.CAFile()},
		"access_log": env.layout.logFile("gorouter-access"),
		// Locally nothing balances in front of the router: stop at once.
		"drain_wait": "0s",
		"logging":    map[string]any{"level": env.LogLevel()},
	}
	if lg != nil {
		cfg["loggregator"] = lg
	}
	return cfg, nil
}

// routeRegistrar is the route_registrar section of a system daemon in the
// production shape (a system domain): it registers hosts (names under the
// system domain) for the daemon's plain HTTP port on loopback. Nil in the
// dev shape, where clients reach the daemons directly.
func routeRegistrar(env *Env, port int, hosts ...string) map[string]any {
	o := env.Options()
	if o.SystemDomain == "" || port == 0 {
		return nil
	}
	uris := make([]string, len(hosts))
	for i, h := range hosts {
		uris[i] = h + "." + o.SystemDomain
	}
	return map[string]any{
		"nats": map[string]any{"url": env.NATSURL()},
		"host": "127.0.0.1",
		"port": port,
		"uris": uris,
	}
}
