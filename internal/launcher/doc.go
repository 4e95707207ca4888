// Package launcher runs a whole Anvil platform on one machine: the engine of
// `anvil dev up`, `down`, `status` and `logs`.
//
// # What Up does
//
// Up is a supervisor. In order, it
//
//  1. checks its inputs (state dir writable, Postgres binaries present, ports
//     free, root where a daemon needs it) and refuses to start on any problem;
//  2. takes the state dir (one supervisor per state dir, enforced with the
//     control socket);
//  3. creates or reuses the state: ports (state.json), an internal CA and the
//     certificates issued from it, the admin password and the UAA signing key;
//  4. starts a private Postgres cluster (initdb on first start) and creates one
//     database per daemon that needs one;
//  5. starts an embedded NATS server inside its own process;
//  6. renders one YAML config per daemon and starts each daemon whose binary
//     exists as its own OS process, in order, waiting for each one's /readyz;
//  7. writes endpoints.json and reports ready;
//  8. supervises: a daemon that exits is restarted with capped exponential
//     backoff, until ctx is cancelled or `anvil dev down` asks it to stop.
//
// Shutdown runs once, in reverse order, each step bounded: daemons (SIGTERM,
// then SIGKILL), NATS, Postgres. If any start-up step fails, everything
// already started is stopped again before Up returns, so nothing is left
// half-started.
//
// # State directory
//
//	DIR/state.json        ports and settings chosen on first start
//	DIR/endpoints.json    what a user needs (written when ready)
//	DIR/anvil.sock        control socket of the running supervisor
//	DIR/postgres/         the Postgres cluster
//	DIR/secrets/          CA, certificates, passwords, signing keys (0700)
//	DIR/config/NAME.yml   rendered daemon configs
//	DIR/logs/NAME.log     one log per daemon, plus anvil.log and postgres.log
//
// # Concurrency
//
// The supervisor's state (the process table) is guarded by one mutex in
// supervisor; the control server reads a snapshot of it. Each daemon has one
// goroutine that owns its process.
package launcher
