// Package pgserver runs a private PostgreSQL 15 cluster from the stock
// binaries (initdb and postgres), for the `anvil dev up` launcher and for
// tests. It is not a production deployment tool: the cluster listens on
// 127.0.0.1 only, has no Unix socket and trusts every loopback connection.
//
// # Lifecycle
//
// [Start] takes a data directory. If the directory holds no PG_VERSION file
// it is initialised with initdb first (superuser [Superuser], trust
// authentication, UTF8 encoding, C locale); otherwise the existing cluster is
// reused, so the launcher keeps its data between runs. Start then runs the
// postgres binary directly (no pg_ctl) and returns only once a real client
// connection succeeds. If postgres exits during start-up, or ctx or
// [Config.StartTimeout] runs out, Start kills it and returns an error that
// carries the tail of the server log.
//
//	srv, err := pgserver.Start(ctx, pgserver.Config{DataDir: dir}, logger)
//	if err != nil {
//		return err
//	}
//	defer srv.Stop(context.WithoutCancel(ctx))
//	if err := srv.CreateDatabase(ctx, "ccdb"); err != nil {
//		return err
//	}
//	dsn := srv.DSN("ccdb")
//
// [Server.Stop] asks for a fast shutdown (SIGINT: roll back open transactions,
// checkpoint, exit), waits until ctx is done and then SIGKILLs the whole
// process group. It is idempotent and safe for concurrent use. [Server.Done]
// is closed when the postmaster exits for any reason, so a launcher can notice
// a crash.
//
// A process that did not start the cluster (for example `anvil dev down`)
// stops it with [StopDataDir], which reads postmaster.pid; [RunningPid] tells
// whether a postmaster currently owns a data directory. Start refuses a data
// directory that is still in use ([ErrAlreadyRunning]).
//
// # Signals and process groups
//
// The postmaster runs in its own process group (Setpgid), so a Ctrl-C on the
// launcher's terminal does not reach it and the launcher decides the shutdown
// order. With [Config.DieWithParent] the kernel SIGKILLs the postmaster when
// the process that started it dies, which keeps crashed or timed-out test
// binaries from leaking clusters. (Linux ties this to the OS thread that
// forked the child; Go only retires threads whose goroutine exits while
// locked with runtime.LockOSThread, so do not call Start from such a
// goroutine.)
//
// # Root and the unprivileged user
//
// postgres refuses to run as root. When the calling process has euid 0
// (CI containers, dev boxes), initdb and postgres run with the credentials of
// [Config.User] (default "postgres" if that account exists, else "nobody"),
// and Start chowns to that user the data directory of a new cluster, every
// parent directory it had to create, and the default log directory. The
// user must be able to traverse every existing parent of the data directory;
// Start checks this up front and says which directory is in the way.
// t.TempDir() directories are 0700 and owned by root, so tests should make
// their data directory with os.MkdirTemp(os.TempDir(), …) instead. The
// server log is opened by the calling process and handed to postgres as an
// inherited file, so its location needs no permissions for that user. When
// not running as root, everything runs as the current user and User is
// ignored.
package pgserver
