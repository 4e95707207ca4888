package web

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
	"github.com/anvilpaas/anvil/internal/blobclient"
)

// Staging on Diego. A build is a BBS task (guid = build guid, domain
// StagingDomain) that runs the lifecycle's builder in a container of the
// app's stack:
//
//	setup:   packages/<pkg>.tgz          → /tmp/app
//	         each buildpack's tgz        → /tmp/buildpacks/<md5(name)>
//	         buildpack_cache/<app>/<stack> → /tmp/cache (optional)
//	action:  /tmp/lifecycle/builder -buildDir=/tmp/app … (log source STG)
//	uploads: /tmp/droplet      → droplets/<droplet>    (signed PUT)
//	         /tmp/output-cache → buildpack_cache/<app>/<stack>
//	result:  /tmp/result.json (the builder's -outputMetadata)
//	callback: POST <callback_url>/internal/v4/staging/<build>/completed?token=<HMAC>
//
// The rep's download action extracts tar and tar.gz archives only, so the
// Cloud Controller converts zips to gzipped tarballs in the blobstore: the
// package at build time (packages/<guid>.tgz, once per package) and each
// system buildpack zip the first time it is used
// (buildpacks/system/<name>/<sha256 of the zip>.tgz).

// StagingDomain is the BBS domain of staging tasks (CF's).
const StagingDomain = "cf-app-staging"

// packageTarballSuffix names a package's tarball beside its zip.
const packageTarballSuffix = ".tgz"

// Paths inside the staging container (the builder's defaults).
const (
	stagingLifecycle  = "/tmp/lifecycle/builder"
	stagingAppDir     = "/tmp/app"
	stagingBPDir      = "/tmp/buildpacks"
	stagingCacheDir   = "/tmp/cache"
	stagingDroplet    = "/tmp/droplet"
	stagingOutCache   = "/tmp/output-cache"
	stagingResultFile = "/tmp/result.json"
)

// maxCallbackBytes bounds a completion callback's body (the task result
// is at most 10 KiB; the rest is the task's fields).
const maxCallbackBytes = 1 << 20

// TaskDesirer is the BBS as staging uses it.
type TaskDesirer interface {
	// DesireTask creates a task; a task guid that exists already is an
	// error.
	DesireTask(ctx context.Context, guid, domain string, def *bbsv1.TaskDefinition) error
	// CancelTask cancels a pending or running task.
	CancelTask(ctx context.Context, guid string) error
}

// StagingOptions configure builds.
type StagingOptions struct {
	// CallbackURL is the base URL the BBS reaches this API at for
	// completion callbacks (default: ExternalURL).
	CallbackURL string
	// CallbackSecret keys the HMAC token of callback URLs; empty refuses
	// builds (503) and every callback.
	CallbackSecret []byte
	// MemoryMB and DiskMB are a staging task's limits (default 1024, 4096).
	MemoryMB, DiskMB int
	// Timeout is how long a build may stay STAGING (default 15 min); a
	// STAGING build older than that is failed when the app is staged again.
	Timeout time.Duration
	// BuildpacksDir holds the system buildpacks as <name>.zip.
	BuildpacksDir string
	// DefaultBuildpacks is the detection order for apps that name no
	// buildpack (default: every zip in BuildpacksDir, by name).
	DefaultBuildpacks []string
}

func (o *StagingOptions) defaults(externalURL string) {
	if o.CallbackURL == "" {
		o.CallbackURL = externalURL
	}
	o.CallbackURL = strings.TrimSuffix(o.CallbackURL, "/")
	if o.MemoryMB <= 0 {
		o.MemoryMB = 1024
	}
	if o.DiskMB <= 0 {
		o.DiskMB = 4096
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Minute
	}
}

// urlTTL is how long the staging task's signed URLs live: the task may
// wait for a cell, then run for the whole timeout.
func (o StagingOptions) urlTTL() time.Duration { return o.Timeout + 15*time.Minute }

