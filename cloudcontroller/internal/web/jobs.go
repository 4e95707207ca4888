package web

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

type jobJSON struct {
	GUID      string          `json:"guid"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
	Operation string          `json:"operation"`
	State     string          `json:"state"`
	Errors    json.RawMessage `json:"errors"`
	Warnings  json.RawMessage `json:"warnings"`
	Links     map[string]Link `json:"links"`
}

func (s *Server) registerJobs() {
	s.authed("GET /v3/jobs/{guid}", s.getJob)
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request, a *Actor) error {
	j, err := s.store.GetJob(r.Context(), r.PathValue("guid"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && j.UserGUID != a.GUID && !a.GlobalReader()) {
		return apierr.NotFound("Job")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, jobJSON{
		GUID: j.GUID, CreatedAt: timestamp(j.CreatedAt), UpdatedAt: timestamp(j.UpdatedAt), Operation: j.Operation,
		State: j.State, Errors: j.Errors, Warnings: j.Warnings,
		Links: map[string]Link{"self": {Href: s.url("/v3/jobs/" + j.GUID)}},
	})
}

// runJob records an asynchronous operation, runs it now and answers 202
// with the job's absolute Location. Running it before answering means the
// cf CLI's first poll already sees COMPLETE (or FAILED with the error).
// Long-running operations get a queued worker instead (Cloud Controller
// II).
func (s *Server) runJob(w http.ResponseWriter, r *http.Request, operation string, a *Actor, run func() error) error {
	j, err := s.store.CreateJob(r.Context(), store.Job{Operation: operation, State: store.JobProcessing, UserGUID: a.GUID})
	if err != nil {
		return err
	}
	state, errs := store.JobComplete, json.RawMessage("[]")
	if runErr := run(); runErr != nil {
		e, ok := apierr.As(runErr)
		if !ok {
			s.logger.Error("job failed", "job", j.GUID, "operation", operation, "err", runErr)
		}
		state = store.JobFailed
		errs, _ = json.Marshal([]*apierr.Error{e})
	}
	if err := s.store.FinishJob(r.Context(), j.GUID, state, errs); err != nil {
		return err
	}
	w.Header().Set("Location", s.url("/v3/jobs/"+j.GUID))
	w.WriteHeader(http.StatusAccepted)
	return nil
}
