package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Queue settings.
const (
	jobWorkers     = 2
	jobLease       = 2 * time.Minute
	jobMaxAttempts = 3
	// jobAnswerWait is how long an enqueueing request waits for its job
	// before answering 202, so that quick jobs are COMPLETE at the CLI's
	// first poll.
	jobAnswerWait = 2 * time.Second
	jobPollIdle   = time.Second
)

// jobOp runs one queued operation. An *apierr.Error fails the job for good;
// any other error is retried (up to jobMaxAttempts).
type jobOp func(ctx context.Context, payload json.RawMessage) error

// jobQueue runs queued jobs: durable in Postgres, leased to a worker, run
// again when a worker dies before finishing.
type jobQueue struct {
	ops  map[string]jobOp
	wake chan struct{}

	mu      sync.Mutex
	waiters map[string]chan struct{} // job guid → closed when this process finished it
}

func newJobQueue() *jobQueue {
	return &jobQueue{ops: map[string]jobOp{}, wake: make(chan struct{}, 1), waiters: map[string]chan struct{}{}}
}

// registerOp names an operation workers can run.
func (s *Server) registerOp(name string, op jobOp) { s.jobs.ops[name] = op }

// registerJobOps registers the operations of the resources in this file's
// package.
func (s *Server) registerJobOps() {
	s.registerOp("organization.delete", func(ctx context.Context, p json.RawMessage) error {
		return s.deleteByGUID(ctx, p, func(ctx context.Context, guid string) error {
			if err := s.undesireWhere(ctx, "t.app_guid IN (SELECT da.guid FROM apps da JOIN spaces ds ON ds.guid = da.space_guid WHERE ds.organization_guid = ?::uuid)", guid); err != nil {
				return err
			}
			return s.store.DeleteOrg(ctx, guid)
		})
	})
	s.registerOp("space.delete", func(ctx context.Context, p json.RawMessage) error {
		return s.deleteByGUID(ctx, p, func(ctx context.Context, guid string) error {
			if err := s.undesireWhere(ctx, "t.app_guid IN (SELECT da.guid FROM apps da WHERE da.space_guid = ?::uuid)", guid); err != nil {
				return err
			}
			return s.store.DeleteSpace(ctx, guid)
		})
	})
	s.registerOp("route.delete", func(ctx context.Context, p json.RawMessage) error {
		return s.deleteByGUID(ctx, p, s.store.DeleteRoute)
	})
	s.registerOp("domain.delete", func(ctx context.Context, p json.RawMessage) error {
		return s.deleteByGUID(ctx, p, func(ctx context.Context, guid string) error {
			if err := s.store.DeleteDomain(ctx, guid); errors.Is(err, store.ErrReferenced) {
				// Routes appeared after the request checked: a CF error,
				// so the job fails for good.
				return apierr.Unprocessable(domainHasRoutes)
			} else if err != nil {
				return err
			}
			return nil
		})
	})
}

type guidPayload struct {
	GUID string `json:"guid"`
}

// deleteByGUID runs a delete whose payload is {"guid":…}; a row already
// gone counts as done (the job may be run twice).
func (s *Server) deleteByGUID(ctx context.Context, p json.RawMessage, del func(context.Context, string) error) error {
	var g guidPayload
	if err := json.Unmarshal(p, &g); err != nil {
		return apierr.ServerError()
	}
	if err := del(ctx, g.GUID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// enqueue queues operation with payload for the caller, waits briefly for
// it, and answers 202 with the job's absolute Location.
func (s *Server) enqueue(w http.ResponseWriter, r *http.Request, a *Actor, operation string, payload any) error {
	if _, ok := s.jobs.ops[operation]; !ok {
		return fmt.Errorf("enqueue: unknown operation %q", operation)
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	done := make(chan struct{})
	j, err := s.store.EnqueueJob(r.Context(), store.Job{Operation: operation, UserGUID: a.GUID}, data)
	if err != nil {
		return err
	}
	s.jobs.mu.Lock()
	s.jobs.waiters[j.GUID] = done
	s.jobs.mu.Unlock()
	defer func() {
		s.jobs.mu.Lock()
		delete(s.jobs.waiters, j.GUID)
		s.jobs.mu.Unlock()
	}()
	select {
	case s.jobs.wake <- struct{}{}:
	default:
	}
	t := time.NewTimer(jobAnswerWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-r.Context().Done():
	}
	w.Header().Set("Location", s.url("/v3/jobs/"+j.GUID))
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// RunJobs runs the queue's workers until ctx is cancelled. It first fails
// synchronous jobs an earlier process left unfinished.
func (s *Server) RunJobs(ctx context.Context) error {
	interrupted, _ := json.Marshal([]*apierr.Error{apierr.ServerError()})
	if n, err := s.store.FailInterruptedJobs(ctx, 10*time.Minute, interrupted); err != nil {
		s.logger.Warn("fail interrupted jobs", "err", err)
	} else if n > 0 {
		s.logger.Warn("failed jobs interrupted by a restart", "count", n)
	}
	var wg sync.WaitGroup
	for range jobWorkers {
		wg.Go(func() { s.jobWorker(ctx) })
	}
	wg.Wait()
	return nil
}

func (s *Server) jobWorker(ctx context.Context) {
	idle := time.NewTicker(jobPollIdle)
	defer idle.Stop()
	for {
		for s.runOneJob(ctx) {
			if ctx.Err() != nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.jobs.wake:
		case <-idle.C:
		}
	}
}

// runOneJob claims and runs one job; it reports whether there was one.
func (s *Server) runOneJob(ctx context.Context) bool {
	j, ok, err := s.store.ClaimJob(ctx, jobLease)
	if err != nil {
		if ctx.Err() == nil {
			s.logger.Warn("claim job", "err", err)
		}
		return false
	}
	if !ok {
		return false
	}
	logger := s.logger.With("job", j.GUID, "operation", j.Operation, "attempt", j.Attempts)
	op, known := s.jobs.ops[j.Operation]
	var runErr error
	if !known {
		runErr = apierr.ServerError()
		logger.Error("job has an unknown operation")
	} else {
		runErr = op(ctx, j.Payload)
	}
	state, errs := store.JobComplete, json.RawMessage("[]")
	if runErr != nil {
		e, permanent := apierr.As(runErr)
		if !permanent && j.Attempts < jobMaxAttempts && ctx.Err() == nil {
			// Leave it leased: another attempt comes when the lease
			// expires, on this instance or another.
			logger.Warn("job attempt failed; will retry", "err", runErr)
			return true
		}
		if !permanent {
			logger.Error("job failed", "err", runErr)
		}
		state = store.JobFailed
		errs, _ = json.Marshal([]*apierr.Error{e})
	}
	if ctx.Err() != nil && runErr != nil {
		return false // shutting down: the lease expires and the job runs again
	}
	if err := s.store.FinishJob(context.WithoutCancel(ctx), j.GUID, state, errs); err != nil {
		logger.Error("finish job", "err", err)
		return true
	}
	s.jobs.mu.Lock()
	if ch, ok := s.jobs.waiters[j.GUID]; ok {
		close(ch)
		delete(s.jobs.waiters, j.GUID)
	}
	s.jobs.mu.Unlock()
	return true
}
