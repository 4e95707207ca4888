package launcher

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/anvilpaas/anvil/internal/pgserver"
	"github.com/anvilpaas/anvil/internal/pki"
)

// stateVersion is the layout version of state.json. History:
//
//	1: ports and secrets.
const stateVersion = 1

// state is what the launcher remembers between runs, in DIR/state.json
// (mode 0600: it holds generated secrets).
type state struct {
	Version int `json:"version"`
	// Ports maps "daemon/name" (or "postgres", "nats") to a loopback port.
	Ports map[string]int `json:"ports"`
	// Secrets maps a secret's name to its generated value.
	Secrets map[string]string `json:"secrets"`
	// PostgresDir is the Postgres data dir, DIR/postgres unless the
	// account that runs postgres cannot reach the state dir.
	PostgresDir string `json:"postgres_dir,omitempty"`
}

// sharedPostgresRoot holds the Postgres data dirs of state dirs that the
// postgres account cannot reach (a checkout under /root, say).
const sharedPostgresRoot = "/var/lib/anvil"

// postgresDir returns the Postgres data dir of this state dir, choosing it on
// first use. When running as root, postgres runs as an unprivileged account
// that must be able to reach its data dir; a state dir under a private home
// gets its cluster under /var/lib/anvil instead.
func (st *state) postgresDir(l layout) (string, error) {
	if st.PostgresDir != "" {
		return st.PostgresDir, nil
	}
	dir := l.postgresDir()
	if err := pgserver.CheckReachable("", dir); err != nil {
		sum := sha256.Sum256([]byte(l.dir))
		dir = filepath.Join(sharedPostgresRoot, "dev-"+hex.EncodeToString(sum[:6]), "postgres")
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return "", fmt.Errorf("postgres cannot reach %s and %s is not writable: %w", l.dir, sharedPostgresRoot, err)
		}
		if err := pgserver.CheckReachable("", dir); err != nil {
			return "", fmt.Errorf("postgres data dir: %w", err)
		}
	}
	st.PostgresDir = dir
	return dir, nil
}

// layout names the paths inside a state dir.
type layout struct{ dir string }

func (l layout) path(elem ...string) string {
	return filepath.Join(append([]string{l.dir}, elem...)...)
}
func (l layout) stateFile() string             { return l.path("state.json") }
func (l layout) endpointsFile() string         { return l.path("endpoints.json") }
func (l layout) socket() string                { return l.path("anvil.sock") }
func (l layout) lockFile() string              { return l.path("anvil.lock") }
func (l layout) postgresDir() string           { return l.path("postgres") }
func (l layout) secretsDir() string            { return l.path("secrets") }
func (l layout) configFile(name string) string { return l.path("config", name+".yml") }
func (l layout) logFile(name string) string    { return l.path("logs", name+".log") }
func (l layout) pidFile(name string) string    { return l.path("run", name+".pid") }

// prepare creates the state dir's folders and checks it is writable.
func (l layout) prepare() error {
	for _, d := range []string{l.dir, l.path("config"), l.path("logs"), l.path("run")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("state dir %s is not writable: %w", l.dir, err)
		}
	}
	if err := os.MkdirAll(l.secretsDir(), 0o700); err != nil {
		return fmt.Errorf("state dir %s is not writable: %w", l.dir, err)
	}
	probe := l.path(".write-test")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		return fmt.Errorf("state dir %s is not writable: %w", l.dir, err)
	}
	return os.Remove(probe)
}

func loadState(l layout) (*state, error) {
	st := &state{Version: stateVersion, Ports: map[string]int{}, Secrets: map[string]string{}}
	data, err := os.ReadFile(l.stateFile())
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("read state %s: %w (remove the state dir to start afresh)", l.stateFile(), err)
	}
	if st.Version > stateVersion {
		return nil, fmt.Errorf("state %s has version %d, this anvil knows up to %d", l.stateFile(), st.Version, stateVersion)
	}
	if st.Ports == nil {
		st.Ports = map[string]int{}
	}
	if st.Secrets == nil {
		st.Secrets = map[string]string{}
	}
	return st, nil
}

