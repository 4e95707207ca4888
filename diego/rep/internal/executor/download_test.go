package executor

import (
	"testing"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

func droplet(bs *blobstore, body []byte, checksum string) *bbsv1.DownloadAction {
	return &bbsv1.DownloadAction{Artifact: "droplet", From: bs.srv.URL + "/droplet?signature=s", To: "/home/vcap",
		ChecksumAlgorithm: "sha256", ChecksumValue: checksum, CacheKey: "droplets-web", User: "vcap"}
}

func TestDropletDownload(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	bs := newBlobstore(t)
	body := []byte("droplet tarball")
	bs.put("/droplet", body)
	lrp := processLRP("web", 2)
	lrp.Setup = []*bbsv1.DownloadAction{droplet(bs, body, sha256Hex(body))}
	h.desire(lrp)
	ig0, ig1 := h.instanceGUID("web", 0), h.instanceGUID("web", 1)
	h.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)
	h.waitState("web", 1, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)

	for _, ig := range []string{ig0, ig1} {
		_, spec, _ := h.rt.container(ig)
		if len(spec.Tarballs) != 1 || spec.Tarballs[0].Destination != "/home/vcap" || spec.Tarballs[0].UID != 2000 || spec.Tarballs[0].GID != 2000 {
			t.Errorf("tarballs %+v", spec.Tarballs)
		}
	}
	// Both instances share one download: the second found it cached (or
	// waited for the first).
	if got := bs.hits.Load(); got != 1 {
		t.Errorf("blobstore hit %d times, want 1", got)
	}
	if hits, misses := h.metric("rep_downloads_total", "cache", "hit"), h.metric("rep_downloads_total", "cache", "miss"); hits != 1 || misses != 1 {
		t.Errorf("downloads: %v hits, %v misses", hits, misses)
	}
	h.logs.waitFor(t, "Downloaded droplet (15B)")
}

func TestDownloadChecksumMismatch(t *testing.T) {
	t.Parallel()
	bs := newBlobstore(t)
	body := []byte("tampered")
	bs.put("/droplet", body)
	bad := sha256Hex([]byte("the real droplet"))

	t.Run("instance crashes", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, options{})
		lrp := processLRP("web", 1)
		lrp.Setup = []*bbsv1.DownloadAction{droplet(bs, body, bad)}
		h.desire(lrp)
		a := h.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED)
		if a.GetCrashReason() != "Downloading droplet failed" {
			t.Errorf("crash reason %q", a.GetCrashReason())
		}
		h.waitEmpty()
		if got := h.metric("rep_download_failures_total"); got != 1 {
			t.Errorf("download failures %v", got)
		}
	})
	t.Run("task fails", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, options{})
		tk := task("stage")
		tk.Definition.Setup = []*bbsv1.DownloadAction{{Artifact: "app package", From: bs.srv.URL + "/droplet", To: "/tmp/app",
			ChecksumAlgorithm: "sha256", ChecksumValue: bad}}
		h.runTask(tk)
		got := h.waitTask("stage")
		if !got.GetFailed() || got.GetFailureReason() != "Downloading app package failed" {
			t.Errorf("task failed=%v reason %q", got.GetFailed(), got.GetFailureReason())
		}
		h.waitEmpty()
	})
	t.Run("optional download is skipped", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, options{})
		tk := task("build")
		tk.Definition.Setup = []*bbsv1.DownloadAction{{Artifact: "build artifacts cache", From: bs.srv.URL + "/missing", To: "/tmp/cache", Optional: true}}
		h.runTask(tk)
		h.proc("build", taskProcess).exit(runtime.ExitStatus{})
		if got := h.waitTask("build"); got.GetFailed() {
			t.Errorf("task failed: %s", got.GetFailureReason())
		}
	})
}
