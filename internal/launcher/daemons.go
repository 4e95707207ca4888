package launcher

import (
	"net/url"
	"strconv"

	"github.com/anvilpaas/anvil/internal/pki"
)

// Daemon describes one Anvil daemon to the launcher: what it needs before it
// starts and how to render its config. Each component's issue adds its row
// to Daemons.
type Daemon struct {
	// Name is the daemon's name: its binary in BinDir, its config and log
	// file names.
	Name string
	// Databases are the Postgres databases created before it starts.
	Databases []string
	// Ports are named loopback ports allocated for it (remembered between
	// runs). "ops" (its /metrics, /healthz, /readyz listener) is always
	// allocated.
	Ports []string
	// NeedsRoot makes preflight fail when not running as root.
	NeedsRoot bool
	// Preflight checks machine requirements (a containerd socket, say)
	// before anything starts. Nil means none.
	Preflight func() error
	// Render returns the daemon's config, marshalled to YAML as given.
	Render func(env *Env) (any, error)

	// System names a binary of the machine, looked up in PATH, that runs
	// instead of BinDir/Name (containerd). Such a row starts only when the
	// daemon named by With is built, and then its binary must exist.
	System string
	With   string
	// RenderRaw, instead of Render, returns the config file's bytes as
	// they are (containerd reads TOML); ConfigName names the file.
	RenderRaw  func(env *Env) ([]byte, error)
	ConfigName string
	// Args are the daemon's arguments given its config file; default
	// -config FILE.
	Args func(configFile string) []string
	// ReadyPath is the path polled on the ops port until it answers 200;
	// default /readyz.
	ReadyPath string
	// Prepare runs before the config is rendered, to create what the
	// daemon needs on disk (a stack directory).
	Prepare func(env *Env) error
}

// Daemons is the platform's daemon table, in start order. Daemons whose
// binary is not in BinDir are skipped, so the table may name daemons that a
// given build does not have yet.
func Daemons() []Daemon {
	return []Daemon{
		uaaDaemon(),
		loggregatorDaemon(),
		blobstoreDaemon(),
		cloudControllerDaemon(),
		bbsDaemon(),
		auctioneerDaemon(),
		containerdDaemon(),
		repDaemon(),
		routeEmitterDaemon(),
		gorouterDaemon(),
	}
}

// Env is what a daemon's Render function may use.
type Env struct {
	opts    Options
	st      *state
	sec     *secrets
	pgPort  int
	natsURL string
	layout  layout
}

// Port returns the loopback port named name of daemon.
func (e *Env) Port(daemon, name string) int {
	return e.st.Ports[daemon+"/"+name]
}

// Addr returns "127.0.0.1:PORT" for a daemon's named port.
func (e *Env) Addr(daemon, name string) string {
	return "127.0.0.1:" + strconv.Itoa(e.Port(daemon, name))
}

// DSN returns the connection URL of database db.
func (e *Env) DSN(db string) string {
	return (&url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     "127.0.0.1:" + strconv.Itoa(e.pgPort),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}).String()
}

// NATSURL returns the NATS client URL with credentials.
func (e *Env) NATSURL() string { return e.natsURL }

// Secret returns a named generated secret, stable across runs.
func (e *Env) Secret(name string) string { return e.st.secret(name) }

// AdminPassword returns the generated password of the admin user.
func (e *Env) AdminPassword() string { return e.st.secret("admin_password") }

// CAFile returns the path of the internal CA certificate.
func (e *Env) CAFile() string { return e.sec.caFile }

// UAASigningKeyFile returns the path of the UAA's RSA signing key.
func (e *Env) UAASigningKeyFile() string { return e.sec.uaaKeyFile }

// Cert returns the certificate files of daemon name.
func (e *Env) Cert(name string) (pki.Files, error) { return e.sec.cert(name) }

// DataDir returns the directory where daemon name keeps its data, DIR/data/NAME
// (created by the daemon).
func (e *Env) DataDir(name string) string { return e.layout.path("data", name) }

// LogLevel returns the log level daemons run at.
func (e *Env) LogLevel() string { return "info" }

// Options returns the launcher options (domains, ports).
func (e *Env) Options() Options { return e.opts }

// Endpoints returns the public endpoints of the platform.
func (e *Env) Endpoints() Endpoints { return endpointsFor(e) }

func (d Daemon) ports() []string {
	out := []string{"ops"}
	for _, p := range d.Ports {
		if p != "ops" {
			out = append(out, p)
		}
	}
	return out
}
