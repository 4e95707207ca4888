package router

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// NATS subjects of the routing protocol.
const (
	SubjectRegister   = "router.register"
	SubjectUnregister = "router.unregister"
	SubjectStart      = "router.start"
	SubjectGreet      = "router.greet"
)

// Version is the current version of the messages in this package. See the
// package comment for its history.
const Version = 1

// Load-balancing algorithms a registration may ask for in
// [Options.LoadBalancing]. The empty string means the router's default.
const (
	LBRoundRobin      = "round-robin"
	LBLeastConnection = "least-connection"
	LBHash            = "hash"
)

// Protocols a backend may speak, in [RegistryMessage.Protocol]. The empty
// string means http1.
const (
	ProtocolHTTP1 = "http1"
	ProtocolHTTP2 = "http2"
)

// RegistryMessage is the body of router.register and router.unregister:
// one backend endpoint and the URIs it serves.
type RegistryMessage struct {
	// Version is the message version; 0 (absent, as CF sends it) means 1.
	Version int `json:"version,omitempty"`

	Host    string `json:"host"`
	Port    int    `json:"port"`
	TLSPort int    `json:"tls_port,omitempty"`
	// URIs are the routes this endpoint serves: a host (which may be a
	// wildcard "*.example.com") and an optional path.
	URIs []string `json:"uris"`

	App                  string `json:"app,omitempty"`
	PrivateInstanceID    string `json:"private_instance_id,omitempty"`
	PrivateInstanceIndex string `json:"private_instance_index,omitempty"`
	ServerCertDomainSAN  string `json:"server_cert_domain_san,omitempty"`
	RouteServiceURL      string `json:"route_service_url,omitempty"`

	Tags             map[string]string `json:"tags,omitempty"`
	IsolationSegment string            `json:"isolation_segment,omitempty"`
	// Protocol is ProtocolHTTP1, ProtocolHTTP2 or empty (http1).
	Protocol string `json:"protocol,omitempty"`
	// EndpointUpdatedAtNs is when the emitter last saw the endpoint change,
	// in Unix nanoseconds; 0 when unknown.
	EndpointUpdatedAtNs int64 `json:"endpoint_updated_at_ns,omitempty"`

	Options Options `json:"options,omitzero"`
}

// Options are per-route settings carried by a registration.
type Options struct {
	// LoadBalancing is LBRoundRobin, LBLeastConnection, LBHash or empty.
	LoadBalancing string `json:"loadbalancing,omitempty"`
	// HashHeader names the request header whose value is hashed; required
	// when LoadBalancing is LBHash.
	HashHeader string `json:"hash_header,omitempty"`
	// HashBalance bounds how far a hashed endpoint may be loaded above the
	// pool average before requests spill over; 0 means no bound.
	HashBalance Balance `json:"hash_balance,omitempty"`
}

// Balance is a float that decodes from a JSON number or a numeric string
// (emitters send both) and encodes as a number.
type Balance float64

// UnmarshalJSON accepts 1.5 and "1.5".
func (b *Balance) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		if s == "" {
			*b = 0
			return nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("hash_balance: %w", err)
		}
		*b = Balance(f)
		return nil
	}
	var f float64
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	*b = Balance(f)
	return nil
}

// StartMessage is the body of router.start and of the reply to
// router.greet.
type StartMessage struct {
	// ID identifies the router instance.
	ID string `json:"id"`
	// Hosts are the router's IP addresses.
	Hosts                            []string `json:"hosts"`
	MinimumRegisterIntervalInSeconds int      `json:"minimumRegisterIntervalInSeconds"`
	PruneThresholdInSeconds          int      `json:"pruneThresholdInSeconds"`
}

// Marshal encodes the start message.
func (m StartMessage) Marshal() ([]byte, error) {
	return json.Marshal(m)
}

// ParseStartMessage decodes a start message. It checks only what an
// emitter needs: a register interval it can use.
func ParseStartMessage(data []byte) (StartMessage, error) {
	var m StartMessage
	if len(data) > MaxMessageSize {
		return m, fmt.Errorf("start message: %d bytes exceeds %d", len(data), MaxMessageSize)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return StartMessage{}, fmt.Errorf("start message: %w", err)
	}
	if m.MinimumRegisterIntervalInSeconds < 0 || m.PruneThresholdInSeconds < 0 {
		return StartMessage{}, fmt.Errorf("start message: negative interval")
	}
	return m, nil
}

// Marshal validates and encodes the registry message.
func (m RegistryMessage) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
