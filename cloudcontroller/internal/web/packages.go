package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"regexp"
	"strconv"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/zipcheck"
	"github.com/anvilpaas/anvil/internal/blobclient"
)

// Packages: /v3/packages and /v3/apps/:guid/packages. A bits package is
// created AWAITING_UPLOAD; its upload (multipart `resources` + `bits`) is
// streamed to a temporary file, checked with zipcheck, and assembled by
// the blobstore with the matched resources into packages/<guid>; the
// upload answers READY (the cf CLI then skips its 3 s poll). Who may do
// what: read like the app; create, upload, copy, delete: admins and space
// developers; download: those who read the app's secrets.

// PackageOptions bound package uploads.
type PackageOptions struct {
	// MaxBytes bounds the uploaded zip (default 1 GiB).
	MaxBytes int64
	// Limits are zipcheck's bounds on the uploaded zip.
	Limits zipcheck.Limits
	// TempDir holds uploads in progress ("" = the system's).
	TempDir string
}

func (o *PackageOptions) defaults() {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
}

// maxResourcesPart bounds the upload's `resources` JSON.
const maxResourcesPart = 32 << 20

const (
	packageUnusable     = "Unable to use package. Ensure that the package exists and you have access to it."
	packageAppInvalid   = "App is invalid. Ensure it exists and you have access to it."
	packageSourceBad    = "Source package is invalid. Ensure it exists and you have access to it."
	packageNotBits      = "Package type must be bits."
	packageNoBits       = "Package has no bits to download."
	packageDockerForBP  = "Cannot create Docker package for a buildpack app."
	packageBitsForDock  = "Cannot create bits package for a Docker app."
	packageUploadNeeds  = "Upload must include either resources or bits"
	packageBadResources = "Resources must be valid JSON."
)

// bitsAlreadyUploaded is CF's PackageBitsAlreadyUploaded (400, 150004).
func bitsAlreadyUploaded() error {
	return apierr.New(http.StatusBadRequest, 150004, "PackageBitsAlreadyUploaded",
		"Bits may be uploaded only once. Create a new package to upload different bits.")
}

var packageListSpec = query.Spec{
	Filters:       []string{"guids", "states", "types", "app_guids", "space_guids", "organization_guids"},
	LabelSelector: true,
	Timestamps:    true,
}

var appPackageListSpec = query.Spec{
	Filters:       []string{"guids", "states", "types"},
	LabelSelector: true,
	Timestamps:    true,
}

func (s *Server) registerPackages() {
	s.authed("GET /v3/packages", s.listPackages)
	s.authed("POST /v3/packages", s.createPackage)
	s.authed("GET /v3/packages/{guid}", s.getPackage)
	s.authed("PATCH /v3/packages/{guid}", s.updatePackage)
	s.authed("DELETE /v3/packages/{guid}", s.deletePackage)
	s.authed("POST /v3/packages/{guid}/upload", s.uploadPackage)
	s.authed("GET /v3/packages/{guid}/download", s.downloadPackage)
	s.authed("GET /v3/apps/{guid}/packages", s.listAppPackages)
	s.bodyLimits["POST /v3/packages/{guid}/upload"] = s.opts.Packages.MaxBytes + maxResourcesPart + 1<<20
}

type packageChecksum struct {
	Type  string  `json:"type"`
	Value *string `json:"value"`
}

type packageJSON struct {
	GUID          string          `json:"guid"`
	Type          string          `json:"type"`
	Data          map[string]any  `json:"data"`
	State         string          `json:"state"`
	CreatedAt     string          `json:"created_at"`
	UpdatedAt     string          `json:"updated_at"`
	Relationships map[string]any  `json:"relationships"`
	Links         map[string]Link `json:"links"`
	Metadata      Metadata        `json:"metadata"`
}

func (s *Server) packageJSON(p store.Package) packageJSON {
	self := s.url("/v3/packages/" + p.GUID)
	links := map[string]Link{
		"self": {Href: self},
		"app":  {Href: s.url("/v3/apps/" + p.AppGUID)},
	}
	data := map[string]any{}
	if p.Type == store.PackageDocker {
		data["image"], data["username"], data["password"] = p.DockerImage, nil, nil
	} else {
		sum := packageChecksum{Type: "sha256"}
		if p.SHA256 != "" {
			sum.Value = &p.SHA256
		}
		var perr *string
		if p.Error != "" {
			perr = &p.Error
		}
		data["checksum"], data["error"] = sum, perr
		links["upload"] = Link{Href: self + "/upload", Method: http.MethodPost}
		links["download"] = Link{Href: self + "/download", Method: http.MethodGet}
	}
	return packageJSON{
		GUID: p.GUID, Type: p.Type, Data: data, State: p.State,
		CreatedAt: timestamp(p.CreatedAt), UpdatedAt: timestamp(p.UpdatedAt),
		Relationships: map[string]any{"app": toOne(p.AppGUID)},
		Links:         links,
		Metadata:      toMetadata(p.Metadata),
	}
}

