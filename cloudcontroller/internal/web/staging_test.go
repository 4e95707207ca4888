package web

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// Tests of packages, builds and droplets: the cf push sequence against a
// real database, the blobstore stub (blobstub_test.go) and a fake BBS.

// fakeTasks records desired staging tasks.
type fakeTasks struct {
	mu        sync.Mutex
	tasks     map[string]*bbsv1.TaskDefinition
	domains   map[string]string
	cancelled []string
	fail      error
}

func (f *fakeTasks) DesireTask(_ context.Context, guid, domain string, def *bbsv1.TaskDefinition) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	if _, ok := f.tasks[guid]; ok {
		return errors.New("task exists")
	}
	f.tasks[guid], f.domains[guid] = def, domain
	return nil
}

func (f *fakeTasks) CancelTask(_ context.Context, guid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, guid)
	return nil
}

func (f *fakeTasks) get(guid string) *bbsv1.TaskDefinition {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tasks[guid]
}

const testCallbackSecret = "callback-secret-0123456789"

type stagingEnv struct {
	*routingEnv
	blobs *blobStub
	tasks *fakeTasks
	diego *fakeDiego
}

func newStagingEnv(t *testing.T) *stagingEnv {
	t.Helper()
	stub, client := newBlobStub(t)
	tasks := &fakeTasks{tasks: map[string]*bbsv1.TaskDefinition{}, domains: map[string]string{}}
	diego := &fakeDiego{desired: map[string]store.Process{}}
	e := newRoutingEnv(t, func(d *Deps) { d.Blobs, d.Tasks, d.Desirer = client, tasks, diego })
	dir := t.TempDir()
	for _, name := range []string{"staticfile_buildpack", "binary_buildpack"} {
		zipFile(t, filepath.Join(dir, name+".zip"), map[string]string{"bin/detect": "#!/bin/sh\n", "VERSION": "1.0.0"})
	}
	e.srv.opts.Staging = StagingOptions{CallbackURL: "http://cc.service.internal:9022", CallbackSecret: []byte(testCallbackSecret), BuildpacksDir: dir}
	e.srv.opts.Staging.defaults(e.url)
	return &stagingEnv{routingEnv: e, blobs: stub, tasks: tasks, diego: diego}
}

