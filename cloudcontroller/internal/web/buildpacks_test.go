package web

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Tests of /v3/buildpacks, the system buildpack bootstrap and staging
// from the buildpacks table.

func (e *stagingEnv) uploadBuildpack(token, guid, filename string, bits []byte) response {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("bits", filename)
	fw.Write(bits)
	mw.Close()
	req, _ := http.NewRequestWithContext(e.t.Context(), "POST", e.url+"/v3/buildpacks/"+guid+"/upload", &body)
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

// buildpackOrder returns the names of the buildpacks in position order
// and checks positions are 1…n.
func (e *stagingEnv) buildpackOrder() []string {
	e.t.Helper()
	m := e.want(e.do(e.dev, "GET", "/v3/buildpacks", nil), http.StatusOK)
	var names []string
	for i, r := range m["resources"].([]any) {
		b := r.(map[string]any)
		if int(b["position"].(float64)) != i+1 {
			e.t.Fatalf("position of %s is %v, want %d", b["name"], b["position"], i+1)
		}
		names = append(names, b["name"].(string))
	}
	return names
}

func TestBuildpacksCRUD(t *testing.T) {
	t.Parallel()
	e := newStagingEnv(t)
	e.srv.opts.Staging.BuildpacksDir = "" // no bootstrap source here

	create := func(body map[string]any) map[string]any {
		t.Helper()
		return e.want(e.do(e.admin, "POST", "/v3/buildpacks", body), http.StatusCreated)
	}
	a := create(map[string]any{"name": "a_buildpack"})
	if a["state"] != "AWAITING_UPLOAD" || a["filename"] != nil || a["stack"] != nil || a["position"] != 1.0 ||
		a["enabled"] != true || a["locked"] != false || a["lifecycle"] != "buildpack" || str(a, "links", "upload", "method") != "POST" {
		t.Fatalf("created %v", a)
	}
	create(map[string]any{"name": "b_buildpack"})
	c := create(map[string]any{"name": "c_buildpack", "position": 1, "stack": "cflinuxfs4", "metadata": map[string]any{"labels": map[string]any{"tier": "one"}}})
	create(map[string]any{"name": "d_buildpack", "position": 99, "enabled": false})
	if got := e.buildpackOrder(); !slices.Equal(got, []string{"c_buildpack", "a_buildpack", "b_buildpack", "d_buildpack"}) {
		t.Fatalf("order %v", got)
	}

	// Refusals.
	e.wantErr(e.do(e.dev, "POST", "/v3/buildpacks", map[string]any{"name": "x"}), http.StatusForbidden, "")
	e.wantErr(e.do(e.admin, "POST", "/v3/buildpacks", map[string]any{"name": "a_buildpack"}), http.StatusUnprocessableEntity,
		"Buildpack with name 'a_buildpack' and an unassigned stack already exists")
	e.wantErr(e.do(e.admin, "POST", "/v3/buildpacks", map[string]any{"name": "bad name"}), http.StatusUnprocessableEntity, "Name can only contain alphanumeric characters")
	e.wantErr(e.do(e.admin, "POST", "/v3/buildpacks", map[string]any{"name": "p", "position": 0}), http.StatusUnprocessableEntity, "Position must be greater than or equal to 1")
	e.wantErr(e.do(e.admin, "POST", "/v3/buildpacks", map[string]any{"name": "p", "stack": "nope"}), http.StatusUnprocessableEntity, "Stack 'nope' does not exist")
	// The same name on another stack is fine.
	create(map[string]any{"name": "a_buildpack", "stack": "cflinuxfs3"})

	// Filters.
	m := e.want(e.do(e.dev, "GET", "/v3/buildpacks?names=a_buildpack,c_buildpack", nil), http.StatusOK)
	if len(guids(m)) != 3 {
		t.Fatalf("names filter %s", m)
	}
	m = e.want(e.do(e.dev, "GET", "/v3/buildpacks?stacks=cflinuxfs4", nil), http.StatusOK)
	if g := guids(m); len(g) != 1 || g[0] != c["guid"] {
		t.Fatalf("stacks filter %s", m)
	}
	m = e.want(e.do(e.dev, "GET", "/v3/buildpacks?label_selector=tier=one", nil), http.StatusOK)
	if g := guids(m); len(g) != 1 || g[0] != c["guid"] {
		t.Fatalf("label filter %s", m)
	}
	m = e.want(e.do(e.dev, "GET", "/v3/buildpacks?order_by=-position&per_page=1", nil), http.StatusOK)
	if str(m["resources"].([]any)[0].(map[string]any), "name") != "a_buildpack" { // the one on cflinuxfs3, last
		t.Fatalf("order_by=-position %s", m)
	}

	// Moving reorders atomically: c (1) to 3, then d (4) to 1.
	e.want(e.do(e.admin, "PATCH", "/v3/buildpacks/"+c["guid"].(string), map[string]any{"position": 3}), http.StatusOK)
	if got := e.buildpackOrder(); !slices.Equal(got, []string{"a_buildpack", "b_buildpack", "c_buildpack", "d_buildpack", "a_buildpack"}) {
		t.Fatalf("order after move down %v", got)
	}
	d := e.want(e.do(e.dev, "GET", "/v3/buildpacks?names=d_buildpack", nil), http.StatusOK)["resources"].([]any)[0].(map[string]any)
	u := e.want(e.do(e.admin, "PATCH", "/v3/buildpacks/"+d["guid"].(string), map[string]any{"position": 1, "enabled": true, "locked": true}), http.StatusOK)
	if u["position"] != 1.0 || u["enabled"] != true || u["locked"] != true {
		t.Fatalf("update %v", u)
	}
	if got := e.buildpackOrder(); !slices.Equal(got, []string{"d_buildpack", "a_buildpack", "b_buildpack", "c_buildpack", "a_buildpack"}) {
		t.Fatalf("order after move up %v", got)
	}
	e.wantErr(e.do(e.dev, "PATCH", "/v3/buildpacks/"+c["guid"].(string), map[string]any{"position": 1}), http.StatusForbidden, "")
	e.wantErr(e.do(e.admin, "GET", "/v3/buildpacks/"+"00000000-0000-0000-0000-000000000000", nil), http.StatusNotFound, "Buildpack not found")

	// Upload: zip and tarball stored, READY with filename.
	bits := zipBytes(t, map[string]string{"bin/detect": "#!/bin/sh\nexit 0\n", "bin/compile": "#!/bin/sh\n", "VERSION": "2.0"})
	up := e.uploadBuildpack(e.admin, a["guid"].(string), "a_buildpack-v2.zip", bits)
	e.waitJob(up, e.admin)
	got := e.want(e.do(e.dev, "GET", "/v3/buildpacks/"+a["guid"].(string), nil), http.StatusOK)
	if got["state"] != "READY" || got["filename"] != "a_buildpack-v2.zip" {
		t.Fatalf("after upload %v", got)
	}
	keys := e.blobs.keys(apiblob.BucketBuildpacks)
	if len(keys) != 2 || !strings.HasPrefix(keys[0], a["guid"].(string)+"/") {
		t.Fatalf("buildpack blobs %v", keys)
	}
	if z, _ := e.blobs.get(apiblob.BucketBuildpacks, keys[0]); !bytes.Equal(z, bits) {
		t.Fatalf("stored zip differs")
	}
	e.wantErr(e.uploadBuildpack(e.admin, d["guid"].(string), "d.zip", bits), http.StatusUnprocessableEntity, "Buildpack is locked")
	e.wantErr(e.uploadBuildpack(e.admin, c["guid"].(string), "c.tgz", bits), http.StatusUnprocessableEntity, "is not a zip")
	e.wantErr(e.uploadBuildpack(e.admin, c["guid"].(string), "c.zip", []byte("not a zip")), http.StatusUnprocessableEntity, "")
	e.wantErr(e.uploadBuildpack(e.dev, c["guid"].(string), "c.zip", bits), http.StatusForbidden, "")

	// Delete is a job; positions close up and the blobs go.
	e.waitJob(e.do(e.admin, "DELETE", "/v3/buildpacks/"+a["guid"].(string), nil), e.admin)
	if got := e.buildpackOrder(); !slices.Equal(got, []string{"d_buildpack", "b_buildpack", "c_buildpack", "a_buildpack"}) {
		t.Fatalf("order after delete %v", got)
	}
	if keys := e.blobs.keys(apiblob.BucketBuildpacks); len(keys) != 0 {
		t.Fatalf("blobs left %v", keys)
	}
}

func TestBuildpackBootstrapAndStaging(t *testing.T) {
	t.Parallel()
	e := newStagingEnv(t)
	ctx := t.Context()
	dir := e.srv.opts.Staging.BuildpacksDir // staticfile_buildpack, binary_buildpack
	e.srv.opts.Staging.DefaultBuildpacks = []string{"staticfile_buildpack"}
	if err := e.srv.BootstrapBuildpacks(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.buildpackOrder(); !slices.Equal(got, []string{"staticfile_buildpack", "binary_buildpack"}) {
		t.Fatalf("bootstrapped order %v", got)
	}
	keysBefore := e.blobs.keys(apiblob.BucketBuildpacks)
	before := e.want(e.do(e.dev, "GET", "/v3/buildpacks", nil), http.StatusOK)

	// Idempotent: nothing changes on a second start.
	if err := e.srv.BootstrapBuildpacks(ctx); err != nil {
		t.Fatal(err)
	}
	after := e.want(e.do(e.dev, "GET", "/v3/buildpacks", nil), http.StatusOK)
	if !slices.Equal(guids(before), guids(after)) || !slices.Equal(keysBefore, e.blobs.keys(apiblob.BucketBuildpacks)) {
		t.Fatalf("second bootstrap changed things: %v → %v", keysBefore, e.blobs.keys(apiblob.BucketBuildpacks))
	}
	for _, r := range after["resources"].([]any) {
		if b := r.(map[string]any); b["state"] != "READY" || !strings.HasSuffix(b["filename"].(string), ".zip") {
			t.Fatalf("bootstrapped %v", b)
		}
	}

	// A changed zip is uploaded again (new key, old blobs gone).
	zipFile(t, filepath.Join(dir, "binary_buildpack.zip"), map[string]string{"bin/detect": "#!/bin/sh\n", "VERSION": "1.1.0"})
	if err := e.srv.BootstrapBuildpacks(ctx); err != nil {
		t.Fatal(err)
	}
	keysAfter := e.blobs.keys(apiblob.BucketBuildpacks)
	if len(keysAfter) != 4 || slices.Equal(keysAfter, keysBefore) {
		t.Fatalf("blobs after change %v (before %v)", keysAfter, keysBefore)
	}

	// Staging uses the table: every enabled buildpack in position order.
	bin, err := e.st.BuildpackByName(ctx, "binary_buildpack", "")
	if err != nil {
		t.Fatal(err)
	}
	app := e.createApp(e.dev, "app")["guid"].(string)
	pkg := e.readyPackage(app, map[string]string{"Staticfile": ""})
	_, def := e.stage(pkg, nil)
	var artifacts []string
	for _, d := range def.GetSetup()[1 : len(def.GetSetup())-1] {
		artifacts = append(artifacts, d.GetArtifact())
		if d.GetArtifact() == "binary_buildpack" && !strings.Contains(d.GetFrom(), bin.TarballKey) {
			t.Errorf("binary_buildpack from %s, want key %s", d.GetFrom(), bin.TarballKey)
		}
	}
	if !slices.Equal(artifacts, []string{"staticfile_buildpack", "binary_buildpack"}) {
		t.Fatalf("staging buildpacks %v", artifacts)
	}
	if _, err := e.st.CompleteBuild(ctx, def.GetAnnotation(), store.StagingOutcome{Error: "x"}); err != nil {
		t.Fatal(err)
	}

	// A disabled buildpack is left out of detection; the setup downloads
	// stay fetchable (signed URLs of the table's keys).
	bin.Enabled = false
	if _, err := e.st.UpdateBuildpack(ctx, bin); err != nil {
		t.Fatal(err)
	}
	_, def = e.stage(pkg, nil)
	if n := len(def.GetSetup()); n != 3 || def.GetSetup()[1].GetArtifact() != "staticfile_buildpack" {
		t.Fatalf("setup with binary disabled: %d actions", n)
	}
	if r := e.runStaging(def, def.GetAnnotation(), stagedResult); r.Status != http.StatusOK {
		t.Fatalf("staging %d %s", r.Status, r.Body)
	}

	// Requesting a disabled buildpack by name is CF's error; a name only in
	// the directory still works (fallback).
	e.wantErr(e.do(e.dev, "POST", "/v3/builds", map[string]any{"package": map[string]any{"guid": pkg},
		"lifecycle": map[string]any{"type": "buildpack", "data": map[string]any{"buildpacks": []string{"binary_buildpack"}}}}),
		http.StatusUnprocessableEntity, `Buildpack "binary_buildpack" must be an existing admin buildpack or a valid git URI`)
	zipFile(t, filepath.Join(dir, "extra_buildpack.zip"), map[string]string{"bin/detect": "#!/bin/sh\n"})
	_, def = e.stage(pkg, map[string]any{"lifecycle": map[string]any{"type": "buildpack", "data": map[string]any{"buildpacks": []string{"extra_buildpack"}}}})
	if def.GetSetup()[1].GetArtifact() != "extra_buildpack" || !strings.Contains(def.GetSetup()[1].GetFrom(), "system/extra_buildpack/") {
		t.Fatalf("directory fallback: %v", def.GetSetup()[1])
	}
	os.Remove(filepath.Join(dir, "extra_buildpack.zip"))
}
