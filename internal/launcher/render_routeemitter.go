package launcher

// The route_emitter row: it follows the BBS's events (with its own client
// certificate) and publishes the routable instances to NATS.

func routeEmitterDaemon() Daemon {
	return Daemon{
		Name:   "route_emitter",
		Render: renderRouteEmitter,
	}
}

func renderRouteEmitter(env *Env) (any, error) {
	bbs, err := tlsFiles(env, "route_emitter", map[string]any{"addresses": []string{env.Addr("bbs", "grpc")}})
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"ops":     map[string]any{"listen": env.Addr("route_emitter", "ops")},
		"logging": map[string]any{"level": env.LogLevel()},
		"bbs":     bbs,
		"nats":    map[string]any{"url": env.NATSURL()},
	}, nil
}
