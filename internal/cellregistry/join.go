package cellregistry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/memberlist"
)

// joinLoop joins the seeds until one answers, then rejoins whenever this
// member becomes isolated (see Registry.isolated), with capped exponential
// backoff and jitter between attempts. It logs the first join, each
// isolation and its end at Info, failed attempts at Warn, and successful
// attempts that leave the member isolated not at all.
func (r *Registry) joinLoop(ctx context.Context, ml *memberlist.Memberlist) {
	if len(r.cfg.Join) == 0 {
		r.markJoined()
		return
	}
	delay := r.cfg.JoinRetryInterval
	joined := false    // a join has succeeded
	rejoining := false // isolated after having been connected
	failures := 0
	for {
		if joined && !r.isolated() {
			if rejoining {
				r.logger.Info("cell registry reconnected", "members", ml.NumMembers())
				rejoining = false
			}
			delay, failures = r.cfg.JoinRetryInterval, 0
			select {
			case <-ctx.Done():
				return
			case <-r.peerLost:
			}
			if r.isolated() {
				rejoining = true
				r.logger.Warn("cell registry isolated: "+r.isolationReason()+"; rejoining seeds", "seeds", r.cfg.Join)
			}
			continue
		}
		contacted, err := r.join(ctx, ml)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			r.logger.Warn("join failed, retrying", "seeds", r.cfg.Join, "attempt", failures,
				"retry_in", delay.Round(time.Millisecond).String(), "err", err)
		} else if !joined {
			joined = true
			r.markJoined()
			r.logger.Info("joined cell registry cluster", "contacted", contacted, "members", ml.NumMembers())
		}
		if err == nil && !r.isolated() {
			continue
		}
		if !sleep(ctx, jitter(delay)) {
			return
		}
		delay = min(2*delay, MaxJoinRetryInterval)
	}
}

func (r *Registry) isolationReason() string {
	if r.isCell {
		return "no observer is alive"
	}
	return "no other member is alive"
}

// join contacts each seed in turn, so that a stop need not wait for every
// unreachable seed. It returns how many answered, and an error only if none
// did.
func (r *Registry) join(ctx context.Context, ml *memberlist.Memberlist) (int, error) {
	contacted := 0
	var errs []error
	for _, seed := range r.cfg.Join {
		if ctx.Err() != nil {
			break
		}
		n, err := ml.Join([]string{seed})
		contacted += n
		if err != nil {
			errs = append(errs, unwrapMulti(err))
		}
	}
	if contacted > 0 {
		return contacted, nil
	}
	if len(errs) == 0 {
		errs = append(errs, ctx.Err())
	}
	return 0, errors.Join(errs...)
}

// unwrapMulti flattens the go-multierror memberlist's Join returns, whose
// text spans lines ("1 error occurred:\n\t* …"). Its errors already name
// the seed.
func unwrapMulti(err error) error {
	var multi interface{ WrappedErrors() []error }
	if errors.As(err, &multi) {
		if errs := multi.WrappedErrors(); len(errs) > 0 {
			return errors.Join(errs...)
		}
	}
	return err
}

// jitter spreads d over [0.75d, 1.25d), so that many cells waiting for the
// same seed do not all join in the same instant.
func jitter(d time.Duration) time.Duration {
	return d*3/4 + rand.N(d/2+1)
}

// sleep waits for d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
