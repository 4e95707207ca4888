package launcher

// The auctioneer daemon's row: its gRPC port (the BBS sends it work), its
// gossip port in the cell registry, and its config. It calls the BBS and the
// reps with its own certificate.

func auctioneerDaemon() Daemon {
	return Daemon{
		Name:   "auctioneer",
		Ports:  []string{"grpc", "gossip"},
		Render: renderAuctioneer,
	}
}

func renderAuctioneer(env *Env) (any, error) {
	listen, err := tlsFiles(env, "auctioneer", map[string]any{"listen": env.Addr("auctioneer", "grpc")})
	if err != nil {
		return nil, err
	}
	bbs, err := tlsFiles(env, "auctioneer", map[string]any{"addresses": []string{env.Addr("bbs", "grpc")}})
	if err != nil {
		return nil, err
	}
	rep, err := tlsFiles(env, "auctioneer", nil)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"rpc":      listen,
		"ops":      map[string]any{"listen": env.Addr("auctioneer", "ops")},
		"logging":  map[string]any{"level": env.LogLevel()},
		"bbs":      bbs,
		"rep":      rep,
		"registry": registryConfig(env, "auctioneer"),
	}, nil
}
