package speaker

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/util/workqueue"
)

// statusWorker writes what the announcing decided (ConfigurationState, ServiceL2Status,
// ServiceBGPStatus, events) apart from it: the announcing only names what changed (a key), never
// waits for the API server, and never fails because of it. A key queued again before it is
// written is written once, with what is current then (latest wins); each write is bounded by a
// timeout, and a failed one is retried with back-off.
type statusWorker struct {
	q       workqueue.TypedRateLimitingInterface[string]
	sync    func(ctx context.Context, key string) error
	timeout time.Duration
	log     logr.Logger
}

// statusWorkers is how many keys are written at a time.
const statusWorkers = 2

func newStatusWorker(sync func(context.Context, string) error, timeout time.Duration, log logr.Logger) *statusWorker {
	return &statusWorker{
		q: workqueue.NewTypedRateLimitingQueue(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 30*time.Second)),
		sync: sync, timeout: timeout, log: log,
	}
}

func (w *statusWorker) add(key string) { w.q.Add(key) }

// Start writes until ctx ends (a manager.Runnable).
func (w *statusWorker) Start(ctx context.Context) error {
	for range statusWorkers {
		go func() {
			for w.next(ctx) {
			}
		}()
	}
	<-ctx.Done()
	w.q.ShutDown()
	return nil
}

// next writes one key; false once the queue is shut down.
func (w *statusWorker) next(ctx context.Context) bool {
	key, quit := w.q.Get()
	if quit {
		return false
	}
	defer w.q.Done(key)
	wctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	if err := w.sync(wctx, key); err != nil {
		w.log.V(1).Info("status write failed; retrying", "key", key, "error", err.Error(), "attempts", w.q.NumRequeues(key)+1)
		w.q.AddRateLimited(key)
		return true
	}
	w.q.Forget(key)
	return true
}

// drain writes every key queued now (tests and benchmarks; retries waiting for their back-off
// are left).
func (w *statusWorker) drain(ctx context.Context) {
	for w.q.Len() > 0 {
		w.next(ctx)
	}
}
