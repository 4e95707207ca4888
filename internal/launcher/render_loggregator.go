package launcher

import "strconv"

// The loggregator row: the v2 ingress (mutual TLS; reps, routers and the
// Cloud Controller send to it), the log-cache API the cf CLI reads (the
// root document's log_cache link), and its ops port. It verifies UAA
// tokens and asks the Cloud Controller which apps a user may read. It
// starts before the daemons that send to it.

func loggregatorDaemon() Daemon {
	return Daemon{
		Name:   "loggregator",
		Ports:  []string{"ingress", "http"},
		Render: renderLoggregator,
	}
}

func renderLoggregator(env *Env) (any, error) {
	ingress, err := tlsFiles(env, "loggregator", map[string]any{"listen": env.Addr("loggregator", "ingress")})
	if err != nil {
		return nil, err
	}
	ep := env.Endpoints()
	cfg := map[string]any{
		"ingress": ingress,
		"api":     map[string]any{"listen": env.Addr("loggregator", "http")},
		"ops":     map[string]any{"listen": env.Addr("loggregator", "ops")},
		"logging": map[string]any{"level": env.LogLevel()},
		"verifier": map[string]any{
			"uaa_url": "http://" + env.Addr("uaa", "http"),
			"issuer":  ep.UAA + "/oauth/token",
		},
		"cloud_controller": map[string]any{"url": "http://127.0.0.1:" + strconv.Itoa(env.Options().APIPort)},
	}
	if rr := routeRegistrar(env, env.Port("loggregator", "http"), "log-cache"); rr != nil {
		cfg["route_registrar"] = rr
	}
	return cfg, nil
}

// loggregatorClient is the "loggregator" section of a daemon that sends
// envelopes: the ingress address and the daemon's own client certificate.
// Nil when the loggregator is not part of this build.
func loggregatorClient(env *Env, daemon string) (map[string]any, error) {
	if env.Port("loggregator", "ingress") == 0 {
		return nil, nil
	}
	return tlsFiles(env, daemon, map[string]any{"address": env.Addr("loggregator", "ingress")})
}
