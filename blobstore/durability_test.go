package blobstore_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore"
	"github.com/anvilpaas/anvil/internal/blobclient"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// crashHelperEnv makes the test binary run a blobstore on the named
// directory instead of the tests (see TestCrashDuringUpload).
const crashHelperEnv = "BLOBSTORE_TEST_CRASH_HELPER_DIR"

func runCrashHelper(dir string) {
	cfg := baseConfig(dir)
	b, err := blobstore.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	go func() {
		<-b.Ready()
		fmt.Printf("ADDR %s\n", b.Addr())
	}()
	if err := b.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// TestCrashDuringUpload kills (SIGKILL) a blobstore process in the middle
// of an upload, then starts a new one on the same directory: the upload is
// not visible, the half-written temp file is swept, and an object stored
// before the crash is intact.
func TestCrashDuringUpload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		t.Fatalf("helper did not report its address: %q %v", line, err)
	}
	base := "http://" + strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))
	client, err := blobclient.New(blobclient.Config{URL: base, SharedSecret: sharedSecret})
	if err != nil {
		t.Fatal(err)
	}
	survivor := bytes.Repeat([]byte("committed before the crash "), 10_000)
	if _, err := client.Put(context.Background(), apiblob.BucketDroplets, "survivor", bytes.NewReader(survivor), blobclient.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	// Upload 64 MiB but send only 8 MiB, then kill the server.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := client.Put(context.Background(), apiblob.BucketDroplets, "half", pr, blobclient.PutOptions{Size: 64 << 20})
		done <- err
	}()
	if _, err := pw.Write(bytes.Repeat([]byte{'h'}, 8<<20)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		for _, name := range tempFiles(t, dir) {
			if st, err := os.Stat(filepath.Join(dir, "tmp", name)); err == nil && st.Size() >= 8<<20 {
				return nil
			}
		}
		return errors.New("the upload has not reached the server's temp file yet")
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	pw.CloseWithError(errors.New("server killed"))
	if err := <-done; err == nil {
		t.Fatal("upload to a killed server succeeded")
	}
	if len(tempFiles(t, dir)) == 0 {
		t.Fatal("no temp file after the crash: the test did not catch the upload in flight")
	}
	if _, err := os.Stat(filepath.Join(dir, "objects", "droplets", "half")); !os.IsNotExist(err) {
		t.Fatalf("half-written object visible after the crash: %v", err)
	}

	// Restart on the same directory.
	f := startWith(t, baseConfig(dir))
	if files := tempFiles(t, dir); len(files) != 0 {
		t.Errorf("temp files not swept at start: %v", files)
	}
	if _, err := f.client.Head(context.Background(), apiblob.BucketDroplets, "half"); !errors.Is(err, blobclient.ErrNotFound) {
		t.Errorf("HEAD of the interrupted upload = %v, want not found", err)
	}
	if got := f.get(t, apiblob.BucketDroplets, "survivor"); !bytes.Equal(got, survivor) {
		t.Error("object committed before the crash changed")
	}
}

// TestSecondProcessRefused: two blobstores cannot share a directory.
func TestSecondProcessRefused(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	b, err := blobstore.New(baseConfig(f.cfg.Storage.Dir), testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	err = b.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "in use by another blobstore process") {
		t.Fatalf("second Run = %v", err)
	}
}

// mountTmpfs mounts a tmpfs of size on a new directory for the test. It
// skips where mounting is impossible (not root, no CAP_SYS_ADMIN) unless CI
// is set: in CI the disk-full test must run.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+size+",mode=0700"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount tmpfs (the disk-full test needs root in CI): %v", err)
		}
		t.Skipf("cannot mount a tmpfs to fill (run as root): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestDiskFull fills a real 8 MiB filesystem: uploads that do not fit fail
// with a clean 507, leave no partial file, and do not disturb stored
// objects; once space is free again uploads succeed.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	dir := mountTmpfs(t, "8m")
	f := startWith(t, baseConfig(filepath.Join(dir, "store")))
	store := f.cfg.Storage.Dir
	first := bytes.Repeat([]byte{1}, 5<<20)
	f.put(t, apiblob.BucketDroplets, "first", first)

	big := bytes.Repeat([]byte{2}, 5<<20)
	// Known length: the space reservation fails at once.
	do(t, nil, "PUT", f.objectURL(apiblob.BucketDroplets, "second"), bytes.NewReader(big), header{"secret": ""}).
		wantError(t, 507, apiblob.CodeInsufficientStorage, "disk is full", "nothing was stored")
	// Unknown length: a write fails midway.
	do(t, nil, "PUT", f.objectURL(apiblob.BucketDroplets, "second"), struct{ io.Reader }{bytes.NewReader(big)}, header{"secret": ""}).
		wantError(t, 507, apiblob.CodeInsufficientStorage)
	// A copy that does not fit.
	do(t, nil, "POST", f.URL+apiblob.CopyPath, strings.NewReader(`{"source":{"bucket":"droplets","key":"first"},"destination":{"bucket":"droplets","key":"copy"}}`), header{"secret": ""}).
		wantError(t, 507, apiblob.CodeInsufficientStorage)
	if files := tempFiles(t, store); len(files) != 0 {
		t.Errorf("partial files left: %v", files)
	}
	for _, key := range []string{"second", "copy"} {
		if _, err := f.client.Head(context.Background(), apiblob.BucketDroplets, key); !errors.Is(err, blobclient.ErrNotFound) {
			t.Errorf("%s visible after a failed upload: %v", key, err)
		}
	}
	if got := f.get(t, apiblob.BucketDroplets, "first"); !bytes.Equal(got, first) {
		t.Error("stored object damaged")
	}
	// Free the space; the same upload now fits.
	if err := f.client.Delete(context.Background(), apiblob.BucketDroplets, "first"); err != nil {
		t.Fatal(err)
	}
	f.put(t, apiblob.BucketDroplets, "second", big)
}

