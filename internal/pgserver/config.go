package pgserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// DefaultBinDir is where Debian and Ubuntu install the PostgreSQL 15 server
// binaries. It is used when neither Config.BinDir nor $PG_BIN is set.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// Superuser is the database superuser created by initdb. It has no password:
// authentication is trust, and only loopback clients can connect.
const Superuser = "postgres"

const defaultStartTimeout = time.Minute

// Config describes one cluster.
type Config struct {
	// BinDir holds initdb and postgres. Empty means $PG_BIN, or
	// DefaultBinDir if that is unset.
	BinDir string

	// DataDir is the cluster directory (PGDATA). Required. It is created if
	// missing and initialised if it has no PG_VERSION file.
	DataDir string

	// Port is the TCP port on 127.0.0.1. 0 picks a free port at each Start.
	Port int

	// User is the OS account that runs initdb and postgres when the caller
	// is root. Empty means "postgres" if that account exists, else
	// "nobody". Ignored when not running as root.
	User string

	// LogFile receives postgres's stdout and stderr (appended). Empty means
	// DataDir/log/postgres.log.
	LogFile string

	// NoSync trades crash safety for speed, for throwaway clusters: initdb
	// --no-sync, fsync=off, synchronous_commit=off, full_page_writes=off.
	NoSync bool

	// DieWithParent makes the kernel SIGKILL the postmaster when the calling
	// process dies (Linux only). Use it for throwaway clusters; leave it off
	// for a cluster that may outlive the launcher.
	DieWithParent bool

	// Settings are extra server parameters passed as -c name=value, for
	// example {"max_connections": "200"}.
	Settings map[string]string

	// StartTimeout bounds how long Start waits for the server to accept
	// connections, in addition to ctx. Default one minute.
	StartTimeout time.Duration
}

// withDefaults fills the zero fields and validates the rest.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.BinDir == "" {
		c.BinDir = os.Getenv("PG_BIN")
	}
	if c.BinDir == "" {
		c.BinDir = DefaultBinDir
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir is required"))
	} else {
		abs, err := filepath.Abs(c.DataDir)
		if err != nil {
			errs = append(errs, fmt.Errorf("data dir: %w", err))
		}
		c.DataDir = abs
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d out of range", c.Port))
	}
	if c.LogFile == "" && c.DataDir != "" {
		c.LogFile = filepath.Join(c.DataDir, "log", "postgres.log")
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = defaultStartTimeout
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("invalid config: %w", err)
	}
	return c, nil
}

// checkBinaries reports ErrBinariesNotFound unless binDir holds executable
// initdb and postgres files.
func checkBinaries(binDir string) error {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(binDir, name))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%w in %s: install postgresql-15 or set PG_BIN", ErrBinariesNotFound, binDir)
		}
	}
	return nil
}
