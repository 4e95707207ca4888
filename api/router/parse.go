package router

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Bounds applied by [ParseRegistryMessage].
const (
	// MaxMessageSize is the largest message accepted, in bytes.
	MaxMessageSize = 64 << 10
	// MaxURILen is the longest URI accepted, in bytes (a 253-byte host
	// plus a path).
	MaxURILen = 1024
	// MaxHostLen is the longest endpoint host accepted, in bytes.
	MaxHostLen = 253
)

// ParseRegistryMessage decodes and validates the body of a router.register
// or router.unregister message. Every error wraps [ErrInvalidMessage].
func ParseRegistryMessage(data []byte) (RegistryMessage, error) {
	if len(data) > MaxMessageSize {
		return RegistryMessage{}, fmt.Errorf("%w: %d bytes exceeds %d", ErrInvalidMessage, len(data), MaxMessageSize)
	}
	var m RegistryMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return RegistryMessage{}, fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	if err := m.Validate(); err != nil {
		return RegistryMessage{}, err
	}
	return m, nil
}

// Validate reports the first problem that makes m unusable by a router.
// Every error wraps [ErrInvalidMessage].
func (m RegistryMessage) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidMessage}, args...)...)
	}
	switch {
	case m.Version < 0 || m.Version > Version:
		return bad("unsupported version %d", m.Version)
	case m.Host == "":
		return bad("missing host")
	case len(m.Host) > MaxHostLen:
		return bad("host longer than %d bytes", MaxHostLen)
	case !plain(m.Host):
		return bad("host %q contains spaces or control characters", m.Host)
	case m.Port < 0 || m.Port > 65535:
		return bad("port %d out of range", m.Port)
	case m.TLSPort < 0 || m.TLSPort > 65535:
		return bad("tls_port %d out of range", m.TLSPort)
	case m.Port == 0 && m.TLSPort == 0:
		return bad("port 0 without tls_port")
	case len(m.URIs) == 0:
		return bad("no uris")
	}
	for i, u := range m.URIs {
		if err := validateURI(u); err != nil {
			return bad("uris[%d]: %w", i, err)
		}
	}
	switch m.Protocol {
	case "", ProtocolHTTP1, ProtocolHTTP2:
	default:
		return bad("unknown protocol %q", m.Protocol)
	}
	o := m.Options
	switch o.LoadBalancing {
	case "", LBRoundRobin, LBLeastConnection:
	case LBHash:
		if o.HashHeader == "" {
			return bad("options.loadbalancing %q needs options.hash_header", LBHash)
		}
	default:
		return bad("options.loadbalancing %q is not %q, %q or %q", o.LoadBalancing, LBRoundRobin, LBLeastConnection, LBHash)
	}
	if !plain(o.HashHeader) {
		return bad("options.hash_header %q contains spaces or control characters", o.HashHeader)
	}
	if b := float64(o.HashBalance); !finite(b) || b < 0 {
		return bad("options.hash_balance %v must be a non-negative number", b)
	}
	return nil
}

// validateURI checks the shape of one route URI: a non-empty host, an
// optional path, nothing a request line could not carry.
func validateURI(u string) error {
	switch {
	case u == "":
		return fmt.Errorf("empty uri")
	case len(u) > MaxURILen:
		return fmt.Errorf("uri longer than %d bytes", MaxURILen)
	case !plain(u):
		return fmt.Errorf("uri %q contains spaces or control characters", u)
	case strings.Contains(u, "://"):
		return fmt.Errorf("uri %q has a scheme", u)
	}
	host, _, _ := strings.Cut(u, "/")
	if host == "" {
		return fmt.Errorf("uri %q has no host", u)
	}
	if strings.Contains(host[1:], "*") || (host[0] == '*' && !strings.HasPrefix(host, "*.")) || host == "*." {
		return fmt.Errorf("uri %q: a wildcard must be a whole leading label (*.example.com)", u)
	}
	return nil
}

// plain reports whether s has no spaces, control characters or DEL.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}
