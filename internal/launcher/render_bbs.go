package launcher

import (
	"crypto/sha256"
	"encoding/base64"
)

// The bbs daemon's row: its gRPC port, its gossip port in the cell registry,
// its database and config. Cells and the auctioneer reach it with mutual
// TLS (certificates from the launcher's CA). The registry is encrypted with
// a key derived from the stable secret "cell_registry".

func bbsDaemon() Daemon {
	return Daemon{
		Name:      "bbs",
		Databases: []string{"bbs"},
		Ports:     []string{"grpc", "gossip"},
		Render:    renderBBS,
	}
}

// gossipKey is the cell registry's AES-256 key, base64, the same for every
// member.
func gossipKey(env *Env) string {
	sum := sha256.Sum256([]byte(env.Secret("cell_registry")))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// registryConfig is the cell registry section of daemon's config: it binds
// its own gossip port and joins every observer's (the BBS and the
// auctioneer) but its own.
func registryConfig(env *Env, daemon string) map[string]any {
	var join []string
	for _, d := range []string{"bbs", "auctioneer"} {
		if d != daemon && env.Port(d, "gossip") != 0 {
			join = append(join, env.Addr(d, "gossip"))
		}
	}
	return map[string]any{
		"bind":       env.Addr(daemon, "gossip"),
		"join":       join,
		"cluster":    "anvil-dev",
		"secret_key": gossipKey(env),
	}
}

// tlsFiles is the cert_file/key_file/ca_file section for daemon's
// certificate.
func tlsFiles(env *Env, daemon string, extra map[string]any) (map[string]any, error) {
	cert, err := env.Cert(daemon)
	if err != nil {
		return nil, err
	}
	m := map[string]any{"cert_file": cert.Cert, "key_file": cert.Key, "ca_file": env.CAFile()}
	for k, v := range extra {
		m[k] = v
	}
	return m, nil
}

func renderBBS(env *Env) (any, error) {
	grpcTLS, err := tlsFiles(env, "bbs", map[string]any{"listen": env.Addr("bbs", "grpc")})
	if err != nil {
		return nil, err
	}
	auctioneer, err := tlsFiles(env, "bbs", map[string]any{"address": env.Addr("auctioneer", "grpc")})
	if err != nil {
		return nil, err
	}
	repClient, err := tlsFiles(env, "bbs", nil)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"grpc":       grpcTLS,
		"ops":        map[string]any{"listen": env.Addr("bbs", "ops")},
		"logging":    map[string]any{"level": env.LogLevel()},
		"database":   map[string]any{"dsn": env.DSN("bbs")},
		"auctioneer": auctioneer,
		"rep_client": repClient,
		"registry":   registryConfig(env, "bbs"),
	}, nil
}
