package cellregistry

import (
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/anvilpaas/anvil/internal/config"
)

// Defaults applied by [Config.Defaults]. With them a member that dies
// without leaving is declared failed about 3 s later in a cluster of up to
// 10 members and about 5 s later with 100: a probe round to notice it, then
// SuspicionMult × ProbeInterval × max(1, log10(members)) of suspicion (see
// the package documentation).
const (
	DefaultBind              = "0.0.0.0:7946"
	DefaultProbeInterval     = 500 * time.Millisecond
	DefaultProbeTimeout      = 250 * time.Millisecond
	DefaultSuspicionMult     = 4
	DefaultGossipInterval    = 100 * time.Millisecond
	DefaultJoinRetryInterval = time.Second
	DefaultLeaveTimeout      = 2 * time.Second

	// MaxJoinRetryInterval caps the backoff between join attempts.
	MaxJoinRetryInterval = 30 * time.Second
	// MaxSuspicionMult bounds SuspicionMult.
	MaxSuspicionMult = 100
)

// Config is the cell-registry section of a daemon's configuration: where
// this member listens and whom it joins. Every member of one cluster (reps,
// BBS, auctioneer) must agree on Cluster, SecretKey and, for predictable
// failure detection, on the timing fields.
type Config struct {
	// Bind is the IP:port to listen on, TCP and UDP on the same port, e.g.
	// "0.0.0.0:7946" (the default). An empty host means all interfaces;
	// port 0 picks a free port (tests: read it back with Registry.Addr).
	Bind string `yaml:"bind"`
	// Advertise is the IP, or IP:port, other members reach this one at,
	// when that is not the bind address (NAT, or several private IPs while
	// binding all interfaces). By default the bind IP, or the first private
	// IP when binding all interfaces, with the bind port.
	Advertise string `yaml:"advertise"`
	// Join lists seed members, "host:port" or "host" (then the bind port is
	// used); hosts may be DNS names. Joining is retried in the background
	// until a seed answers (see Registry.Run). Empty for the first member of
	// a cluster.
	Join []string `yaml:"join"`
	// NodeName is this member's unique name in the cluster. A cell's name
	// is always its cell_id: leave NodeName empty or set it to the cell_id.
	// An observer defaults to "observer-" and 12 random hex digits.
	NodeName string `yaml:"node_name"`
	// Cluster, when set, labels every packet, and members ignore packets
	// with another label, so two clusters sharing a network cannot merge by
	// accident. Up to 255 bytes.
	Cluster string `yaml:"cluster"`
	// SecretKey, when set, encrypts and authenticates all gossip with
	// AES-GCM: base64 (standard encoding) of 16, 24 or 32 random bytes,
	// e.g. `openssl rand -base64 32`. Members with another key, or none,
	// cannot join.
	SecretKey string `yaml:"secret_key"`
	// ProbeInterval is how often this member probes a random other member;
	// default 500ms. Lower detects failures sooner at the cost of traffic.
	ProbeInterval time.Duration `yaml:"probe_interval"`
	// ProbeTimeout is how long a probe waits for an answer before indirect
	// probes through other members start; default 250ms, and less than
	// ProbeInterval. It should exceed the network's 99th-percentile RTT.
	ProbeTimeout time.Duration `yaml:"probe_timeout"`
	// SuspicionMult scales how long a member that stopped answering is
	// suspected before it is declared failed, giving it time to refute:
	// SuspicionMult × ProbeInterval × max(1, log10(members)); default 4.
	SuspicionMult int `yaml:"suspicion_mult"`
	// GossipInterval is how often queued updates (joins, metadata changes,
	// failures) are gossiped to a few random members; default 100ms.
	GossipInterval time.Duration `yaml:"gossip_interval"`
	// JoinRetryInterval is the first wait after a failed join; it doubles
	// per failure, with jitter, up to MaxJoinRetryInterval; default 1s.
	JoinRetryInterval time.Duration `yaml:"join_retry_interval"`
	// LeaveTimeout bounds the graceful leave when Run's context ends:
	// announcing the leave and waiting for it to be gossiped; default 2s.
	LeaveTimeout time.Duration `yaml:"leave_timeout"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Bind == "" {
		c.Bind = DefaultBind
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = DefaultProbeInterval
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = DefaultProbeTimeout
	}
	if c.SuspicionMult == 0 {
		c.SuspicionMult = DefaultSuspicionMult
	}
	if c.GossipInterval == 0 {
		c.GossipInterval = DefaultGossipInterval
	}
	if c.JoinRetryInterval == 0 {
		c.JoinRetryInterval = DefaultJoinRetryInterval
	}
	if c.LeaveTimeout == 0 {
		c.LeaveTimeout = DefaultLeaveTimeout
	}
}

// Validate reports every problem, joined. Call it after Defaults.
func (c *Config) Validate() error {
	var p config.Problems
	if _, _, err := parseBind(c.Bind); err != nil {
		p.Add("bind", err)
	}
	if c.Advertise != "" {
		if _, _, err := parseAdvertise(c.Advertise); err != nil {
			p.Add("advertise", err)
		}
	}
	for i, j := range c.Join {
		if err := checkSeed(j); err != nil {
			p.Add("join["+strconv.Itoa(i)+"]", err)
		}
	}
	if strings.TrimSpace(c.NodeName) != c.NodeName {
		p.Addf("node_name %q has leading or trailing space", c.NodeName)
	}
	if len(c.Cluster) > memberlist.LabelMaxSize {
		p.Addf("cluster is %d bytes, at most %d", len(c.Cluster), memberlist.LabelMaxSize)
	}
	if _, err := decodeKey(c.SecretKey); err != nil {
		p.Add("secret_key", err)
	}
	if c.ProbeInterval <= 0 {
		p.Addf("probe_interval %v is not positive", c.ProbeInterval)
	}
	if c.ProbeTimeout <= 0 {
		p.Addf("probe_timeout %v is not positive", c.ProbeTimeout)
	} else if c.ProbeInterval > 0 && c.ProbeTimeout >= c.ProbeInterval {
		p.Addf("probe_timeout %v must be less than probe_interval %v", c.ProbeTimeout, c.ProbeInterval)
	}
	if c.SuspicionMult < 1 || c.SuspicionMult > MaxSuspicionMult {
		p.Addf("suspicion_mult %d is outside 1..%d", c.SuspicionMult, MaxSuspicionMult)
	}
	if c.GossipInterval <= 0 {
		p.Addf("gossip_interval %v is not positive", c.GossipInterval)
	}
	if c.JoinRetryInterval <= 0 || c.JoinRetryInterval > MaxJoinRetryInterval {
		p.Addf("join_retry_interval %v is outside (0, %v]", c.JoinRetryInterval, MaxJoinRetryInterval)
	}
	if c.LeaveTimeout <= 0 {
		p.Addf("leave_timeout %v is not positive", c.LeaveTimeout)
	}
	return p.Err()
}

// parseBind splits Bind into memberlist's BindAddr and BindPort. The host
// must be an IP literal (memberlist binds IPs, not names); empty means all
// interfaces.
func parseBind(s string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := parsePort(portStr, true)
	if err != nil {
		return "", 0, err
	}
	if host == "" {
		host = "0.0.0.0"
	} else if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("host %q is not an IP address", host)
	}
	return host, port, nil
}

// parseAdvertise splits Advertise, "IP" or "IP:port", into an IP and a
// port (0 when absent: use the bind port).
func parseAdvertise(s string) (string, int, error) {
	host, port := s, 0
	if h, p, err := net.SplitHostPort(s); err == nil {
		if port, err = parsePort(p, false); err != nil {
			return "", 0, err
		}
		host = h
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("%q is not an IP address or IP:port", s)
	}
	return host, port, nil
}

// checkSeed accepts what memberlist's Join accepts for one seed:
// "host:port" or a bare host.
func checkSeed(s string) error {
	if s == "" {
		return fmt.Errorf("empty address")
	}
	if strings.ContainsAny(s, " \t\r\n/") {
		return fmt.Errorf("%q contains a space or slash", s)
	}
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		// A bare host; IPv6 without brackets or stray colons land here too.
		if strings.Contains(s, ":") && net.ParseIP(s) == nil {
			return fmt.Errorf("%q is not host or host:port", s)
		}
		return nil
	}
	if host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	_, err = parsePort(p, false)
	return err
}

func parsePort(s string, zeroOK bool) (int, error) {
	port, err := strconv.Atoi(s)
	if err != nil || port < 0 || port > 65535 || (port == 0 && !zeroOK) {
		return 0, fmt.Errorf("port %q is not a valid port", s)
	}
	return port, nil
}

// decodeKey decodes SecretKey; empty means no encryption.
func decodeKey(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not valid base64 (standard encoding)")
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	default:
		return nil, fmt.Errorf("decodes to %d bytes, want 16, 24 or 32", len(key))
	}
}