// genReader produces n pseudo-random bytes without holding them: a 1 MiB
// random block, each pass stamped with its index.
type genReader struct {
	block []byte
	off   int64
	n     int64
}

func newGenReader(n int64) *genReader {
	block := make([]byte, 1<<20)
	var x uint64 = 0x9e3779b97f4a7c15
	for i := range block {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		block[i] = byte(x)
	}
	return &genReader{block: block, n: n}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.n-g.off)]
	for i := 0; i < len(p); {
		pos := int((g.off + int64(i)) % int64(len(g.block)))
		c := copy(p[i:], g.block[pos:])
		if pos == 0 {
			p[i] ^= byte((g.off + int64(i)) >> 20) // stamp the pass
		}
		i += c
	}
	g.off += int64(len(p))
	return len(p), nil
}

// heapWatch samples the heap in use until stop is called and returns the
// largest sample.
func heapWatch() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// TestStreaming1GB uploads and downloads a 1 GiB object generated on the
// fly, and checks that the process's heap stays under 64 MiB throughout
// and the digests match both ways.
func TestStreaming1GB(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 1 GiB; skipped with -short")
	}
	const size = 1 << 30
	const heapLimit = 64 << 20
	f := start(t, func(c *blobstore.Config) { c.MaxObjectSize = 2 << 30 })
	runtime.GC()
	stop := heapWatch()

	h := sha256.New()
	src := io.TeeReader(newGenReader(size), h)
	info, err := f.client.Put(context.Background(), apiblob.BucketDroplets, "big", src, blobclient.PutOptions{Size: size})
	if err != nil {
		stop()
		t.Fatal(err)
	}
	sent := hexOf(h.Sum(nil))
	if info.Size != size || info.SHA256 != sent {
		t.Errorf("upload info %+v, sent sha256 %s", info, sent)
	}

	o, err := f.client.Get(context.Background(), apiblob.BucketDroplets, "big", "")
	if err != nil {
		stop()
		t.Fatal(err)
	}
	var got hash.Hash = sha256.New()
	n, err := io.Copy(got, o.Body)
	o.Body.Close()
	peak := stop()
	if err != nil || n != size || hexOf(got.Sum(nil)) != sent {
		t.Errorf("download: %d bytes, %v, sha256 match %v", n, err, hexOf(got.Sum(nil)) == sent)
	}
	t.Logf("peak heap in use while streaming 1 GiB up and down: %.1f MiB", float64(peak)/(1<<20))
	if peak > heapLimit {
		t.Errorf("heap in use reached %d MiB, want under %d MiB: streaming buffers the object", peak>>20, heapLimit>>20)
	}
}

// TestStalledUpload: a client that stops sending gets 408 after
// body_idle_timeout and leaves nothing behind.
func TestStalledUpload(t *testing.T) {
	t.Parallel()
	f := start(t, func(c *blobstore.Config) { c.BodyIdleTimeout = 200 * time.Millisecond })
	conn, err := net.Dial("tcp", f.b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: x\r\n%s: %s\r\nContent-Length: 1000\r\n\r\npartial", apiblob.ObjectPath(apiblob.BucketPackages, "stalled"), apiblob.HeaderSecret, sharedSecret)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	r.wantError(t, http.StatusRequestTimeout, apiblob.CodeBadRequest, "stalled")
	if _, err := f.client.Head(context.Background(), apiblob.BucketPackages, "stalled"); !errors.Is(err, blobclient.ErrNotFound) {
		t.Errorf("stalled upload visible: %v", err)
	}
	testenv.Eventually(t, 5*time.Second, func() error {
		if files := tempFiles(t, f.cfg.Storage.Dir); len(files) != 0 {
			return fmt.Errorf("temp files left: %v", files)
		}
		return nil
	})
}
