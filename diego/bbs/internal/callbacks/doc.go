// Package callbacks delivers task completion callbacks: when a task with a
// completion_callback_url completes, the BBS POSTs the outcome there and
// then deletes the task. It is Diego's taskworkpool, written again.
//
// # Delivery
//
// Submit queues a completed task without blocking. One of Config.Workers
// workers then:
//
//  1. marks it RESOLVING (Store.ResolvingTask). If that fails with
//     INVALID_STATE_TRANSITION or RESOURCE_NOT_FOUND, someone else is
//     resolving it, or it is gone: the task is skipped.
//  2. POSTs it as JSON (Content-Type application/json) to the URL.
//  3. deletes it (Store.DeleteTask) once the receiver answers with any
//     status below 500: a 2xx is success, and a 4xx would be the same on
//     every retry. A transport error or a 5xx is retried, Config.Retries
//     more times with doubling backoff from Config.RetryBackoff.
//
// The body has the shape of Diego's TaskCallbackResponse; annotation is left
// out when empty, and created_at is in Unix nanoseconds:
//
//	{"task_guid":"…","failed":true,"failure_reason":"…","result":"…",
//	 "annotation":"…","created_at":1700000000000000000}
//
// Diego retries only 503 and 504 (and timeouts) and deletes on any other
// status, 500 included; here every 5xx and every transport error is
// retried, because a receiver that fails is not a receiver that got it.
//
// When every attempt fails, or Run stops mid-delivery, the task is left
// RESOLVING. Task convergence puts it back to COMPLETED after its kick
// interval and submits it again, until it expires (two minutes after it
// completed, by default). Delivery is attempted until the task expires,
// and a receiver may get a task more than once (its delete failed, or a
// slow delivery was handed back by convergence): receivers must accept
// duplicates.
//
// Metrics: bbs_task_callbacks_total{outcome} (delivered, failed, skipped,
// store_error), bbs_task_callback_requests_total{code} (2xx … 5xx, error),
// bbs_task_callbacks_dropped_total and bbs_task_callback_queue_length.
//
// Only tasks with a callback URL are delivered: the task store puts only
// those in models.Result.Callbacks, and Submit drops any other (counted as
// skipped), leaving it to the client that resolves it.
//
// # Queue and concurrency
//
// The queue holds Config.QueueSize tasks. When it is full, Submit drops the
// task and counts it (bbs_task_callbacks_dropped_total); convergence
// submits it again. A task already queued or being delivered is not queued
// twice. Workers share nothing but the queue and the set of queued guids
// (one mutex). Submit may be called before Run starts (tasks wait in the
// queue) and after it returns (they wait, or are dropped when the queue is
// full).
//
// Store results: ResolvingTask and DeleteTask return a models.Result (their
// events); each one committed is passed to Deps.Apply, which publishes it.
//
// # Usage
//
//	pool, err := callbacks.New(callbacks.Config{}, callbacks.Deps{
//		Logger: logger, Store: taskStore, Apply: effects.Apply, Registerer: reg,
//	})
//	g.Go(func() error { return pool.Run(ctx) })
//	// wherever a Result is acted on:
//	for _, t := range r.Callbacks {
//		pool.Submit(t)
//	}
package callbacks
