// Package rep is Diego's rep: the agent on every cell. It advertises the
// cell's capacity in the cell registry, takes work from the auctioneer
// (RepService over mutual TLS, api/rep/v1), runs app instances and tasks
// in containers through a container runtime (containerd), health-checks
// them, reports their state to the BBS, and evacuates when the cell
// drains. It follows Cloud Foundry's rep and executor.
//
// The exported surface is Config, Deps (with the LogSink and MetricSink
// the loggregator client will implement), New and the Rep's Run, Ready
// and Addr.
//
// # Lifecycle
//
// New validates the config, works out the capacity (memory and disk
// default to the machine's minus a reserve) and builds the gRPC server,
// the ops server and the cell registry member, touching nothing. Run:
//
//  1. checks the container runtime (Runtime.Available) and fails with its
//     message when it cannot be used: the rep never runs apps without
//     containers;
//  2. imports the stacks (EnsureStack), cleans up what crashes left
//     (Cleanup), and recovers the containers a previous rep left: their
//     labels give back the allocations, and the processes are reattached;
//  3. serves RepService and ops, joins the cell registry with the cell's
//     presence (its rep_address is the bound gRPC address, or
//     advertise_address), and closes Ready;
//  4. bulk-syncs with the BBS every bulk_sync_interval (the first at
//     once), which also destroys recovered containers the BBS no longer
//     wants, and reports container metrics every metrics_interval.
//
// When ctx is cancelled (SIGTERM), the cell evacuates: State reports
// evacuating and Perform refuses new work; every evacuation.poll_interval
// each running instance is handed over with EvacuateRunningActualLRP and
// kept while the BBS says keep_container (until its replacement runs
// elsewhere), instances not yet running are given back
// (EvacuateClaimedActualLRP), and tasks run on. When nothing is left, or
// after evacuation.timeout, everything still running is stopped. Then the
// cell leaves the registry, the servers stop (gRPC gracefully, within
// rpc.shutdown_timeout) and Run returns nil. The gRPC server keeps serving
// during evacuation, so the BBS can still stop instances. If a listener
// fails instead, Run returns its error without evacuating: containers are
// left running for the next rep to recover. POST /evacuate on the ops
// listener (loopback by default) starts the same drain without a signal,
// as Diego's rep admin endpoint does; Run returns once it is done.
//
// # Layout
//
//   - internal/executor: reservations, the instance and task lifecycles,
//     recovery, bulk sync, evacuation, metrics (see its doc);
//   - internal/server: RepService, validation, error codes;
//   - internal/download: droplet and package downloads, checksums, cache;
//   - internal/appenv: the app's environment (VCAP_APPLICATION, CF_INSTANCE_*);
//   - internal/healthcheck: port and HTTP probes with Diego's messages;
//   - internal/logstream: app output to log lines, rate limits;
//   - internal/bbsclient: the BBS connection, retrying while no BBS serves;
//   - internal/capacity: the machine's memory and disk;
//   - internal/runtime, internal/containerd: the container runtime;
//   - internal/fakebbs: an in-memory BBS for tests.
//
// # Metrics
//
// Besides the rpc, cell registry and Go runtime metrics: rep_containers
// (by state), rep_capacity_total and rep_capacity_remaining (by resource),
// rep_starting_containers, rep_health_check_failures_total (by check),
// rep_crashes_reported_total, rep_tasks_completed_total (by result),
// rep_downloads_total (by cache hit or miss), rep_download_failures_total,
// rep_bulk_sync_duration_seconds, rep_evacuating and
// rep_evacuation_duration_seconds.
package rep
