package rpc

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// DefaultShutdownTimeout bounds the graceful stop when
// ServerConfig.ShutdownTimeout is zero.
const DefaultShutdownTimeout = 10 * time.Second

// ServerConfig configures a gRPC server.
type ServerConfig struct {
	// Listen is the TCP address to serve on, for example "0.0.0.0:8889".
	Listen string `yaml:"listen"`
	// CertFile and KeyFile are the server's PEM certificate and key.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// CAFile holds the PEM CA certificates that client certificates must
	// chain to.
	CAFile string `yaml:"ca_file"`
	// ShutdownTimeout bounds how long Run waits for in-flight RPCs after
	// ctx is cancelled before closing connections.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`

	// TLS, if set, is used instead of the three files. It must require and
	// verify client certificates against its ClientCAs. It is cloned.
	TLS *tls.Config `yaml:"-"`
}

// Defaults fills unset fields with their defaults.
func (c *ServerConfig) Defaults() {
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
}

// Validate returns every problem with c, joined.
func (c *ServerConfig) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: required"))
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: %w", err))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("shutdown_timeout: %v is negative", c.ShutdownTimeout))
	}
	if c.TLS != nil {
		if c.TLS.ClientAuth != tls.RequireAndVerifyClientCert {
			errs = append(errs, fmt.Errorf("tls: client auth is %v, want RequireAndVerifyClientCert", c.TLS.ClientAuth))
		}
		if c.TLS.ClientCAs == nil {
			errs = append(errs, errors.New("tls: no client CAs"))
		}
		if len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil && c.TLS.GetConfigForClient == nil {
			errs = append(errs, errors.New("tls: no server certificate"))
		}
		return errors.Join(errs...)
	}
	errs = append(errs, requireFiles(c.CertFile, c.KeyFile, c.CAFile)...)
	return errors.Join(errs...)
}

// ClientConfig configures a connection to a gRPC server.
type ClientConfig struct {
	// Address is the server's "host:port" or a gRPC target URI such as
	// "dns:///bbs.service.internal:8889".
	Address string `yaml:"address"`
	// Addresses, instead of Address, lists several "host:port" servers of
	// which one serves at a time (the active BBS: passive ones do not
	// listen). The client uses the first that accepts a connection and
	// moves on when it goes away.
	Addresses []string `yaml:"addresses"`
	// CertFile and KeyFile are the client's PEM certificate and key.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// CAFile holds the PEM CA certificates the server's certificate must
	// chain to.
	CAFile string `yaml:"ca_file"`
	// ServerName is the name the server's certificate must be valid for;
	// empty means the host part of Address.
	ServerName string `yaml:"server_name"`

	// TLS, if set, is used instead of the three files. It must present a
	// client certificate and set RootCAs. It is cloned.
	TLS *tls.Config `yaml:"-"`
}

// Defaults fills unset fields with their defaults. ClientConfig has none;
// the method exists so that every config section has the same shape.
func (c *ClientConfig) Defaults() {}

// Validate returns every problem with c, joined.
func (c *ClientConfig) Validate() error {
	var errs []error
	switch {
	case c.Address == "" && len(c.Addresses) == 0:
		errs = append(errs, errors.New("address: required"))
	case c.Address != "" && len(c.Addresses) > 0:
		errs = append(errs, errors.New("address and addresses: set one, not both"))
	}
	for i, a := range c.Addresses {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("addresses[%d]: %w", i, err))
		}
	}
	if c.TLS != nil {
		if len(c.TLS.Certificates) == 0 && c.TLS.GetClientCertificate == nil {
			errs = append(errs, errors.New("tls: no client certificate"))
		}
		if c.TLS.RootCAs == nil {
			errs = append(errs, errors.New("tls: no root CAs"))
		}
		return errors.Join(errs...)
	}
	errs = append(errs, requireFiles(c.CertFile, c.KeyFile, c.CAFile)...)
	return errors.Join(errs...)
}

func requireFiles(cert, key, ca string) []error {
	var errs []error
	for _, f := range []struct{ name, val string }{
		{"cert_file", cert}, {"key_file", key}, {"ca_file", ca},
	} {
		if f.val == "" {
			errs = append(errs, fmt.Errorf("%s: required", f.name))
		}
	}
	return errs
}