func zipBytes(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		h := &zip.FileHeader{Name: n, Method: zip.Deflate}
		h.SetMode(0o755)
		if strings.HasSuffix(n, "/") {
			h.SetMode(fs.ModeDir | 0o755)
		}
		fw, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write([]byte(files[n]))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipFile(t testing.TB, path string, files map[string]string) {
	t.Helper()
	if err := os.WriteFile(path, zipBytes(t, files), 0o644); err != nil {
		t.Fatal(err)
	}
}

// upload sends a package upload as the cf CLI does: `resources` first,
// then `bits` (package.zip) unless bits is nil.
func (e *stagingEnv) upload(token, pkg string, resources any, bits []byte) response {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	rj, _ := json.Marshal(resources)
	mw.WriteField("resources", string(rj))
	if bits != nil {
		fw, _ := mw.CreateFormFile("bits", "package.zip")
		fw.Write(bits)
	}
	mw.Close()
	req, _ := http.NewRequestWithContext(e.t.Context(), "POST", e.url+"/v3/packages/"+pkg+"/upload", &body)
	req.Header.Set("Authorization", "bearer "+token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: data}
}

func (e *stagingEnv) newPackage(app string) string {
	e.t.Helper()
	m := e.want(e.do(e.dev, "POST", "/v3/packages", map[string]any{"type": "bits", "relationships": map[string]any{"app": rel(app)}}), http.StatusCreated)
	if m["state"] != "AWAITING_UPLOAD" {
		e.t.Fatalf("new package %v", m)
	}
	return m["guid"].(string)
}

// readyPackage creates and uploads a package of files.
func (e *stagingEnv) readyPackage(app string, files map[string]string) string {
	e.t.Helper()
	pkg := e.newPackage(app)
	if m := e.want(e.upload(e.dev, pkg, []any{}, zipBytes(e.t, files)), http.StatusOK); m["state"] != "READY" {
		e.t.Fatalf("upload %v", m)
	}
	return pkg
}

// stage creates a build and returns it and its task.
func (e *stagingEnv) stage(pkg string, body map[string]any) (map[string]any, *bbsv1.TaskDefinition) {
	e.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	body["package"] = map[string]any{"guid": pkg}
	b := e.want(e.do(e.dev, "POST", "/v3/builds", body), http.StatusCreated)
	return b, e.tasks.get(b["guid"].(string))
}

// complete posts the BBS's callback of a task to its callback URL.
func (e *stagingEnv) complete(def *bbsv1.TaskDefinition, cb taskCallback) response {
	e.t.Helper()
	u, err := url.Parse(def.GetCompletionCallbackUrl())
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do("", "POST", e.url+u.RequestURI(), cb)
}

// runStaging plays the cell: it checks that the setup URLs are signed and
// fetchable, uploads a droplet to the signed PUT URL and completes the
// task with result.
func (e *stagingEnv) runStaging(def *bbsv1.TaskDefinition, guid, result string) response {
	e.t.Helper()
	for _, d := range def.GetSetup() {
		res, err := http.Get(d.GetFrom())
		if err != nil {
			e.t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK && !d.GetOptional() {
			e.t.Fatalf("setup %s: %s", d.GetArtifact(), res.Status)
		}
	}
	for _, u := range def.GetUploads() {
		req, _ := http.NewRequest(http.MethodPut, u.GetTo(), strings.NewReader("droplet-bytes of "+u.GetArtifact()))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			e.t.Fatalf("upload %s: %s", u.GetArtifact(), res.Status)
		}
	}
	return e.complete(def, taskCallback{TaskGUID: guid, Result: result})
}

const stagedResult = `{"lifecycle_type":"buildpack","lifecycle_metadata":{"buildpack_key":"staticfile_buildpack","detected_buildpack":"staticfile_buildpack",
 "buildpacks":[{"key":"staticfile_buildpack","name":"staticfile_buildpack","version":"1.0.0","detect_output":"staticfile"}]},
 "process_types":{"web":"./.staticfile/server"},"execution_metadata":""}`

func TestPushPackageBuildDroplet(t *testing.T) {
	t.Parallel()
	e := newStagingEnv(t)
	app := e.createApp(e.dev, "web")["guid"].(string)

	// 5a: resource match. One file is cached; the answer echoes it unchanged.
	big := strings.Repeat("cached content ", 100)
	sum := e.blobs.cacheFile([]byte(big))
	entries := []map[string]any{
		{"path": "lib/big.txt", "mode": "644", "checksum": map[string]any{"value": sum}, "size_in_bytes": len(big)},
		{"path": "index.html", "mode": "600", "checksum": map[string]any{"value": strings.Repeat("a", 40)}, "size_in_bytes": 6},
	}
	m := e.want(e.do(e.dev, "POST", "/v3/resource_matches", map[string]any{"resources": entries}), http.StatusCreated)
	got, _ := json.Marshal(m["resources"])
	want, _ := json.Marshal(entries[:1])
	if string(got) != string(want) {
		t.Fatalf("matched %s, want %s", got, want)
	}

	// 5b, 5c: create and upload (matched resources + bits) → READY.
	pkg := e.newPackage(app)
	r := e.upload(e.dev, pkg, entries[:1], zipBytes(t, map[string]string{"Staticfile": "", "index.html": "hello\n", "lib/": ""}))
	m = e.want(r, http.StatusOK)
	if m["state"] != "READY" || str(m, "data", "checksum", "type") != "sha256" || len(str(m, "data", "checksum", "value")) != 64 {
		t.Fatalf("uploaded %s", r.Body)
	}
	e.wantErr(e.upload(e.dev, pkg, []any{}, zipBytes(t, map[string]string{"a": "b"})), http.StatusBadRequest, "Bits may be uploaded only once.")
	// The package holds the cached file and the uploaded ones.
	dl := e.do(e.dev, "GET", "/v3/packages/"+pkg+"/download", nil)
	if dl.Status != http.StatusOK {
		t.Fatalf("download %d %s", dl.Status, dl.Body)
	}
	zr, err := zip.NewReader(bytes.NewReader(dl.Body), int64(len(dl.Body)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if !slices.Contains(names, "lib/big.txt") || !slices.Contains(names, "index.html") {
		t.Errorf("package entries %v", names)
	}
	e.wantErr(e.do(e.auditor, "GET", "/v3/packages/"+pkg+"/download", nil), http.StatusForbidden, "")

	// Everything matched: no bits part.
	pkg2 := e.newPackage(app)
	if m := e.want(e.upload(e.dev, pkg2, entries[:1], nil), http.StatusOK); m["state"] != "READY" {
		t.Fatalf("resources-only upload %v", m)
	}
	e.wantErr(e.upload(e.dev, e.newPackage(app), []map[string]any{{"path": "x", "checksum": map[string]any{"value": strings.Repeat("b", 40)}, "size_in_bytes": 3, "mode": "644"}}, nil),
		http.StatusUnprocessableEntity, "resource cache")

	// Lists and filters (cf start / restage look-ups).
	l := e.want(e.do(e.dev, "GET", "/v3/packages?app_guids="+app+"&order_by=-created_at&page=1&per_page=1&states=READY", nil), http.StatusOK)
	if res := l["resources"].([]any); len(res) != 1 || res[0].(map[string]any)["guid"] != pkg2 {
		t.Errorf("newest READY package %v", l["resources"])
	}
	if l := e.want(e.do(e.auditor, "GET", "/v3/apps/"+app+"/packages?states=FAILED", nil), http.StatusOK); len(l["resources"].([]any)) != 1 {
		t.Errorf("failed packages %v", l["resources"])
	}
	if l := e.want(e.do(e.outsider, "GET", "/v3/packages", nil), http.StatusOK); len(l["resources"].([]any)) != 0 {
		t.Errorf("outsider sees %v", l["resources"])
	}
	e.wantErr(e.do(e.outsider, "GET", "/v3/packages/"+pkg, nil), http.StatusNotFound, "Package not found")

	// 5d: stage. The task: stack rootfs, signed setup URLs, builder args.
	b, def := e.stage(pkg, nil)
	build := b["guid"].(string)
	if b["state"] != "STAGING" || b["droplet"] != nil || str(b, "created_by", "guid") != "dev-guid" || str(b, "lifecycle", "data", "stack") != "cflinuxfs4" {
		t.Fatalf("build %v", b)
	}
	if def == nil || e.tasks.domains[build] != StagingDomain {
		t.Fatal("no staging task desired")
	}
	if def.GetRootFs() != "preloaded:cflinuxfs4" || def.GetMemoryMb() != 1024 || def.GetLogRateLimitBytesPerSecond() != -1 || def.GetDiskMb() != 4096 || def.GetResultFile() != "/tmp/result.json" ||
		def.GetLogGuid() != app || def.GetAction().GetLogSource() != "STG" || def.GetAction().GetPath() != "/tmp/lifecycle/builder" || def.GetAction().GetUser() != "vcap" {
		t.Errorf("task %v", def)
	}
	args := strings.Join(def.GetAction().GetArgs(), " ")
	for _, a := range []string{"-buildDir=/tmp/app", "-buildpackOrder=binary_buildpack,staticfile_buildpack", "-buildpacksDir=/tmp/buildpacks",
		"-outputDroplet=/tmp/droplet", "-outputMetadata=/tmp/result.json", "-buildArtifactsCacheDir=/tmp/cache", "-outputBuildArtifactsCache=/tmp/output-cache"} {
		if !strings.Contains(args, a) {
			t.Errorf("builder args %q lack %q", args, a)
		}
	}
	if strings.Contains(args, "-skipDetect") {
		t.Errorf("detect skipped without requested buildpacks: %q", args)
	}
	setup := def.GetSetup()
	if len(setup) != 4 || setup[0].GetTo() != "/tmp/app" || setup[0].GetChecksumAlgorithm() != "sha256" ||
		setup[1].GetTo() != buildpackDir("binary_buildpack") || !setup[3].GetOptional() || setup[3].GetTo() != "/tmp/cache" {
		t.Fatalf("setup %v", setup)
	}
	for _, d := range setup {
		u, _ := url.Parse(d.GetFrom())
		if _, err := apiblob.Verify([]apiblob.Key{e.blobs.key}, http.MethodGet, u.Path, u.Query(), time.Now()); err != nil {
			t.Errorf("setup %s URL not signed: %v", d.GetArtifact(), err)
		}
	}
	// The package was converted to a tarball the rep can extract.
	tgz, ok := e.blobs.get(apiblob.BucketPackages, pkg+".tgz")
	if !ok {
		t.Fatal("no package tarball")
	}
	if files := tarNames(t, tgz); !slices.Contains(files, "index.html") || !slices.Contains(files, "lib/big.txt") {
		t.Errorf("package tarball %v", files)
	}
	if !strings.HasPrefix(def.GetCompletionCallbackUrl(), "http://cc.service.internal:9022/internal/v4/staging/"+build+"/completed?token=") {
		t.Errorf("callback %q", def.GetCompletionCallbackUrl())
	}
	// One staging build per app.
	r = e.do(e.dev, "POST", "/v3/builds", map[string]any{"package": map[string]any{"guid": pkg}})
	e.wantErr(r, http.StatusUnprocessableEntity, "Only one build can be STAGING at a time per application.")
	if !strings.Contains(string(r.Body), "CF-StagingInProgress") {
		t.Errorf("staging in progress envelope %s", r.Body)
	}

	// The callback without or with a wrong token is refused.
	e.wantErr(e.do("", "POST", "/internal/v4/staging/"+build+"/completed", taskCallback{TaskGUID: build}), http.StatusUnauthorized, "")
	e.wantErr(e.do("", "POST", "/internal/v4/staging/"+build+"/completed?token=x", taskCallback{TaskGUID: build}), http.StatusUnauthorized, "")
	other := e.do("", "POST", "/internal/v4/staging/"+build+"/completed?token="+url.QueryEscape(callbackToken([]byte(testCallbackSecret), "other")), taskCallback{})
	e.wantErr(other, http.StatusUnauthorized, "")

	// The cell stages, uploads the droplet and the BBS calls back.
	if r := e.runStaging(def, build, stagedResult); r.Status != http.StatusOK {
		t.Fatalf("callback %d %s", r.Status, r.Body)
	}
	if r := e.runStaging(def, build, stagedResult); r.Status != http.StatusOK { // repeated: harmless
		t.Fatalf("repeated callback %d %s", r.Status, r.Body)
	}
	b = e.want(e.do(e.dev, "GET", "/v3/builds/"+build, nil), http.StatusOK)
	droplet := str(b, "droplet", "guid")
	if b["state"] != "STAGED" || droplet == "" || b["error"] != nil {
		t.Fatalf("staged build %v", b)
	}
	d := e.want(e.do(e.dev, "GET", "/v3/droplets/"+droplet, nil), http.StatusOK)
	bps, _ := d["buildpacks"].([]any)
	bp0 := map[string]any{}
	if len(bps) == 1 {
		bp0, _ = bps[0].(map[string]any)
	}
	if d["state"] != "STAGED" || str(d, "process_types", "web") != "./.staticfile/server" || str(d, "checksum", "type") != "sha256" ||
		len(str(d, "checksum", "value")) != 64 || len(bps) != 1 || str(bp0, "name") != "staticfile_buildpack" ||
		str(bp0, "detect_output") != "staticfile" || str(bp0, "version") != "1.0.0" || str(bp0, "buildpack_name") != "staticfile_buildpack" {
		t.Fatalf("droplet %v", d)
	}
	if d := e.want(e.do(e.auditor, "GET", "/v3/droplets/"+droplet, nil), http.StatusOK); str(d, "process_types", "redacted_message") != "[PRIVATE DATA HIDDEN]" {
		t.Errorf("auditor sees process types %v", d["process_types"])
	}
	// cf start's look-up of a staged droplet of the newest package.
	if l := e.want(e.do(e.dev, "GET", "/v3/packages/"+pkg+"/droplets?states=STAGED&page=1&per_page=1", nil), http.StatusOK); len(l["resources"].([]any)) != 1 {
		t.Errorf("package droplets %v", l["resources"])
	}
	for _, q := range []string{"/v3/droplets?app_guids=" + app, "/v3/apps/" + app + "/droplets?states=STAGED", "/v3/builds?app_guids=" + app, "/v3/apps/" + app + "/builds"} {
		if l := e.want(e.do(e.dev, "GET", q, nil), http.StatusOK); len(l["resources"].([]any)) != 1 {
			t.Errorf("%s: %v", q, l["resources"])
		}
	}

	// 5e: current droplet, then start.
	e.wantErr(e.do(e.dev, "GET", "/v3/apps/"+app+"/droplets/current", nil), http.StatusNotFound, "Droplet not found")
	e.wantErr(e.do(e.dev, "POST", "/v3/apps/"+app+"/actions/start", nil), http.StatusUnprocessableEntity, "Assign a droplet before starting this app.")
	rel := e.want(e.do(e.dev, "PATCH", "/v3/apps/"+app+"/relationships/current_droplet", map[string]any{"data": map[string]any{"guid": droplet}}), http.StatusOK)
	if str(rel, "data", "guid") != droplet {
		t.Fatalf("current droplet %v", rel)
	}
	if cur := e.want(e.do(e.dev, "GET", "/v3/apps/"+app+"/droplets/current", nil), http.StatusOK); cur["guid"] != droplet {
		t.Errorf("droplets/current %v", cur)
	}
	if m := e.want(e.do(e.dev, "POST", "/v3/apps/"+app+"/actions/restart", nil), http.StatusOK); m["state"] != "STARTED" {
		t.Errorf("restart %v", m)
	}
	procs, _ := e.st.AppProcesses(t.Context(), app)
	if _, ok := e.diego.desiredInstances(procs[0].GUID); !ok {
		t.Error("web process not desired")
	}
	dd, err := e.st.DropletForProcess(t.Context(), procs[0].GUID)
	if err != nil || dd.BlobKey != droplet || dd.SHA256 != str(d, "checksum", "value") || dd.ProcessTypes["web"] == "" {
		t.Errorf("DropletForProcess = %+v, %v", dd, err)
	}
	ev := e.want(e.do(e.admin, "GET", "/v3/audit_events?types=audit.app.droplet.mapped&target_guids="+app, nil), http.StatusOK)
	if len(ev["resources"].([]any)) != 1 {
		t.Errorf("droplet.mapped events %v", ev["resources"])
	}

	// Deleting the app deletes its blobs.
	if got := e.blobs.keys(apiblob.BucketDroplets); len(got) != 1 {
		t.Fatalf("droplet blobs %v", got)
	}
	r = e.do(e.dev, "DELETE", "/v3/apps/"+app, nil)
	e.want(r, http.StatusAccepted)
	testenv.Eventually(t, 10*time.Second, func() error {
		for _, b := range []string{apiblob.BucketDroplets, apiblob.BucketPackages, apiblob.BucketBuildpackCache} {
			if keys := e.blobs.keys(b); len(keys) != 0 {
				return fmt.Errorf("%s still holds %v", b, keys)
			}
		}
		return nil
	})
}

func tarNames(t *testing.T, tgz []byte) []string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

func TestHostileZipsRejected(t *testing.T) {
	t.Parallel()
	e := newStagingEnv(t)
	app := e.createApp(e.dev, "web")["guid"].(string)
	link := func(name, target string) []byte {
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		h := &zip.FileHeader{Name: name}
		h.SetMode(fs.ModeSymlink | 0o777)
		fw, _ := w.CreateHeader(h)
		fw.Write([]byte(target))
		w.Close()
		return buf.Bytes()
	}
	bomb := func() []byte {
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		fw, _ := w.Create("zeros")
		fw.Write(make([]byte, 16<<20))
		w.Close()
		return buf.Bytes()
	}
	for _, tc := range []struct {
		name, want string
		zip        []byte
	}{
		{"dotdot", "escapes the package", zipBytes(t, map[string]string{"../evil": "x"})},
		{"absolute", "absolute path", zipBytes(t, map[string]string{"/etc/passwd": "x"})},
		{"symlink escape", "points outside the package", link("l", "../../etc/shadow")},
		{"bomb", "compression ratio", bomb()},
		{"not a zip", "not a valid zip", []byte("definitely not a zip archive, just text")},
	} {
		pkg := e.newPackage(app)
		r := e.upload(e.dev, pkg, []any{}, tc.zip)
		e.wantErr(r, http.StatusUnprocessableEntity, tc.want)
		if !strings.Contains(string(r.Body), "CF-UnprocessableEntity") || !strings.Contains(string(r.Body), tc.want) {
			t.Errorf("%s: %s", tc.name, r.Body)
		}
		if m := e.want(e.do(e.dev, "GET", "/v3/packages/"+pkg, nil), http.StatusOK); m["state"] != "AWAITING_UPLOAD" {
			t.Errorf("%s: package state %v", tc.name, m["state"])
		}
	}
	e.wantErr(e.upload(e.dev, e.newPackage(app), []map[string]any{{"path": "../x", "mode": "644", "checksum": map[string]any{"value": strings.Repeat("a", 40)}, "size_in_bytes": 1}}, nil),
		http.StatusUnprocessableEntity, "escapes the package")
	e.wantErr(e.upload(e.dev, e.newPackage(app), "not a list", nil), http.StatusUnprocessableEntity, "Resources must be valid JSON.")
	if keys := e.blobs.keys(apiblob.BucketPackages); len(keys) != 0 {
		t.Errorf("hostile packages stored: %v", keys)
	}
}

func TestStagingFailures(t *testing.T) {
	t.Parallel()
	e := newStagingEnv(t)
	app := e.createApp(e.dev, "web")["guid"].(string)
	pkg := e.readyPackage(app, map[string]string{"index.html": "hi"})
	for _, tc := range []struct{ reason, want string }{
		{"STG: Exited with status 222", "NoAppDetectedError - An app was not successfully detected by any available buildpack"},
		{"STG: Exited with status 223", "BuildpackCompileFailed - App staging failed in the buildpack compile phase"},
		{"STG: Exited with status 224", "BuildpackReleaseFailed - App staging failed in the buildpack release phase"},
		{"STG: Exited with status 225", "StagingError - Staging error: staging failed"},
		{"insufficient resources: memory", "InsufficientResources - Insufficient resources"},
		{"Downloading app package failed", "StagingError - Staging error: staging failed"},
	} {
		b, def := e.stage(pkg, map[string]any{"lifecycle": map[string]any{"type": "buildpack", "data": map[string]any{"buildpacks": []string{"staticfile_buildpack"}}}})
		if !slices.Contains(def.GetAction().GetArgs(), "-skipDetect") || !slices.Contains(def.GetAction().GetArgs(), "-buildpackOrder=staticfile_buildpack") {
			t.Errorf("requested buildpack args %v", def.GetAction().GetArgs())
		}
		guid := b["guid"].(string)
		if r := e.complete(def, taskCallback{TaskGUID: guid, Failed: true, FailureReason: tc.reason}); r.Status != http.StatusOK {
			t.Fatalf("callback %d %s", r.Status, r.Body)
		}
		b = e.want(e.do(e.dev, "GET", "/v3/builds/"+guid, nil), http.StatusOK)
		if b["state"] != "FAILED" || b["error"] != tc.want || b["droplet"] != nil {
			t.Errorf("%s: build %v %v", tc.reason, b["state"], b["error"])
		}
	}
	// A failed droplet cannot be assigned; neither can another app's.
	l := e.want(e.do(e.dev, "GET", "/v3/apps/"+app+"/droplets?states=FAILED", nil), http.StatusOK)
	failed := l["resources"].([]any)[0].(map[string]any)["guid"].(string)
	const unassignable = "Unable to assign current droplet. Ensure the droplet exists and belongs to this app."
	e.wantErr(e.do(e.dev, "PATCH", "/v3/apps/"+app+"/relationships/current_droplet", map[string]any{"data": map[string]any{"guid": failed}}), http.StatusUnprocessableEntity, unassignable)
	other := e.createApp(e.dev, "other")["guid"].(string)
	e.wantErr(e.do(e.dev, "PATCH", "/v3/apps/"+other+"/relationships/current_droplet", map[string]any{"data": map[string]any{"guid": failed}}), http.StatusUnprocessableEntity, unassignable)

	// Unknown buildpacks and unready packages are refused up front.
	e.wantErr(e.do(e.dev, "POST", "/v3/builds", map[string]any{"package": map[string]any{"guid": pkg},
		"lifecycle": map[string]any{"type": "buildpack", "data": map[string]any{"buildpacks": []string{"nope_buildpack"}}}}),
		http.StatusUnprocessableEntity, `Buildpack "nope_buildpack" must be an existing admin buildpack or a valid git URI`)
	e.wantErr(e.do(e.dev, "POST", "/v3/builds", map[string]any{"package": map[string]any{"guid": e.newPackage(app)}}), http.StatusBadRequest, "Cannot stage package whose state is not ready.")
	e.wantErr(e.do(e.outsider, "POST", "/v3/builds", map[string]any{"package": map[string]any{"guid": pkg}}), http.StatusUnprocessableEntity,
		"Unable to use package. Ensure that the package exists and you have access to it.")

	// The BBS refusing the task fails the build at once.
	e.tasks.mu.Lock()
	e.tasks.fail = errors.New("bbs down")
	e.tasks.mu.Unlock()
	if b, _ := e.stage(pkg, nil); b["state"] != "FAILED" {
		t.Errorf("build with BBS down %v", b)
	}

	// A build whose callback never comes is given up once the timeout
	// (here already past) and the grace have passed.
	e.tasks.mu.Lock()
	e.tasks.fail = nil
	e.tasks.mu.Unlock()
	lost, _ := e.stage(pkg, nil)
	e.srv.opts.Staging.Timeout = -stagingGrace
	b := e.want(e.do(e.dev, "GET", "/v3/builds/"+lost["guid"].(string), nil), http.StatusOK)
	if b["state"] != "FAILED" || !strings.HasPrefix(fmt.Sprint(b["error"]), "StagingTimeExpired - Staging time expired") ||
		!slices.Contains(e.tasks.cancelled, lost["guid"].(string)) {
		t.Errorf("lost build %v %v, cancelled %v", b["state"], b["error"], e.tasks.cancelled)
	}
	e.srv.opts.Staging.Timeout = 15 * time.Minute

	// A copy of a package and droplet delete.
	cp := e.want(e.do(e.dev, "POST", "/v3/packages?source_guid="+pkg, map[string]any{"relationships": map[string]any{"app": rel(other)}}), http.StatusCreated)
	if cp["state"] != "READY" {
		t.Errorf("copy %v", cp)
	}
	if _, ok := e.blobs.get(apiblob.BucketPackages, cp["guid"].(string)); !ok {
		t.Error("copied package has no blob")
	}
	e.want(e.do(e.dev, "DELETE", "/v3/droplets/"+failed, nil), http.StatusAccepted)
	e.wantErr(e.do(e.dev, "GET", "/v3/droplets/"+failed, nil), http.StatusNotFound, "Droplet not found")
	e.want(e.do(e.dev, "DELETE", "/v3/packages/"+cp["guid"].(string), nil), http.StatusAccepted)
	if _, ok := e.blobs.get(apiblob.BucketPackages, cp["guid"].(string)); ok {
		t.Error("deleted package's blob remains")
	}
	// Docker packages need diego_docker, as apps do.
	e.wantErr(e.do(e.dev, "POST", "/v3/packages", map[string]any{"type": "docker", "data": map[string]any{"image": "x"}, "relationships": map[string]any{"app": rel(app)}}),
		http.StatusForbidden, "Feature Disabled: diego_docker")
}

func TestStagingErrorTexts(t *testing.T) {
	t.Parallel()
	for reason, want := range map[string]string{
		"STG: Exited with status 222":                 "NoAppDetectedError - An app was not successfully detected by any available buildpack",
		"STG: Exited with status 137 (out of memory)": "StagingError - Staging error: staging failed",
		"found no compatible cell":                    "NoCompatibleCell - Found no compatible cell",
		"":                                            "StagingError - Staging error: staging failed",
	} {
		if got := stagingError(reason); got != want {
			t.Errorf("stagingError(%q) = %q, want %q", reason, got, want)
		}
	}
}
