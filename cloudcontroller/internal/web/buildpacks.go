package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/zipcheck"
	"github.com/anvilpaas/anvil/internal/blobclient"
)

// Admin buildpacks: /v3/buildpacks (cf buildpacks, create-buildpack,
// update-buildpack, delete-buildpack). The zip is stored in the buildpacks
// bucket as <guid>/<sha256>, with a gzipped tarball beside it
// (<guid>/<sha256>.tgz) that staging tasks download (the rep extracts
// tarballs only). At start the zips in staging.buildpacks_dir are
// registered as system buildpacks (BootstrapBuildpacks).

type buildpackJSON struct {
	GUID      string          `json:"guid"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
	Name      string          `json:"name"`
	State     string          `json:"state"`
	Filename  *string         `json:"filename"`
	Stack     *string         `json:"stack"`
	Position  int             `json:"position"`
	Lifecycle string          `json:"lifecycle"`
	Enabled   bool            `json:"enabled"`
	Locked    bool            `json:"locked"`
	Metadata  Metadata        `json:"metadata"`
	Links     map[string]Link `json:"links"`
}

func (s *Server) buildpackJSON(b store.Buildpack) buildpackJSON {
	self := s.url("/v3/buildpacks/" + b.GUID)
	return buildpackJSON{
		GUID: b.GUID, CreatedAt: timestamp(b.CreatedAt), UpdatedAt: timestamp(b.UpdatedAt), Name: b.Name,
		State: b.State, Filename: nullString(b.Filename), Stack: nullString(b.Stack), Position: b.Position,
		Lifecycle: store.LifecycleBuildpack, Enabled: b.Enabled, Locked: b.Locked, Metadata: toMetadata(b.Metadata),
		Links: map[string]Link{"self": {Href: self}, "upload": {Href: self + "/upload", Method: http.MethodPost}},
	}
}

var buildpackListSpec = query.Spec{Filters: []string{"names", "stacks", "lifecycle", "guids"}, OrderBy: []string{"position"}, LabelSelector: true, Timestamps: true}

// maxBuildpackUpload bounds an uploaded buildpack zip.
const maxBuildpackUpload = 1 << 30

func (s *Server) registerBuildpacks() {
	s.authed("GET /v3/buildpacks", s.listBuildpacks)
	s.authed("POST /v3/buildpacks", s.createBuildpack)
	s.authed("GET /v3/buildpacks/{guid}", s.getBuildpack)
	s.authed("PATCH /v3/buildpacks/{guid}", s.updateBuildpack)
	s.authed("DELETE /v3/buildpacks/{guid}", s.deleteBuildpack)
	s.authed("POST /v3/buildpacks/{guid}/upload", s.uploadBuildpack)
	s.bodyLimits["POST /v3/buildpacks/{guid}/upload"] = maxBuildpackUpload + 1<<20
}

func (s *Server) listBuildpacks(w http.ResponseWriter, r *http.Request, a *Actor) error {
	l, err := query.Parse(r.URL.Query(), buildpackListSpec)
	if err != nil {
		return err
	}
	if !r.URL.Query().Has("order_by") {
		l.OrderBy = "position"
	}
	f := store.Filter{OrderBy: l.OrderBy, Desc: l.Desc, Limit: l.PerPage, Offset: l.Offset()}
	if v, ok := l.Filters["names"]; ok {
		f.In("t.name", v)
	}
	if v, ok := l.Filters["guids"]; ok {
		f.Where("t.guid = ANY(?::uuid[])", v)
	}
	if v, ok := l.Filters["stacks"]; ok {
		// An empty value matches buildpacks without a stack.
		f.Where("coalesce(t.stack, '') = ANY(?)", v)
	}
	if v, ok := l.Filters["lifecycle"]; ok && !slices.Contains(v, store.LifecycleBuildpack) {
		f.Where("false")
	}
	if err := applyCommon(&f, l); err != nil {
		return err
	}
	bps, total, err := s.store.ListBuildpacks(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]buildpackJSON, 0, len(bps))
	for _, b := range bps {
		out = append(out, s.buildpackJSON(b))
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url("/v3/buildpacks"), total), Resources: out})
}

func (s *Server) buildpack(r *http.Request) (store.Buildpack, error) {
	b, err := s.store.GetBuildpack(r.Context(), r.PathValue("guid"))
	if errors.Is(err, store.ErrNotFound) {
		return b, apierr.NotFound("Buildpack")
	}
	return b, err
}

func (s *Server) getBuildpack(w http.ResponseWriter, r *http.Request, a *Actor) error {
	b, err := s.buildpack(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.buildpackJSON(b))
}

type buildpackBody struct {
	Name      *string        `json:"name"`
	Stack     *string        `json:"stack"`
	Position  *int           `json:"position"`
	Enabled   *bool          `json:"enabled"`
	Locked    *bool          `json:"locked"`
	Lifecycle *string        `json:"lifecycle"`
	Metadata  *metadataPatch `json:"metadata"`
}

var buildpackName = regexp.MustCompile(`^[-\w]+$`)

func (b buildpackBody) check(create bool) error {
	var p problems
	switch {
	case b.Name == nil && create:
		p.add("Name must be a string")
	case b.Name != nil && *b.Name == "":
		p.add("Name can't be blank")
	case b.Name != nil && len(*b.Name) > 250:
		p.add("Name is too long (maximum is 250 characters)")
	case b.Name != nil && !buildpackName.MatchString(*b.Name):
		p.add("Name can only contain alphanumeric characters")
	}
	if b.Stack != nil && len(*b.Stack) > 250 {
		p.add("Stack is too long (maximum is 250 characters)")
	}
	if b.Position != nil && *b.Position < 1 {
		p.add("Position must be greater than or equal to 1")
	}
	if b.Lifecycle != nil && *b.Lifecycle != store.LifecycleBuildpack {
		p.add("Lifecycle must be 'buildpack'")
	}
	return p.err()
}

// buildpackConflict is CF's uniqueness error for a name and stack.
func buildpackConflict(name, stack string) error {
	if stack == "" {
		return apierr.Unprocessable(fmt.Sprintf("Buildpack with name '%s' and an unassigned stack already exists", name))
	}
	return apierr.Unprocessable(fmt.Sprintf("Buildpack with name '%s' and stack '%s' already exists", name, stack))
}

func (s *Server) checkBuildpackStack(ctx context.Context, stack string) error {
	if stack == "" {
		return nil
	}
	f := store.Filter{Limit: 1}
	f.In("t.name", []string{stack})
	st, _, err := s.store.ListStacks(ctx, f)
	if err != nil {
		return err
	}
	if len(st) == 0 {
		return apierr.Unprocessable(fmt.Sprintf("Stack '%s' does not exist", stack))
	}
	return nil
}

func (s *Server) createBuildpack(w http.ResponseWriter, r *http.Request, a *Actor) error {
	if err := requireAdmin(a); err != nil {
		return err
	}
	var body buildpackBody
	if err := decode(r, &body); err != nil {
		return err
	}
	if err := body.check(true); err != nil {
		return err
	}
	b := store.Buildpack{Name: *body.Name, Enabled: true}
	if body.Stack != nil {
		b.Stack = *body.Stack
	}
	if body.Position != nil {
		b.Position = *body.Position
	}
	if body.Enabled != nil {
		b.Enabled = *body.Enabled
	}
	if body.Locked != nil {
		b.Locked = *body.Locked
	}
	if err := body.Metadata.apply(&b.Metadata); err != nil {
		return err
	}
	if err := s.checkBuildpackStack(r.Context(), b.Stack); err != nil {
		return err
	}
	created, err := s.store.CreateBuildpack(r.Context(), b)
	if errors.Is(err, store.ErrConflict) {
		return buildpackConflict(b.Name, b.Stack)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.buildpackJSON(created))
}

func (s *Server) updateBuildpack(w http.ResponseWriter, r *http.Request, a *Actor) error {
	b, err := s.buildpack(r)
	if err != nil {
		return err
	}
	if err := requireAdmin(a); err != nil {
		return err
	}
	var body buildpackBody
	if err := decode(r, &body); err != nil {
		return err
	}
	if err := body.check(false); err != nil {
		return err
	}
	if body.Name != nil {
		b.Name = *body.Name
	}
	if body.Stack != nil {
		// CF lets the stack be set once, on a buildpack without one.
		if b.Stack != "" && *body.Stack != b.Stack {
			return apierr.Unprocessable("Stack cannot be changed once it is set")
		}
		b.Stack = *body.Stack
		if err := s.checkBuildpackStack(r.Context(), b.Stack); err != nil {
			return err
		}
	}
	if body.Position != nil {
		b.Position = *body.Position
	}
	if body.Enabled != nil {
		b.Enabled = *body.Enabled
	}
	if body.Locked != nil {
		b.Locked = *body.Locked
	}
	if err := body.Metadata.apply(&b.Metadata); err != nil {
		return err
	}
	updated, err := s.store.UpdateBuildpack(r.Context(), b)
	if errors.Is(err, store.ErrConflict) {
		return buildpackConflict(b.Name, b.Stack)
	}
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("Buildpack")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.buildpackJSON(updated))
}

func (s *Server) deleteBuildpack(w http.ResponseWriter, r *http.Request, a *Actor) error {
	b, err := s.buildpack(r)
	if err != nil {
		return err
	}
	if err := requireAdmin(a); err != nil {
		return err
	}
	return s.runJob(w, r, "buildpack.delete", a, func() error {
		ctx := context.WithoutCancel(r.Context())
		if err := s.store.DeleteBuildpack(ctx, b.GUID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		s.deleteBuildpackBlobs(ctx, b)
		return nil
	})
}

func (s *Server) deleteBuildpackBlobs(ctx context.Context, b store.Buildpack) {
	var keys []string
	for _, k := range []string{b.BlobKey, b.TarballKey} {
		if k != "" {
			keys = append(keys, k)
		}
	}
	s.deleteBlobs(ctx, apiblob.BucketBuildpacks, keys...)
}

// uploadBuildpack is POST /v3/buildpacks/:guid/upload: multipart `bits`
// (a zip). It answers 202 with a job that is already complete, as the cf
// CLI polls it.
func (s *Server) uploadBuildpack(w http.ResponseWriter, r *http.Request, a *Actor) error {
	b, err := s.buildpack(r)
	if err != nil {
		return err
	}
	if err := requireAdmin(a); err != nil {
		return err
	}
	if b.Locked {
		return apierr.Unprocessable("Buildpack is locked")
	}
	if s.blobs == nil {
		return blobstoreUnavailable()
	}
	f, size, filename, err := s.readBuildpackBits(r)
	if f != nil {
		defer func() {
			f.Close()
			os.Remove(f.Name())
		}()
	}
	if err != nil {
		return err
	}
	ctx := context.WithoutCancel(r.Context())
	_, err = s.storeBuildpackBits(ctx, b, f, size, filename)
	if err != nil {
		return err
	}
	return s.runJob(w, r, "buildpack.upload", a, func() error { return nil })
}

// readBuildpackBits reads the multipart `bits` part to a temporary file
// (the caller removes it) and checks it is a safe zip.
func (s *Server) readBuildpackBits(r *http.Request) (*os.File, int64, string, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, 0, "", apierr.Unprocessable("Buildpack bits must be uploaded as multipart form data in the 'bits' field")
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, 0, "", apierr.Unprocessable("Bits can't be blank")
		}
		if err != nil {
			return nil, 0, "", uploadReadError(err)
		}
		if part.FormName() != "bits" {
			part.Close()
			continue
		}
		filename := filepath.Base(part.FileName())
		if !strings.HasSuffix(strings.ToLower(filename), ".zip") {
			return nil, 0, "", apierr.Unprocessable(fmt.Sprintf("%s is not a zip", filename))
		}
		f, err := os.CreateTemp(s.opts.Packages.TempDir, "buildpack-*.zip")
		if err != nil {
			return nil, 0, "", err
		}
		n, err := io.Copy(f, io.LimitReader(part, maxBuildpackUpload+1))
		if err != nil {
			return f, 0, "", uploadReadError(err)
		}
		if n > maxBuildpackUpload {
			return f, 0, "", apierr.Unprocessable(fmt.Sprintf("The buildpack is larger than %d bytes.", maxBuildpackUpload))
		}
		if _, err := zipcheck.Check(f, n, s.opts.Packages.Limits); err != nil {
			var ze *zipcheck.Error
			if errors.As(err, &ze) {
				return f, 0, "", apierr.Unprocessable(ze.Reason)
			}
			return f, 0, "", err
		}
		return f, n, filename, nil
	}
}

// storeBuildpackBits puts the zip in f and its tarball in the blobstore,
// records them (READY) and deletes the previous blobs.
func (s *Server) storeBuildpackBits(ctx context.Context, b store.Buildpack, f *os.File, size int64, filename string) (store.Buildpack, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
		return b, fmt.Errorf("buildpack %s: %w", b.Name, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	bits := store.BuildpackBits{Filename: filename, SHA256: sum, BlobKey: b.GUID + "/" + sum, TarballKey: b.GUID + "/" + sum + ".tgz"}
	if _, err := s.blobs.Put(ctx, apiblob.BucketBuildpacks, bits.BlobKey, io.NewSectionReader(f, 0, size), blobclient.PutOptions{}); err != nil {
		return b, fmt.Errorf("buildpack %s: store zip: %w", b.Name, err)
	}
	info, err := s.zipToBlob(ctx, f, size, apiblob.BucketBuildpacks, bits.TarballKey)
	if err != nil {
		return b, fmt.Errorf("buildpack %s: store tarball: %w", b.Name, err)
	}
	bits.TarballSHA256 = info.SHA256
	out, err := s.store.SetBuildpackBits(ctx, b.GUID, bits)
	if err != nil {
		return b, err
	}
	if b.BlobKey != "" && b.BlobKey != bits.BlobKey {
		s.deleteBuildpackBlobs(ctx, b)
	}
	return out, nil
}

// BootstrapBuildpacks registers every <name>.zip of staging.buildpacks_dir
// as a stack-less admin buildpack if missing (appended in the configured
// default order, then by name) and uploads its bits; a registered one is
// uploaded again only when the zip's sha256 changed. It is idempotent and
// does nothing without a directory or a blobstore.
func (s *Server) BootstrapBuildpacks(ctx context.Context) error {
	if s.opts.Staging.BuildpacksDir == "" || s.blobs == nil {
		return nil
	}
	names, err := s.dirBuildpacks()
	if err != nil {
		return err
	}
	order := slices.Clone(s.opts.Staging.DefaultBuildpacks)
	for _, n := range names {
		if !slices.Contains(order, n) {
			order = append(order, n)
		}
	}
	for _, name := range order {
		if !slices.Contains(names, name) {
			continue
		}
		if err := s.bootstrapBuildpack(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) bootstrapBuildpack(ctx context.Context, name string) error {
	f, err := os.Open(filepath.Join(s.opts.Staging.BuildpacksDir, name+".zip"))
	if err != nil {
		return fmt.Errorf("system buildpack %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("system buildpack %s: %w", name, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("system buildpack %s: %w", name, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	b, err := s.store.BuildpackByName(ctx, name, "")
	if errors.Is(err, store.ErrNotFound) {
		b, err = s.store.CreateBuildpack(ctx, store.Buildpack{Name: name, Enabled: true})
		if errors.Is(err, store.ErrConflict) { // another Cloud Controller won
			b, err = s.store.BuildpackByName(ctx, name, "")
		}
	}
	if err != nil {
		return err
	}
	if b.State == store.BuildpackReady && b.SHA256 == sum {
		return nil
	}
	if _, err := s.storeBuildpackBits(ctx, b, f, fi.Size(), name+".zip"); err != nil {
		return err
	}
	s.logger.Info("registered system buildpack", "name", name, "guid", b.GUID, "sha256", sum)
	return nil
}

// RunBuildpackBootstrap runs BootstrapBuildpacks until it succeeds (the
// blobstore may start after the Cloud Controller), then waits for ctx.
func (s *Server) RunBuildpackBootstrap(ctx context.Context) error {
	delay := time.Second
	for {
		err := s.BootstrapBuildpacks(ctx)
		if err == nil {
			break
		}
		s.logger.Warn("bootstrap system buildpacks", "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Minute)
	}
	<-ctx.Done()
	return nil
}

// tableBuildpacks returns the detection order of an app that names no
// buildpack: every enabled READY buildpack for stack (or stack-less) in
// position order; none when the table has none.
func (s *Server) tableBuildpacks(ctx context.Context, stack string) ([]buildpackBlob, error) {
	bps, err := s.store.StagingBuildpacks(ctx, stack)
	if err != nil {
		return nil, err
	}
	out := make([]buildpackBlob, 0, len(bps))
	for _, b := range bps {
		out = append(out, buildpackBlob{name: b.Name, key: b.TarballKey, sha256: b.TarballSHA256})
	}
	return out, nil
}

// tableBuildpack returns the blob of the buildpack called name for stack;
// found=false when the table has no such buildpack (the caller falls back
// to the buildpacks directory). A disabled or not yet uploaded one is
// CF's unknown-buildpack error.
func (s *Server) tableBuildpack(ctx context.Context, name, stack string) (buildpackBlob, bool, error) {
	b, err := s.store.BuildpackByName(ctx, name, stack)
	if errors.Is(err, store.ErrNotFound) {
		return buildpackBlob{}, false, nil
	}
	if err != nil {
		return buildpackBlob{}, false, err
	}
	if b.State != store.BuildpackReady || !b.Enabled {
		return buildpackBlob{}, true, apierr.Unprocessable(fmt.Sprintf("Buildpack %q must be an existing admin buildpack or a valid git URI", name))
	}
	return buildpackBlob{name: b.Name, key: b.TarballKey, sha256: b.TarballSHA256}, true, nil
}