func (st *state) save(l layout) error {
	st.Version = stateVersion
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return writeFileAtomic(l.stateFile(), data, 0o600)
}

// port returns the remembered port for key, or picks a free loopback port
// when there is none or the remembered one is now taken.
func (st *state) port(key string) (int, error) {
	if p, ok := st.Ports[key]; ok && portFree(p) {
		return p, nil
	}
	p, err := freePort()
	if err != nil {
		return 0, fmt.Errorf("pick a port for %s: %w", key, err)
	}
	st.Ports[key] = p
	return p, nil
}

// secret returns the named secret, generating it on first use.
func (st *state) secret(name string) string {
	if v, ok := st.Secrets[name]; ok {
		return v
	}
	v := randomString(24)
	st.Secrets[name] = v
	return v
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return base64.RawURLEncoding.EncodeToString(b)
}

func freePort() (int, error) { return FreePort() }

// FreePort returns a loopback port that is free now and lies below the
// kernel's ephemeral port range. A daemon binds its port some time after
// it was chosen, and ports in that range are also handed out as the local
// ports of outgoing connections, which could take it meanwhile.
func FreePort() (int, error) {
	low := 32768
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > 2048 {
				low = v
			}
		}
	}
	lo := max(low-12000, 1024)
	for range 1000 {
		port := lo + mrand.IntN(low-lo)
		if portFree(port) {
			return port, nil
		}
	}
	// Crowded below the range: let the kernel pick.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portFree reports whether port can be bound on loopback right now.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// secrets holds the key material of a state dir.
type secrets struct {
	ca          *pki.CA
	caFile      string
	uaaKeyFile  string
	certs       map[string]pki.Files
	secretsPath string
}

// loadSecrets loads or creates the CA and the UAA signing key.
func loadSecrets(l layout) (*secrets, error) {
	dir := l.secretsDir()
	caFiles := pki.FilesIn(dir, "ca")
	var ca *pki.CA
	if _, err := os.Stat(caFiles.Cert); err == nil {
		if ca, err = pki.LoadCAFiles(caFiles); err != nil {
			return nil, fmt.Errorf("load CA: %w", err)
		}
	} else {
		var err error
		if ca, err = pki.NewCA("Anvil dev CA", 10*365*24*time.Hour); err != nil {
			return nil, fmt.Errorf("create CA: %w", err)
		}
		if caFiles, err = ca.WriteFiles(dir, "ca"); err != nil {
			return nil, fmt.Errorf("write CA: %w", err)
		}
	}
	s := &secrets{ca: ca, caFile: caFiles.Cert, certs: map[string]pki.Files{}, secretsPath: dir}
	s.uaaKeyFile = filepath.Join(dir, "uaa-signing-key.pem")
	if _, err := os.Stat(s.uaaKeyFile); errors.Is(err, fs.ErrNotExist) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate UAA signing key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("encode UAA signing key: %w", err)
		}
		if err := writeFileAtomic(s.uaaKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// cert returns the certificate files of daemon name, issuing them on first
// use. Every daemon certificate is valid for server and client use on
// loopback and for the extra DNS names given.
func (s *secrets) cert(name string, dnsNames ...string) (pki.Files, error) {
	if f, ok := s.certs[name]; ok {
		return f, nil
	}
	f := pki.FilesIn(s.secretsPath, name)
	if _, err := pki.LoadCertFiles(f); err == nil {
		s.certs[name] = f
		return f, nil
	}
	c, err := s.ca.Issue(pki.IssueRequest{
		CommonName: name,
		DNSNames:   append([]string{"localhost", name + ".service.internal"}, dnsNames...),
		IPs:        []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		Server:     true,
		Client:     true,
		Validity:   2 * 365 * 24 * time.Hour,
	})
	if err != nil {
		return pki.Files{}, fmt.Errorf("issue certificate for %s: %w", name, err)
	}
	if f, err = c.WriteFiles(s.secretsPath, name); err != nil {
		return pki.Files{}, fmt.Errorf("write certificate for %s: %w", name, err)
	}
	s.certs[name] = f
	return f, nil
}

// writeFileAtomic writes data to a temp file beside path, syncs it and
// renames it over path.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
