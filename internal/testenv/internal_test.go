package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/pgserver"
)

// recordingTB records Fatalf and Skipf instead of stopping the goroutine.
type recordingTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
}
func (r *recordingTB) Skipf(format string, args ...any) {
	r.skip = fmt.Sprintf(format, args...)
}

func TestRequireMain(t *testing.T) {
	t.Parallel()
	r := &recordingTB{TB: t}
	if requireMain(r, true); r.fatal != "" {
		t.Fatalf("failed although Main was called: %s", r.fatal)
	}
	if ok := requireMain(r, false); ok || !strings.Contains(r.fatal, "func TestMain(m *testing.M) { testenv.Main(m) }") {
		t.Fatalf("ok = %v, message = %q: want a failure that shows the TestMain to add", ok, r.fatal)
	}
}

func TestStartFailedSkipsOnlyOutsideCI(t *testing.T) {
	// t.Setenv: not parallel.
	missing := fmt.Errorf("start postgres: %w in /x: install postgresql-15 or set PG_BIN", pgserver.ErrBinariesNotFound)
	other := errors.New("start postgres: port in use")
	tests := []struct {
		name      string
		ci        string
		err       error
		wantSkip  bool
		wantFatal bool
	}{
		{"missing binaries on a laptop", "", missing, true, false},
		{"missing binaries in CI", "true", missing, false, true},
		{"other error on a laptop", "", other, false, true},
		{"other error in CI", "true", other, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recordingTB{TB: t}
			startFailed(r, tt.err)
			if (r.skip != "") != tt.wantSkip || (r.fatal != "") != tt.wantFatal {
				t.Fatalf("skip = %q, fatal = %q; want skip %v, fatal %v", r.skip, r.fatal, tt.wantSkip, tt.wantFatal)
			}
			if msg := r.skip + r.fatal; !strings.Contains(msg, tt.err.Error()) {
				t.Errorf("message %q does not carry the cause", msg)
			}
		})
	}
}

func TestDBName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		test string
		seq  int64
		want string
	}{
		{"TestFoo", 1, "t_testfoo_1"},
		{"TestFoo/sub-test #01", 12, "t_testfoo_sub_test__01_12"},
		{strings.Repeat("TestVeryLongName", 10), 999999, "t_testverylongnametestverylongnametestverylo_999999"},
	}
	for _, tt := range tests {
		got := dbName(tt.test, tt.seq)
		if got != tt.want {
			t.Errorf("dbName(%q, %d) = %q, want %q", tt.test, tt.seq, got, tt.want)
		}
		if len(got) > 63 {
			t.Errorf("dbName(%q) is %d bytes, over Postgres's 63", tt.test, len(got))
		}
	}
}

func TestSweepStale(t *testing.T) {
	t.Parallel()
	mk := func(age time.Duration, pidFile string) string {
		dir, err := os.MkdirTemp(os.TempDir(), dirPrefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if pidFile != "" {
			if err := os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte(pidFile), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(dir, old, old); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	stale := mk(2*time.Hour, "")
	// A pid that cannot exist: the postmaster was SIGKILLed long ago.
	staleWithPid := mk(2*time.Hour, "2147483646\n/data\n")
	young := mk(time.Minute, "")
	// An old directory whose postmaster is alive: the shared cluster.
	Postgres(t)
	live := shared.dir
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(live, old, old); err != nil {
		t.Fatal(err)
	}
	sweepStale()
	for dir, wantGone := range map[string]bool{stale: true, staleWithPid: true, young: false, live: false} {
		_, err := os.Stat(dir)
		if gone := errors.Is(err, os.ErrNotExist); gone != wantGone {
			t.Errorf("%s: gone = %v, want %v", dir, gone, wantGone)
		}
	}
}

// stuckUnit gets ready, then ignores its context until released.
type stuckUnit struct {
	ready, release chan struct{}
}

func (u stuckUnit) Run(context.Context) error { close(u.ready); <-u.release; return nil }
func (u stuckUnit) Ready() <-chan struct{}    { return u.ready }

func TestStopFailsWhenRunIgnoresCancel(t *testing.T) {
	t.Parallel()
	u := stuckUnit{ready: make(chan struct{}), release: make(chan struct{})}
	defer close(u.release)
	r := &recordingTB{TB: t}
	stop := start(r, u, 50*time.Millisecond)
	began := time.Now()
	if err := stop(); err == nil {
		t.Error("stop returned nil although Run never returned")
	}
	if !strings.Contains(r.fatal, "did not return within 50ms") {
		t.Errorf("fatal = %q, want a message that Run did not return", r.fatal)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("stop gave up after %v, timeout was 50ms", d)
	}
}
