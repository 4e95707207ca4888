// Package testenv gives tests real infrastructure: a private PostgreSQL
// cluster, embedded NATS servers, a way to run a daemon's units in-process, a
// polling helper, and loggers that write through testing.TB or record what is
// logged. Import it only from _test.go files.
//
// # Postgres and TestMain
//
// [Postgres] returns the DSN of a new, uniquely named database, so parallel
// tests never share tables. All databases of one test binary live in one
// throwaway cluster (fsync off, initdb --no-sync), started on first use.
// The testing package has no per-binary teardown hook other than TestMain,
// so a package that calls Postgres must have
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// [Main] runs the tests, then stops the cluster and deletes its directory.
// Without it Postgres fails the test and says so. Each database is dropped
// when the test that asked for it finishes. If the test binary dies before
// Main's teardown (a panic or -timeout), the kernel still kills the cluster
// (pgserver.Config.DieWithParent), but its directory under os.TempDir() is
// left behind.
//
// When the PostgreSQL binaries are missing (see pgserver for PG_BIN), tests
// that need Postgres are skipped, unless the CI environment variable is set:
// in CI they fail, because tests must never skip there.
//
// # NATS
//
// [NATS] starts a fresh embedded server on a random port for each call and
// shuts it down when the test ends.
//
// # Units
//
// [Start] runs a long-running unit (Run(ctx) error plus Ready) for the rest
// of the test: it returns once the unit is ready, fails the test if Run
// returns first, and at cleanup cancels Run and fails the test unless Run
// returns nil in time:
//
//	srv := ops.New(cfg, testenv.Logger(t), nil)
//	testenv.Start(t, srv)
//	url := "http://" + srv.Addr().String()
//
// # Logs
//
// [Logger] writes through t.Log. [LogRecorder] does too, and also keeps the
// lines, for tests that assert on what was logged:
//
//	rec := testenv.NewLogRecorder(t)
//	nc := connect(t, cfg, rec.Logger())
//	testenv.Eventually(t, 5*time.Second, func() error { return rec.Find("nats reconnected") })
//
// # Polling
//
// Tests never sleep. [Eventually] polls a condition with a short backoff until
// it holds or a deadline passes:
//
//	testenv.Eventually(t, 5*time.Second, func() error {
//		if !nc.IsConnected() {
//			return errors.New("not reconnected")
//		}
//		return nil
//	})
package testenv
