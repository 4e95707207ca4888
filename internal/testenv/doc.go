// Package testenv gives tests real infrastructure: a private PostgreSQL
// cluster, embedded NATS servers, a polling helper and a logger that writes
// through testing.TB. Import it only from _test.go files.
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
