package rpc

import (
	"crypto/tls"
	"fmt"

	"github.com/anvilpaas/anvil/internal/pki"
)

// serverTLS returns the server's TLS configuration from cfg. cfg must be
// valid.
func serverTLS(cfg *ServerConfig) (*tls.Config, error) {
	if cfg.TLS != nil {
		return withMinVersion(cfg.TLS.Clone()), nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load server certificate: %w", err)
	}
	pool, err := pki.LoadPool(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	return pki.ServerTLS(cert, pool, true), nil
}

// clientTLS returns the client's TLS configuration from cfg. cfg must be
// valid.
func clientTLS(cfg *ClientConfig) (*tls.Config, error) {
	if cfg.TLS != nil {
		c := withMinVersion(cfg.TLS.Clone())
		if cfg.ServerName != "" {
			c.ServerName = cfg.ServerName
		}
		return c, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load client certificate: %w", err)
	}
	pool, err := pki.LoadPool(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	return pki.ClientTLS(cert, pool, cfg.ServerName), nil
}

// LoadClientTLS returns cfg with its certificate files read into cfg.TLS,
// for a caller that dials many servers with one client certificate (reps
// by address) and should read the files once. cfg.TLS already set is kept.
func LoadClientTLS(cfg ClientConfig) (ClientConfig, error) {
	if cfg.TLS != nil {
		return cfg, nil
	}
	t, err := clientTLS(&cfg)
	if err != nil {
		return cfg, err
	}
	cfg.TLS = t
	return cfg, nil
}

func withMinVersion(c *tls.Config) *tls.Config {
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}
