package diego

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// errNotDesirable means the process should not run (stopped app, no
// droplet, no instances source): its LRPs are removed.
var errNotDesirable = errors.New("process is not desirable")

// load gathers what p's LRP is built from, reading p again so that a
// stale copy from a handler never wins.
func (s *Syncer) load(ctx context.Context, processGUID string) (lrpInput, error) {
	st := s.deps.Store
	p, err := st.GetProcess(ctx, processGUID)
	if errors.Is(err, store.ErrNotFound) {
		return lrpInput{}, errNotDesirable
	}
	if err != nil {
		return lrpInput{}, err
	}
	if p.AppState != store.AppStarted {
		return lrpInput{}, errNotDesirable
	}
	app, err := st.GetApp(ctx, p.AppGUID)
	if errors.Is(err, store.ErrNotFound) {
		return lrpInput{}, errNotDesirable
	}
	if err != nil {
		return lrpInput{}, err
	}
	if app.DropletGUID == "" {
		return lrpInput{}, errNotDesirable
	}
	if s.deps.Droplets == nil {
		// Never "not desirable": that would remove every LRP.
		return lrpInput{}, errors.New("no droplet source configured")
	}
	drop, err := s.deps.Droplets.DropletForProcess(ctx, p.GUID)
	if errors.Is(err, store.ErrNotFound) {
		return lrpInput{}, errNotDesirable
	}
	if err != nil {
		return lrpInput{}, fmt.Errorf("droplet of %s: %w", p.GUID, err)
	}
	sp, err := st.GetSpace(ctx, app.SpaceGUID)
	if err != nil {
		return lrpInput{}, err
	}
	org, err := st.GetOrg(ctx, sp.OrgGUID)
	if err != nil {
		return lrpInput{}, err
	}
	routes, err := s.processRoutes(ctx, p)
	if err != nil {
		return lrpInput{}, err
	}
	running, err := st.RunningEnv(ctx)
	if err != nil {
		return lrpInput{}, err
	}
	rollout, err := st.RolloutFor(ctx, p.GUID)
	if err != nil {
		return lrpInput{}, err
	}
	in := lrpInput{Process: p, App: app, Space: sp, Org: org, Droplet: drop, Routes: routes, ExternalURL: s.deps.ExternalURL,
		RunningEnv: running, Rollout: rollout}
	if s.deps.Signer == nil {
		return lrpInput{}, errors.New("no blobstore configured to sign droplet URLs")
	}
	u, err := s.deps.Signer.SignedURL(http.MethodGet, apiblob.BucketDroplets, drop.BlobKey, s.cfg.DropletURLTTL)
	if err != nil {
		return lrpInput{}, fmt.Errorf("sign droplet url: %w", err)
	}
	in.DropletURL = u
	return in, nil
}

// processRoutes returns the HTTP routes with a destination of p's app and
// type.
func (s *Syncer) processRoutes(ctx context.Context, p store.Process) ([]routeDest, error) {
	st := s.deps.Store
	guids, err := st.AppRouteGUIDs(ctx, p.AppGUID)
	if err != nil || len(guids) == 0 {
		return nil, err
	}
	dests, err := st.RouteDestinations(ctx, guids)
	if err != nil {
		return nil, err
	}
	f := store.Filter{}
	f.Where("t.guid = ANY(?::uuid[])", guids)
	routes, _, err := st.ListRoutes(ctx, f)
	if err != nil {
		return nil, err
	}
	var out []routeDest
	for _, rt := range routes {
		if rt.Port != nil { // TCP routes need a TCP router
			continue
		}
		url := rt.DomainName + rt.Path
		if rt.Host != "" {
			url = rt.Host + "." + url
		}
		for _, d := range dests[rt.GUID] {
			if d.AppGUID != p.AppGUID || d.ProcessType != p.Type {
				continue
			}
			out = append(out, routeDest{URL: url, Port: d.Port, Protocol: d.Protocol, Options: rt.Options})
		}
	}
	return out, nil
}