func (s *Server) registerStaging() {
	s.public("POST /internal/v4/staging/{guid}/completed", s.stagingCompleted)
	s.bodyLimits["POST /internal/v4/staging/{guid}/completed"] = maxCallbackBytes
}

// callbackToken is the HMAC of a build guid.
func callbackToken(secret []byte, build string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("anvil-staging-callback-v1\n" + build))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) callbackURL(build string) string {
	return s.opts.Staging.CallbackURL + "/internal/v4/staging/" + build + "/completed?token=" +
		url.QueryEscape(callbackToken(s.opts.Staging.CallbackSecret, build))
}

// stagingPlan is what a build stages with.
type stagingPlan struct {
	app        store.App
	space      store.Space
	org        store.Org
	pkg        store.Package
	build      store.Build
	buildpacks []string
	stack      string
}

// buildpackBlob is a buildpack's tarball in the blobstore.
type buildpackBlob struct {
	name   string
	key    string
	sha256 string
}

// resolveBuildpacks returns the blobs of the buildpacks to stage with:
// the named ones, or the default detection order. Registered buildpacks
// (/v3/buildpacks, buildpacks.go) come first; the buildpacks directory is
// the fallback while the table has none (or not that name).
func (s *Server) resolveBuildpacks(ctx context.Context, names []string, stack string) ([]buildpackBlob, error) {
	if len(names) == 0 {
		bps, err := s.tableBuildpacks(ctx, stack)
		if err != nil || len(bps) > 0 {
			return bps, err
		}
		if names, err = s.defaultBuildpacks(); err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, apierr.Unprocessable("There are no buildpacks to stage this app with.")
		}
	}
	out := make([]buildpackBlob, 0, len(names))
	for _, n := range names {
		bp, found, err := s.tableBuildpack(ctx, n, stack)
		if !found && err == nil {
			bp, err = s.buildpackTarballs.get(ctx, s, n)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, bp)
	}
	return out, nil
}

func (s *Server) defaultBuildpacks() ([]string, error) {
	if len(s.opts.Staging.DefaultBuildpacks) > 0 {
		return s.opts.Staging.DefaultBuildpacks, nil
	}
	return s.dirBuildpacks()
}