// spaceVisibilityOf restricts a filter to the rows whose space (column
// col) the caller reads.
func spaceVisibilityOf(r *http.Request, a *Actor, f *store.Filter, col string) error {
	if a.GlobalReader() {
		return nil
	}
	spaces, orgs, err := a.SpaceVisibility(r.Context())
	if err != nil {
		return err
	}
	f.Where("("+col+" = ANY(?::uuid[]) OR "+col+" IN (SELECT vs.guid FROM spaces vs WHERE vs.organization_guid = ANY(?::uuid[])))", spaces, orgs)
	return nil
}

// appChildFilter is the filter of packages, builds and droplets: guids,
// states, app/space/organization guids, label selector and timestamps.
func appChildFilter(l query.List) (store.Filter, error) {
	f := store.Filter{OrderBy: l.OrderBy, Desc: l.Desc, Limit: l.PerPage, Offset: l.Offset()}
	if v, ok := l.Filters["guids"]; ok {
		f.Where("t.guid = ANY(?::uuid[])", v)
	}
	if v, ok := l.Filters["states"]; ok {
		f.In("t.state", v)
	}
	if v, ok := l.Filters["types"]; ok {
		f.In("t.type", v)
	}
	if v, ok := l.Filters["app_guids"]; ok {
		f.Where("t.app_guid = ANY(?::uuid[])", v)
	}
	if v, ok := l.Filters["space_guids"]; ok {
		f.Where("pa.space_guid = ANY(?::uuid[])", v)
	}
	if v, ok := l.Filters["organization_guids"]; ok {
		f.Where("pa.space_guid IN (SELECT os.guid FROM spaces os WHERE os.organization_guid = ANY(?::uuid[]))", v)
	}
	return f, applyCommon(&f, l)
}

func (s *Server) listPackages(w http.ResponseWriter, r *http.Request, a *Actor) error {
	return s.writePackages(w, r, a, packageListSpec, "/v3/packages", "")
}

func (s *Server) listAppPackages(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, _, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	return s.writePackages(w, r, a, appPackageListSpec, "/v3/apps/"+app.GUID+"/packages", app.GUID)
}

func (s *Server) writePackages(w http.ResponseWriter, r *http.Request, a *Actor, spec query.Spec, path, app string) error {
	l, err := query.Parse(r.URL.Query(), spec)
	if err != nil {
		return err
	}
	f, err := appChildFilter(l)
	if err != nil {
		return err
	}
	if app != "" {
		f.Where("t.app_guid = ?::uuid", app)
	}
	if err := spaceVisibilityOf(r, a, &f, "pa.space_guid"); err != nil {
		return err
	}
	pkgs, total, err := s.store.ListPackages(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]packageJSON, 0, len(pkgs))
	for _, p := range pkgs {
		out = append(out, s.packageJSON(p))
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url(path), total), Resources: out})
}

// visiblePackage returns the package and its space if the caller reads
// it, else 404 Package not found.
func (s *Server) visiblePackage(r *http.Request, a *Actor, guid string) (store.Package, store.Space, error) {
	v, err := s.store.GetPackage(r.Context(), guid)
	return inVisibleSpace(s, r, a, "Package", v, err, func(v store.Package) string { return v.SpaceGUID })
}

func (s *Server) getPackage(w http.ResponseWriter, r *http.Request, a *Actor) error {
	p, _, err := s.visiblePackage(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.packageJSON(p))
}

type packageBody struct {
	Type string `json:"type"`
	Data *struct {
		Image    string  `json:"image"`
		Username *string `json:"username"`
		Password *string `json:"password"`
	} `json:"data"`
	Relationships struct {
		App ToOne `json:"app"`
	} `json:"relationships"`
	Metadata *metadataPatch `json:"metadata"`
}

