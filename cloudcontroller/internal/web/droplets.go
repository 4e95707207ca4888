package web

import (
	"context"
	"errors"
	"net/http"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Droplets: /v3/droplets, /v3/apps/:guid/droplets,
// /v3/packages/:guid/droplets, and the app's current droplet
// (apps.go). A droplet is created STAGING with its build and becomes
// STAGED (with process types, buildpacks, checksum) or FAILED when the
// staging callback arrives. Process types and execution metadata are
// shown to those who read the app's secrets, and hidden in lists.

const (
	privateHidden        = "[PRIVATE DATA HIDDEN]"
	privateHiddenInLists = "[PRIVATE DATA HIDDEN IN LISTS]"
	eventDropletMapped   = "audit.app.droplet.mapped"
)

var dropletListSpec = query.Spec{
	Filters:       []string{"guids", "states", "app_guids", "space_guids", "organization_guids"},
	LabelSelector: true,
	Timestamps:    true,
}

var subDropletListSpec = query.Spec{
	Filters:       []string{"guids", "states"},
	LabelSelector: true,
	Timestamps:    true,
	Extra:         []string{"current"},
}

func (s *Server) registerDroplets() {
	s.authed("GET /v3/droplets", s.listDroplets)
	s.authed("GET /v3/droplets/{guid}", s.getDroplet)
	s.authed("PATCH /v3/droplets/{guid}", s.updateDroplet)
	s.authed("DELETE /v3/droplets/{guid}", s.deleteDroplet)
	s.authed("GET /v3/apps/{guid}/droplets", s.listAppDroplets)
	s.authed("GET /v3/packages/{guid}/droplets", s.listPackageDroplets)
}

type dropletJSON struct {
	GUID              string           `json:"guid"`
	State             string           `json:"state"`
	Error             *string          `json:"error"`
	Lifecycle         appLifecycle     `json:"lifecycle"`
	ExecutionMetadata string           `json:"execution_metadata"`
	ProcessTypes      any              `json:"process_types"`
	Checksum          *packageChecksum `json:"checksum"`
	Buildpacks        any              `json:"buildpacks"`
	Stack             *string          `json:"stack"`
	Image             *string          `json:"image"`
	CreatedAt         string           `json:"created_at"`
	UpdatedAt         string           `json:"updated_at"`
	Relationships     map[string]any   `json:"relationships"`
	Links             map[string]Link  `json:"links"`
	Metadata          Metadata         `json:"metadata"`
}

// dropletJSON renders d; hidden is "" to show process types and execution
// metadata, else the text that replaces them.
func (s *Server) dropletJSON(d store.Droplet, hidden string) dropletJSON {
	self := s.url("/v3/droplets/" + d.GUID)
	out := dropletJSON{
		GUID: d.GUID, State: d.State,
		Lifecycle:         appLifecycle{Type: d.LifecycleType, Data: map[string]any{}},
		ExecutionMetadata: d.ExecutionMetadata, ProcessTypes: d.ProcessTypes, Buildpacks: d.Buildpacks,
		CreatedAt: timestamp(d.CreatedAt), UpdatedAt: timestamp(d.UpdatedAt),
		Relationships: map[string]any{"app": toOne(d.AppGUID)},
		Links: map[string]Link{
			"self":                   {Href: self},
			"app":                    {Href: s.url("/v3/apps/" + d.AppGUID)},
			"assign_current_droplet": {Href: s.url("/v3/apps/" + d.AppGUID + "/relationships/current_droplet"), Method: http.MethodPatch},
		},
		Metadata: toMetadata(d.Metadata),
	}
	if hidden != "" {
		out.ExecutionMetadata, out.ProcessTypes = hidden, map[string]string{"redacted_message": hidden}
	}
	if d.Error != "" {
		out.Error = &d.Error
	}
	if d.Stack != "" {
		out.Stack = &d.Stack
	}
	if d.SHA256 != "" {
		out.Checksum = &packageChecksum{Type: "sha256", Value: &d.SHA256}
	}
	if d.PackageGUID != "" {
		out.Links["package"] = Link{Href: s.url("/v3/packages/" + d.PackageGUID)}
	}
	if d.State == store.StateStaged {
		out.Links["download"] = Link{Href: self + "/download"}
	}
	return out
}

func (s *Server) listDroplets(w http.ResponseWriter, r *http.Request, a *Actor) error {
	return s.writeDroplets(w, r, a, dropletListSpec, "/v3/droplets", func(*store.Filter) error { return nil })
}

func (s *Server) listAppDroplets(w http.ResponseWriter, r *http.Request, a *Actor) error {
	app, _, err := s.visibleApp(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	return s.writeDroplets(w, r, a, subDropletListSpec, "/v3/apps/"+app.GUID+"/droplets", func(f *store.Filter) error {
		f.Where("t.app_guid = ?::uuid", app.GUID)
		if r.URL.Query().Get("current") == "true" {
			f.Where("t.guid = ?::uuid", nullUUIDArg(app.DropletGUID))
		}
		return nil
	})
}

func (s *Server) listPackageDroplets(w http.ResponseWriter, r *http.Request, a *Actor) error {
	p, _, err := s.visiblePackage(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	return s.writeDroplets(w, r, a, subDropletListSpec, "/v3/packages/"+p.GUID+"/droplets", func(f *store.Filter) error {
		f.Where("t.package_guid = ?::uuid", p.GUID)
		return nil
	})
}

// nullUUIDArg is a uuid parameter that matches nothing when empty.
func nullUUIDArg(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) writeDroplets(w http.ResponseWriter, r *http.Request, a *Actor, spec query.Spec, path string, scope func(*store.Filter) error) error {
	l, err := query.Parse(r.URL.Query(), spec)
	if err != nil {
		return err
	}
	f, err := appChildFilter(l)
	if err != nil {
		return err
	}
	if err := scope(&f); err != nil {
		return err
	}
	if err := spaceVisibilityOf(r, a, &f, "pa.space_guid"); err != nil {
		return err
	}
	ds, total, err := s.store.ListDroplets(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]dropletJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, s.dropletJSON(d, privateHiddenInLists))
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url(path), total), Resources: out})
}