// dirBuildpacks returns the names of the zips in the buildpacks
// directory, sorted.
func (s *Server) dirBuildpacks() ([]string, error) {
	if s.opts.Staging.BuildpacksDir == "" {
		return nil, nil
	}
	ents, err := os.ReadDir(s.opts.Staging.BuildpacksDir)
	if err != nil {
		return nil, fmt.Errorf("system buildpacks: %w", err)
	}
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".zip"); ok && e.Type().IsRegular() && validBuildpackName(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

func validBuildpackName(n string) bool {
	return n != "" && len(n) <= 200 && apiblob.ValidateKey(n) == nil && !strings.Contains(n, "/") && n != "." && n != ".."
}

// buildpackCache remembers the blob of each system buildpack zip by the
// zip's size and modification time, so that the zip is hashed and
// converted once per version.
type buildpackCache struct {
	mu      sync.Mutex
	entries map[string]buildpackCacheEntry
}

type buildpackCacheEntry struct {
	size  int64
	mtime time.Time
	blob  buildpackBlob
}

func (c *buildpackCache) get(ctx context.Context, s *Server, name string) (buildpackBlob, error) {
	unknown := apierr.Unprocessable(fmt.Sprintf("Buildpack %q must be an existing admin buildpack or a valid git URI", name))
	if !validBuildpackName(name) || s.opts.Staging.BuildpacksDir == "" {
		return buildpackBlob{}, unknown
	}
	path := filepath.Join(s.opts.Staging.BuildpacksDir, name+".zip")
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return buildpackBlob{}, unknown
	}
	c.mu.Lock()
	defer c.mu.Unlock() // one conversion at a time is plenty
	if e, ok := c.entries[name]; ok && e.size == fi.Size() && e.mtime.Equal(fi.ModTime()) {
		return e.blob, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return buildpackBlob{}, fmt.Errorf("system buildpack %s: %w", name, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return buildpackBlob{}, fmt.Errorf("system buildpack %s: %w", name, err)
	}
	key := "system/" + name + "/" + hex.EncodeToString(h.Sum(nil))[:32] + ".tgz"
	info, err := s.blobs.Head(ctx, apiblob.BucketBuildpacks, key)
	if errors.Is(err, blobclient.ErrNotFound) {
		info, err = s.zipToBlob(ctx, f, fi.Size(), apiblob.BucketBuildpacks, key)
	}
	if err != nil {
		return buildpackBlob{}, fmt.Errorf("system buildpack %s: %w", name, err)
	}
	bp := buildpackBlob{name: name, key: key, sha256: info.SHA256}
	if c.entries == nil {
		c.entries = map[string]buildpackCacheEntry{}
	}
	c.entries[name] = buildpackCacheEntry{size: fi.Size(), mtime: fi.ModTime(), blob: bp}
	return bp, nil
}

// packageTarball returns the package's tarball, converting its zip the
// first time.
func (s *Server) packageTarball(ctx context.Context, pkg store.Package) (apiblob.ObjectInfo, error) {
	key := pkg.GUID + packageTarballSuffix
	info, err := s.blobs.Head(ctx, apiblob.BucketPackages, key)
	if err == nil || !errors.Is(err, blobclient.ErrNotFound) {
		return info, err
	}
	obj, err := s.blobs.Get(ctx, apiblob.BucketPackages, pkg.GUID, "")
	if err != nil {
		return info, err
	}
	defer obj.Body.Close()
	tmp, err := os.CreateTemp(s.opts.Packages.TempDir, "package-*.zip")
	if err != nil {
		return info, err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	n, err := io.Copy(tmp, obj.Body)
	if err != nil {
		return info, err
	}
	return s.zipToBlob(ctx, tmp, n, apiblob.BucketPackages, key)
}

// zipToBlob converts the zip in r to a gzipped tarball streamed into
// (bucket, key).
func (s *Server) zipToBlob(ctx context.Context, r io.ReaderAt, size int64, bucket, key string) (apiblob.ObjectInfo, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return apiblob.ObjectInfo{}, fmt.Errorf("read zip: %w", err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(zipToTarGz(zr, pw)) }()
	info, err := s.blobs.Put(ctx, bucket, key, pr, blobclient.PutOptions{})
	pr.CloseWithError(err)
	return info, err
}

// zipToTarGz writes the zip's files, directories and symlinks as a
// gzipped tarball. Names were checked when the zip was accepted (the rep
// extracts through os.Root as well).
func zipToTarGz(zr *zip.Reader, w io.Writer) error {
	gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	for _, f := range zr.File {
		mode := f.Mode()
		name := strings.TrimSuffix(f.Name, "/")
		if name == "" {
			continue
		}
		hdr := &tar.Header{Name: name, Mode: int64(mode.Perm()), ModTime: f.Modified, Format: tar.FormatPAX}
		switch {
		case mode.IsDir() || strings.HasSuffix(f.Name, "/"):
			hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
			if hdr.Mode == 0 {
				hdr.Mode = 0o755
			}
		case mode.Type() == fs.ModeSymlink:
			target, err := readSmall(f, 4096)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		case mode.Type() == 0:
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(f.UncompressedSize64)
			if hdr.Mode == 0 {
				hdr.Mode = 0o644
			}
		default:
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg {
			rc, err := f.Open()
			if err != nil {
				return err
			}
			_, err = io.CopyN(tw, rc, hdr.Size)
			rc.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func readSmall(f *zip.File, limit int64) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit))
	return string(b), err
}

// buildpackDir is where the builder finds a buildpack: CF's md5 of its key.
func buildpackDir(name string) string {
	sum := md5.Sum([]byte(name))
	return stagingBPDir + "/" + hex.EncodeToString(sum[:])
}

// taskDefinition is the staging task of a build.
func (s *Server) taskDefinition(ctx context.Context, p stagingPlan, bps []buildpackBlob, pkgTar apiblob.ObjectInfo, requested bool) (*bbsv1.TaskDefinition, error) {
	ttl := s.opts.Staging.urlTTL()
	sign := func(method, bucket, key string) (string, error) { return s.blobs.SignedURL(method, bucket, key, ttl) }
	pkgURL, err := sign(http.MethodGet, apiblob.BucketPackages, pkg(p).GUID+packageTarballSuffix)
	if err != nil {
		return nil, err
	}
	cacheKey := p.app.GUID + "/" + p.stack
	cacheGet, err := sign(http.MethodGet, apiblob.BucketBuildpackCache, cacheKey)
	if err != nil {
		return nil, err
	}
	cachePut, err := sign(http.MethodPut, apiblob.BucketBuildpackCache, cacheKey)
	if err != nil {
		return nil, err
	}
	dropletPut, err := sign(http.MethodPut, apiblob.BucketDroplets, p.build.DropletGUID)
	if err != nil {
		return nil, err
	}
	setup := []*bbsv1.DownloadAction{{
		Artifact: "app package", From: pkgURL, To: stagingAppDir,
		ChecksumAlgorithm: "sha256", ChecksumValue: pkgTar.SHA256, User: "vcap",
	}}
	order := make([]string, 0, len(bps))
	for _, bp := range bps {
		u, err := sign(http.MethodGet, apiblob.BucketBuildpacks, bp.key)
		if err != nil {
			return nil, err
		}
		setup = append(setup, &bbsv1.DownloadAction{
			Artifact: bp.name, From: u, To: buildpackDir(bp.name),
			ChecksumAlgorithm: "sha256", ChecksumValue: bp.sha256, CacheKey: "buildpacks/" + bp.name, User: "vcap",
		})
		order = append(order, bp.name)
	}
	setup = append(setup, &bbsv1.DownloadAction{
		Artifact: "build artifacts cache", From: cacheGet, To: stagingCacheDir, User: "vcap", Optional: true,
	})
	args := []string{
		"-buildDir=" + stagingAppDir,
		"-buildpackOrder=" + strings.Join(order, ","),
		"-buildpacksDir=" + stagingBPDir,
		"-buildArtifactsCacheDir=" + stagingCacheDir,
		"-outputDroplet=" + stagingDroplet,
		"-outputBuildArtifactsCache=" + stagingOutCache,
		"-outputMetadata=" + stagingResultFile,
	}
	if requested {
		args = append(args, "-skipDetect")
	}
	env, err := s.stagingEnv(ctx, p)
	if err != nil {
		return nil, err
	}
	return &bbsv1.TaskDefinition{
		RootFs:   "preloaded:" + p.stack,
		Env:      env,
		MemoryMb: int32(p.build.StagingMemoryMB),
		DiskMb:   int32(p.build.StagingDiskMB),
		// Unlimited: a task's 0 lets no output through, and the staging
		// log is what `cf push` shows.
		LogRateLimitBytesPerSecond: -1,
		Setup:                      setup,
		Action: &bbsv1.RunAction{
			Path: stagingLifecycle, Args: args, Dir: "/tmp", User: "vcap", LogSource: "STG",
			ResourceLimits: &bbsv1.ResourceLimits{Nofile: 16384},
		},
		Uploads: []*bbsv1.UploadAction{
			{Artifact: "droplet", From: stagingDroplet, To: dropletPut, User: "vcap"},
			{Artifact: "build artifacts cache", From: stagingOutCache, To: cachePut, User: "vcap"},
		},
		ResultFile:            stagingResultFile,
		CompletionCallbackUrl: s.callbackURL(p.build.GUID),
		LogGuid:               p.app.GUID,
		MetricTags: map[string]string{
			"source_id": p.app.GUID, "app_id": p.app.GUID, "app_name": p.app.Name,
			"space_id": p.space.GUID, "space_name": p.space.Name,
			"organization_id": p.org.GUID, "organization_name": p.org.Name,
		},
		Annotation: p.build.GUID,
	}, nil
}

func pkg(p stagingPlan) store.Package { return p.pkg }

// stagingEnv is the environment buildpacks see: CF's staging variables,
// the staging environment variable group, and the app's own.
func (s *Server) stagingEnv(ctx context.Context, p stagingPlan) ([]*bbsv1.EnvironmentVariable, error) {
	vcap := map[string]any{
		"cf_api": s.opts.ExternalURL, "limits": map[string]int{"mem": p.build.StagingMemoryMB, "disk": p.build.StagingDiskMB, "fds": 16384},
		"application_name": p.app.Name, "name": p.app.Name, "application_id": p.app.GUID,
		"application_uris": []string{}, "uris": []string{},
		"space_name": p.space.Name, "space_id": p.space.GUID,
		"organization_name": p.org.Name, "organization_id": p.org.GUID, "users": nil,
	}
	vcapJSON, err := json.Marshal(vcap)
	if err != nil {
		return nil, err
	}
	env := []*bbsv1.EnvironmentVariable{
		{Name: "CF_STACK", Value: p.stack},
		{Name: "LANG", Value: "en_US.UTF-8"},
		{Name: "MEMORY_LIMIT", Value: strconv.Itoa(p.build.StagingMemoryMB) + "m"},
		{Name: "VCAP_APPLICATION", Value: string(vcapJSON)},
		{Name: "VCAP_SERVICES", Value: "{}"},
	}
	group, err := s.store.GetEnvGroup(ctx, store.EnvGroupStaging)
	if err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(group.Variables) {
		if _, own := p.app.Env[k]; !own { // the app's own variables win
			env = append(env, &bbsv1.EnvironmentVariable{Name: k, Value: group.Variables[k]})
		}
	}
	for _, k := range sortedKeys(p.app.Env) {
		env = append(env, &bbsv1.EnvironmentVariable{Name: k, Value: p.app.Env[k]})
	}
	return env, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// taskCallback is the body the BBS posts when a task completes.
type taskCallback struct {
	TaskGUID      string `json:"task_guid"`
	Failed        bool   `json:"failed"`
	FailureReason string `json:"failure_reason"`
	Result        string `json:"result"`
	Annotation    string `json:"annotation"`
	CreatedAt     int64  `json:"created_at"`
}

// builderResult is the builder's result JSON (docs/staging.md).
type builderResult struct {
	LifecycleType     string `json:"lifecycle_type"`
	LifecycleMetadata struct {
		BuildpackKey      string `json:"buildpack_key"`
		DetectedBuildpack string `json:"detected_buildpack"`
		Buildpacks        []struct {
			Key          string `json:"key"`
			Name         string `json:"name"`
			Version      string `json:"version"`
			DetectOutput string `json:"detect_output"`
		} `json:"buildpacks"`
	} `json:"lifecycle_metadata"`
	ProcessTypes      map[string]string `json:"process_types"`
	ExecutionMetadata string            `json:"execution_metadata"`
}

// stagingError maps a failed task's reason to CF's build error: the
// builder's exit codes (the rep reports "STG: Exited with status 222"),
// Diego's placement failures, and a generic staging error (CF hides the
// raw reason, which is logged).
func stagingError(reason string) string {
	r := strings.TrimSpace(reason)
	switch {
	case strings.HasSuffix(r, "222"):
		return "NoAppDetectedError - An app was not successfully detected by any available buildpack"
	case strings.HasSuffix(r, "223"):
		return "BuildpackCompileFailed - App staging failed in the buildpack compile phase"
	case strings.HasSuffix(r, "224"):
		return "BuildpackReleaseFailed - App staging failed in the buildpack release phase"
	case strings.HasPrefix(r, "insufficient resources"):
		return "InsufficientResources - Insufficient resources"
	case strings.HasPrefix(r, "found no compatible cell"):
		return "NoCompatibleCell - Found no compatible cell"
	}
	return "StagingError - Staging error: staging failed"
}

// stagingCompleted is the BBS's completion callback of a staging task,
// authenticated by the HMAC token in its URL. Repeated callbacks of a
// finished build answer 200 and change nothing.
func (s *Server) stagingCompleted(w http.ResponseWriter, r *http.Request, _ *Actor) error {
	guid := r.PathValue("guid")
	secret := s.opts.Staging.CallbackSecret
	tok := r.URL.Query().Get("token")
	if len(secret) == 0 || tok == "" || !hmac.Equal([]byte(tok), []byte(callbackToken(secret, guid))) {
		return apierr.NotAuthenticated()
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return uploadReadError(err)
	}
	var cb taskCallback
	if err := json.Unmarshal(data, &cb); err != nil {
		return apierr.MessageParseError(err.Error())
	}
	if cb.TaskGUID != "" && cb.TaskGUID != guid {
		return apierr.Unprocessable("task_guid does not match the build")
	}
	ctx := context.WithoutCancel(r.Context())
	b, err := s.store.GetBuild(ctx, guid)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("Build")
	}
	if err != nil {
		return err
	}
	if b.State != store.StateStaging {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	outcome := s.stagingOutcome(ctx, b, cb)
	out, err := s.store.CompleteBuild(ctx, guid, outcome)
	if errors.Is(err, store.ErrBuildFinished) {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if err != nil {
		return err
	}
	s.logger.Info("staging completed", "build", guid, "app", out.AppGUID, "state", out.State, "error", out.Error)
	s.buildFinished(ctx, out)
	w.WriteHeader(http.StatusOK)
	return nil
}

// stagingOutcome turns a callback into the build's result.
func (s *Server) stagingOutcome(ctx context.Context, b store.Build, cb taskCallback) store.StagingOutcome {
	if cb.Failed {
		s.logger.Info("staging failed", "build", b.GUID, "app", b.AppGUID, "reason", cb.FailureReason)
		return store.StagingOutcome{Error: stagingError(cb.FailureReason)}
	}
	var res builderResult
	if err := json.Unmarshal([]byte(cb.Result), &res); err != nil {
		s.logger.Warn("staging result is not JSON", "build", b.GUID, "err", err)
		return store.StagingOutcome{Error: "StagingError - Staging error: malformed staging result"}
	}
	info, err := s.blobs.Head(ctx, apiblob.BucketDroplets, b.DropletGUID)
	if err != nil {
		s.logger.Warn("staged droplet is missing", "build", b.GUID, "droplet", b.DropletGUID, "err", err)
		return store.StagingOutcome{Error: "StagingError - Staging error: droplet upload failed"}
	}
	bps := make([]store.DropletBuildpack, 0, len(res.LifecycleMetadata.Buildpacks))
	for _, bp := range res.LifecycleMetadata.Buildpacks {
		d := store.DropletBuildpack{Name: bp.Key}
		if bp.Name != "" {
			d.BuildpackName = &bp.Name
		}
		if bp.DetectOutput != "" {
			d.DetectOutput = &bp.DetectOutput
		}
		if bp.Version != "" {
			d.Version = &bp.Version
		}
		bps = append(bps, d)
	}
	return store.StagingOutcome{Result: store.DropletResult{
		ProcessTypes: res.ProcessTypes, Buildpacks: bps, ExecutionMetadata: res.ExecutionMetadata,
		SHA256: info.SHA256, Size: info.Size,
	}}
}