// createPackage is POST /v3/packages, or a copy with ?source_guid=.
func (s *Server) createPackage(w http.ResponseWriter, r *http.Request, a *Actor) error {
	var b packageBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if src := r.URL.Query().Get("source_guid"); src != "" {
		return s.copyPackage(w, r, a, src, b)
	}
	switch b.Type {
	case store.PackageBits, store.PackageDocker:
	default:
		return apierr.Unprocessable(`Type must be one of 'bits', 'docker'`)
	}
	if b.Relationships.App.Data == nil {
		return apierr.Unprocessable("Relationships Relationships must include one or more of: app")
	}
	ctx := r.Context()
	app, sp, err := s.visibleApp(r, a, b.Relationships.App.Data.GUID)
	if err != nil {
		return apierr.Unprocessable(packageAppInvalid)
	}
	if err := requireAppWrite(ctx, a, sp); err != nil {
		return err
	}
	p := store.Package{AppGUID: app.GUID, Type: b.Type}
	if b.Type == store.PackageDocker {
		if err := s.requireFlag(ctx, a, store.FlagDiegoDocker); err != nil {
			return err
		}
		if app.LifecycleType != store.LifecycleDocker {
			return apierr.Unprocessable(packageDockerForBP)
		}
		if b.Data == nil || b.Data.Image == "" {
			return apierr.Unprocessable("Data Image required")
		}
		p.DockerImage, p.State = b.Data.Image, store.PackageReady
	} else if app.LifecycleType == store.LifecycleDocker {
		return apierr.Unprocessable(packageBitsForDock)
	}
	if err := b.Metadata.apply(&p.Metadata); err != nil {
		return err
	}
	out, err := s.store.CreatePackage(ctx, p)
	if err != nil {
		return err
	}
	s.audit(r, a, packageEvent("audit.app.package.create", out, app, sp, map[string]any{"type": b.Type}))
	return writeJSON(w, http.StatusCreated, s.packageJSON(out))
}

// copyPackage copies a READY bits package to another app (CF's COPYING is
// skipped: the blobstore copies server-side before the answer).
func (s *Server) copyPackage(w http.ResponseWriter, r *http.Request, a *Actor, srcGUID string, b packageBody) error {
	ctx := r.Context()
	if b.Relationships.App.Data == nil {
		return apierr.Unprocessable("Relationships Relationships must include one or more of: app")
	}
	app, sp, err := s.visibleApp(r, a, b.Relationships.App.Data.GUID)
	if err != nil {
		return apierr.Unprocessable(packageAppInvalid)
	}
	if err := requireAppWrite(ctx, a, sp); err != nil {
		return err
	}
	src, _, err := s.visiblePackage(r, a, srcGUID)
	if err != nil {
		return apierr.Unprocessable(packageSourceBad)
	}
	p := store.Package{AppGUID: app.GUID, Type: src.Type, DockerImage: src.DockerImage, State: store.PackageReady,
		SHA256: src.SHA256, SHA1: src.SHA1, Size: src.Size}
	if src.Type == store.PackageBits {
		if src.State != store.PackageReady {
			return apierr.Unprocessable(packageNoBits)
		}
		if s.blobs == nil {
			return blobstoreUnavailable()
		}
		p.State = store.PackageProcessingUpload
	}
	out, err := s.store.CreatePackage(ctx, p)
	if err != nil {
		return err
	}
	if src.Type == store.PackageBits {
		_, cerr := s.blobs.Copy(ctx, apiblob.ObjectRef{Bucket: apiblob.BucketPackages, Key: src.GUID},
			apiblob.ObjectRef{Bucket: apiblob.BucketPackages, Key: out.GUID})
		u := store.PackageUpdate{State: store.PackageReady}
		if cerr != nil {
			s.logger.Warn("copy package blob", "source", src.GUID, "package", out.GUID, "err", cerr)
			u = store.PackageUpdate{State: store.PackageFailed, Error: "failed to copy the package's bits"}
		}
		if out, err = s.store.UpdatePackageState(ctx, out.GUID, u); err != nil {
			return err
		}
	}
	s.audit(r, a, packageEvent("audit.app.package.create", out, app, sp, map[string]any{"source_guid": src.GUID}))
	return writeJSON(w, http.StatusCreated, s.packageJSON(out))
}

func packageEvent(typ string, p store.Package, app store.App, sp store.Space, request map[string]any) store.Event {
	e := appEvent(typ, app, sp, nil)
	e.Data = map[string]any{"package_guid": p.GUID}
	if request != nil {
		e.Data["request"] = request
	}
	return e
}