func (s *Server) visibleDroplet(r *http.Request, a *Actor, guid string) (store.Droplet, store.Space, error) {
	v, err := s.store.GetDroplet(r.Context(), guid)
	return inVisibleSpace(s, r, a, "Droplet", v, err, func(v store.Droplet) string { return v.SpaceGUID })
}

// renderDroplet writes one droplet, hiding secrets from those who may
// not read them.
func (s *Server) renderDroplet(w http.ResponseWriter, r *http.Request, a *Actor, d store.Droplet, sp store.Space) error {
	secrets, err := canReadSecrets(r.Context(), a, sp)
	if err != nil {
		return err
	}
	hidden := ""
	if !secrets {
		hidden = privateHidden
	}
	return writeJSON(w, http.StatusOK, s.dropletJSON(d, hidden))
}

func (s *Server) getDroplet(w http.ResponseWriter, r *http.Request, a *Actor) error {
	d, sp, err := s.visibleDroplet(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	return s.renderDroplet(w, r, a, d, sp)
}

func (s *Server) updateDroplet(w http.ResponseWriter, r *http.Request, a *Actor) error {
	d, sp, err := s.visibleDroplet(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	var body struct {
		Metadata *metadataPatch `json:"metadata"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if err := requireAppWrite(r.Context(), a, sp); err != nil {
		return err
	}
	if err := body.Metadata.apply(&d.Metadata); err != nil {
		return err
	}
	out, err := s.store.UpdateDropletMetadata(r.Context(), d.GUID, d.Metadata)
	if err != nil {
		return err
	}
	return s.renderDroplet(w, r, a, out, sp)
}

func (s *Server) deleteDroplet(w http.ResponseWriter, r *http.Request, a *Actor) error {
	d, sp, err := s.visibleDroplet(r, a, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if err := requireAppWrite(r.Context(), a, sp); err != nil {
		return err
	}
	app, err := s.store.GetApp(r.Context(), d.AppGUID)
	if err != nil {
		return err
	}
	e := appEvent("audit.app.droplet.delete", app, sp, nil)
	e.Data = map[string]any{"droplet_guid": d.GUID}
	s.audit(r, a, e)
	return s.runJob(w, r, "droplet.delete", a, func() error {
		ctx := context.WithoutCancel(r.Context())
		s.deleteBlobs(ctx, apiblob.BucketDroplets, d.GUID)
		if err := s.store.DeleteDroplet(ctx, d.GUID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
}

// deleteAppBlobs cancels an app's staging and deletes the blobs of its
// packages, droplets and build cache (the app.delete job).
func (s *Server) deleteAppBlobs(ctx context.Context, app string) error {
	s.cancelStaging(ctx, app)
	if s.blobs == nil {
		return nil
	}
	blobs, err := s.store.AppBlobs(ctx, app)
	if err != nil {
		return err
	}
	for _, p := range blobs.Packages {
		s.deleteBlobs(ctx, apiblob.BucketPackages, p, p+packageTarballSuffix)
	}
	s.deleteBlobs(ctx, apiblob.BucketDroplets, blobs.Droplets...)
	page, err := s.blobs.List(ctx, apiblob.BucketBuildpackCache, app+"/", "", apiblob.MaxListLimit)
	if err != nil {
		s.logger.Warn("list build caches", "app", app, "err", err)
		return nil
	}
	for _, o := range page.Objects {
		s.deleteBlobs(ctx, apiblob.BucketBuildpackCache, o.Key)
	}
	return nil
}
