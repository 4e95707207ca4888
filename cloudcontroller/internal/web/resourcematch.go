package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
)

// POST /v3/resource_matches: which of the files `cf push` is about to
// upload the blobstore's resource cache already holds. The answer is the
// matched subset of the request's entries, echoed unchanged (the cf CLI
// parses `mode` back as octal). Without a blobstore nothing matches.

func (s *Server) registerResourceMatches() {
	s.authed("POST /v3/resource_matches", s.resourceMatches)
	s.bodyLimits["POST /v3/resource_matches"] = max(s.opts.MaxBodyBytes, apiblob.MaxMatchBodyBytes)
}

type matchEntry struct {
	Checksum struct {
		Value string `json:"value"`
	} `json:"checksum"`
	SizeInBytes int64 `json:"size_in_bytes"`
}

func (s *Server) resourceMatches(w http.ResponseWriter, r *http.Request, a *Actor) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return uploadReadError(err)
	}
	var b struct {
		Resources []json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return apierr.MessageParseError(err.Error())
	}
	if len(b.Resources) > apiblob.MaxMatchResources {
		return apierr.Unprocessable(fmt.Sprintf("Resources array can have at most %d resources", apiblob.MaxMatchResources))
	}
	out := []json.RawMessage{}
	if s.blobs == nil || len(b.Resources) == 0 {
		return writeJSON(w, http.StatusCreated, map[string]any{"resources": out})
	}
	type key struct {
		sha1 string
		size int64
	}
	keys := make([]key, len(b.Resources))
	ask := make([]apiblob.Resource, 0, len(b.Resources))
	for i, raw := range b.Resources {
		var e matchEntry
		if json.Unmarshal(raw, &e) != nil || !sha1Hex.MatchString(e.Checksum.Value) || e.SizeInBytes <= 0 {
			continue // never matched: the CLI uploads it
		}
		keys[i] = key{e.Checksum.Value, e.SizeInBytes}
		ask = append(ask, apiblob.Resource{SHA1: e.Checksum.Value, Size: e.SizeInBytes})
	}
	hits, err := s.blobs.Match(r.Context(), ask)
	if err != nil {
		// Matching is an optimisation: without it the CLI uploads all.
		s.logger.Warn("resource match", "err", err)
		return writeJSON(w, http.StatusCreated, map[string]any{"resources": out})
	}
	held := make(map[key]bool, len(hits))
	for _, h := range hits {
		held[key{h.SHA1, h.Size}] = true
	}
	for i, raw := range b.Resources {
		if keys[i].sha1 != "" && held[keys[i]] {
			out = append(out, raw)
		}
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"resources": out})
}