func (s *Server) updatePackage(w http.ResponseWriter, r *http.Request, a *Actor) error {
	p, sp, err := s.visiblePackage(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	var b struct {
		Metadata *metadataPatch `json:"metadata"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	if err := requireAppWrite(r.Context(), a, sp); err != nil {
		return err
	}
	if err := b.Metadata.apply(&p.Metadata); err != nil {
		return err
	}
	out, err := s.store.UpdatePackageMetadata(r.Context(), p.GUID, p.Metadata)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.packageJSON(out))
}

func (s *Server) deletePackage(w http.ResponseWriter, r *http.Request, a *Actor) error {
	p, sp, err := s.visiblePackage(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if err := requireAppWrite(r.Context(), a, sp); err != nil {
		return err
	}
	app, err := s.store.GetApp(r.Context(), p.AppGUID)
	if err != nil {
		return err
	}
	s.audit(r, a, packageEvent("audit.app.package.delete", p, app, sp, nil))
	return s.runJob(w, r, "package.delete", a, func() error {
		ctx := context.WithoutCancel(r.Context())
		s.deleteBlobs(ctx, apiblob.BucketPackages, p.GUID, p.GUID+packageTarballSuffix)
		if err := s.store.DeletePackage(ctx, p.GUID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
}

// deleteBlobs deletes blobs, ignoring missing ones and logging failures
// (an orphaned blob costs space, not correctness).
func (s *Server) deleteBlobs(ctx context.Context, bucket string, keys ...string) {
	if s.blobs == nil {
		return
	}
	for _, k := range keys {
		if err := s.blobs.Delete(ctx, bucket, k); err != nil && !errors.Is(err, blobclient.ErrNotFound) {
			s.logger.Warn("delete blob", "bucket", bucket, "key", k, "err", err)
		}
	}
}

func blobstoreUnavailable() error {
	return apierr.ServiceUnavailable("The blobstore is not configured.")
}

func (s *Server) downloadPackage(w http.ResponseWriter, r *http.Request, a *Actor) error {
	p, sp, err := s.visiblePackage(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if err := requireSecrets(r.Context(), a, sp); err != nil {
		return err
	}
	if p.Type != store.PackageBits {
		return apierr.Unprocessable(packageNotBits)
	}
	if p.State != store.PackageReady {
		return apierr.Unprocessable(packageNoBits)
	}
	if s.blobs == nil {
		return blobstoreUnavailable()
	}
	obj, err := s.blobs.Get(r.Context(), apiblob.BucketPackages, p.GUID, "")
	if err != nil {
		return fmt.Errorf("download package %s: %w", p.GUID, err)
	}
	defer obj.Body.Close()
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": p.GUID + ".zip"}))
	if obj.Info.Size > 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(obj.Info.Size, 10))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, obj.Body)
	return nil
}

// uploadResource is one matched file in an upload's `resources` part: the
// v3 shape the cf CLI sends, or the legacy v2 one (fn, sha1, size).
type uploadResource struct {
	Path     string `json:"path"`
	Mode     string `json:"mode"`
	Checksum struct {
		Value string `json:"value"`
	} `json:"checksum"`
	SizeInBytes *int64 `json:"size_in_bytes"`
	FN          string `json:"fn"`
	SHA1        string `json:"sha1"`
	Size        *int64 `json:"size"`
}

var (
	sha1Hex   = regexp.MustCompile(`^[0-9a-f]{40}$`)
	octalMode = regexp.MustCompile(`^[0-7]{1,4}$`)
)

// blobResource converts and validates a matched resource.
func (u uploadResource) blobResource() (apiblob.Resource, error) {
	res := apiblob.Resource{Path: u.Path, Mode: u.Mode, SHA1: u.Checksum.Value}
	if res.Path == "" {
		res.Path = u.FN
	}
	if res.SHA1 == "" {
		res.SHA1 = u.SHA1
	}
	switch {
	case u.SizeInBytes != nil:
		res.Size = *u.SizeInBytes
	case u.Size != nil:
		res.Size = *u.Size
	}
	if res.Mode == "" {
		res.Mode = "644"
	}
	if !sha1Hex.MatchString(res.SHA1) || res.Size < 0 || !octalMode.MatchString(res.Mode) {
		return res, apierr.Unprocessable(packageBadResources)
	}
	p, err := zipcheck.CleanPath(res.Path)
	if err != nil {
		var ze *zipcheck.Error
		errors.As(err, &ze)
		return res, apierr.Unprocessable(ze.Reason)
	}
	res.Path = p
	return res, nil
}

// uploadPackage is POST /v3/packages/:guid/upload.
func (s *Server) uploadPackage(w http.ResponseWriter, r *http.Request, a *Actor) error {
	p, sp, err := s.visiblePackage(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := requireAppWrite(ctx, a, sp); err != nil {
		return err
	}
	if err := s.requireFlag(ctx, a, store.FlagAppBitsUpload); err != nil {
		return err
	}
	if p.Type != store.PackageBits {
		return apierr.Unprocessable(packageNotBits)
	}
	if p.State != store.PackageAwaitingUpload {
		return bitsAlreadyUploaded()
	}
	if s.blobs == nil {
		return blobstoreUnavailable()
	}
	up, err := s.readUpload(r)
	if up.bits != nil {
		defer func() {
			up.bits.Close()
			os.Remove(up.bits.Name())
		}()
	}
	if err != nil {
		return err
	}
	if p, err = s.store.UpdatePackageState(ctx, p.GUID, store.PackageUpdate{State: store.PackageProcessingUpload, From: []string{store.PackageAwaitingUpload}}); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return bitsAlreadyUploaded()
		}
		return err
	}
	var bits io.Reader
	if up.bits != nil {
		if _, err := up.bits.Seek(0, io.SeekStart); err != nil {
			return err
		}
		bits = up.bits
	}
	info, aerr := s.blobs.Assemble(context.WithoutCancel(ctx), p.GUID, up.resources, bits)
	if aerr != nil {
		reason := "failed to store the package's bits"
		var out error = fmt.Errorf("assemble package %s: %w", p.GUID, aerr)
		var be *blobclient.Error
		switch {
		case errors.Is(aerr, blobclient.ErrResourceNotCached):
			reason = "a matched resource is no longer in the resource cache; push again"
			out = apierr.Unprocessable("The package's resources could not be found in the resource cache: push again.")
		case errors.As(aerr, &be) && be.Status < 500:
			reason = "the blobstore refused the package: " + be.Description
			out = apierr.Unprocessable("The uploaded package is invalid: " + be.Description)
		}
		if _, err := s.store.UpdatePackageState(context.WithoutCancel(ctx), p.GUID, store.PackageUpdate{State: store.PackageFailed, Error: reason}); err != nil {
			s.logger.Warn("mark package failed", "package", p.GUID, "err", err)
		}
		return out
	}
	p, err = s.store.UpdatePackageState(ctx, p.GUID, store.PackageUpdate{State: store.PackageReady, SHA256: info.SHA256, SHA1: info.SHA1, Size: info.Size})
	if err != nil {
		return err
	}
	if app, err := s.store.GetApp(ctx, p.AppGUID); err == nil {
		s.audit(r, a, packageEvent("audit.app.upload-bits", p, app, sp, nil))
	}
	return writeJSON(w, http.StatusOK, s.packageJSON(p))
}

type upload struct {
	resources []apiblob.Resource
	bits      *os.File
}

// readUpload reads the multipart upload: `resources` (JSON) and `bits`
// (the zip, to a temporary file the caller removes), and checks both.
func (s *Server) readUpload(r *http.Request) (upload, error) {
	var up upload
	mr, err := r.MultipartReader()
	if err != nil {
		return up, apierr.Unprocessable(packageUploadNeeds)
	}
	sawResources := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return up, uploadReadError(err)
		}
		switch part.FormName() {
		case "resources":
			data, err := io.ReadAll(io.LimitReader(part, maxResourcesPart+1))
			if err != nil {
				return up, uploadReadError(err)
			}
			if len(data) > maxResourcesPart {
				return up, apierr.RequestTooLarge()
			}
			var raw []uploadResource
			if err := json.Unmarshal(data, &raw); err != nil {
				return up, apierr.Unprocessable(packageBadResources)
			}
			up.resources = make([]apiblob.Resource, 0, len(raw))
			for _, u := range raw {
				res, err := u.blobResource()
				if err != nil {
					return up, err
				}
				up.resources = append(up.resources, res)
			}
			sawResources = true
		case "bits":
			if up.bits != nil {
				return up, apierr.Unprocessable("Upload must include at most one bits part")
			}
			if up.bits, err = os.CreateTemp(s.opts.Packages.TempDir, "package-*.zip"); err != nil {
				return up, err
			}
			n, err := io.Copy(up.bits, io.LimitReader(part, s.opts.Packages.MaxBytes+1))
			if err != nil {
				return up, uploadReadError(err)
			}
			if n > s.opts.Packages.MaxBytes {
				return up, apierr.Unprocessable(fmt.Sprintf("The package is larger than %d bytes.", s.opts.Packages.MaxBytes))
			}
			if _, err := zipcheck.Check(up.bits, n, s.opts.Packages.Limits); err != nil {
				var ze *zipcheck.Error
				if errors.As(err, &ze) {
					return up, apierr.Unprocessable(ze.Reason)
				}
				return up, err
			}
		}
		part.Close()
	}
	if !sawResources && up.bits == nil {
		return up, apierr.Unprocessable(packageUploadNeeds)
	}
	return up, nil
}

func uploadReadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apierr.RequestTooLarge()
	}
	return apierr.MessageParseError("could not read the upload: " + err.Error())
}
