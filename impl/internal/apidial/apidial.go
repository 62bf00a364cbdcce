// Package apidial makes IronLB's requests to the Kubernetes API server wait for it to come back
// instead of failing at once while it is away.
//
// Why: client-go's reflector (every informer, so every controller-runtime cache) waits a back-off
// between two attempts to list and watch, 0.8 s doubling to 30 s with jitter 1.0, and forgets it only
// after two minutes without a failure. Every refused connection during an API server restart is one
// more step, so after two restarts a minute apart a speaker may learn of a new Service 30-60 s after
// the API server is back (the 60-minute soak saw 40 s). With the patient transport a list or watch
// started while the API server is away waits and goes on the moment it listens again: one back-off
// step per outage, not one per attempt.
//
// Only requests whose connection could not be made are sent again (nothing of them reached the
// server, so any method is safe to repeat), in the caller's goroutine, until the request's own
// context ends: requests with a deadline (status writes, leader election) still fail at their
// deadline, and a request its caller gave up leaves nothing behind.
package apidial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
)

// Defaults of the zero Transport.
const (
	DefaultRetry    = 200 * time.Millisecond // the first pause between two attempts
	DefaultMaxRetry = time.Second            // pauses double up to this
	DefaultMax      = 150 * time.Second      // longer than client-go's two-minute back-off reset
)

// Transport sends a request again while its connection is refused or unreachable.
type Transport struct {
	Next http.RoundTripper
	// Retry is the first pause between attempts, doubling up to MaxRetry; Max bounds the whole
	// wait (a request that gives up then finds client-go's back-off forgotten).
	Retry, MaxRetry, Max time.Duration
	// Sleep waits between attempts; nil means a timer that ctx cancels. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Apply returns a copy of cfg whose requests wait for an API server that is away.
func Apply(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	prev := out.WrapTransport
	out.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		if prev != nil {
			rt = prev(rt)
		}
		return &Transport{Next: rt}
	}
	return out
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	retry, maxRetry, limit := or(t.Retry, DefaultRetry), or(t.MaxRetry, DefaultMaxRetry), or(t.Max, DefaultMax)
	sleep := t.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	ctx := req.Context()
	start := time.Now()
	tries := 0
	for {
		tries++
		resp, err := t.Next.RoundTrip(req)
		if err == nil || !NotConnected(err) || ctx.Err() != nil {
			return resp, err
		}
		if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
			return resp, err // cannot send the body again
		}
		wait := min(retry, limit-time.Since(start))
		if wait <= 0 {
			return nil, fmt.Errorf("%d attempts in %s: %w", tries, time.Since(start).Round(time.Millisecond), err)
		}
		if serr := sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("%d attempts, then %v: %w", tries, serr, err)
		}
		retry = min(2*retry, maxRetry)
		next := req.Clone(ctx)
		if req.GetBody != nil {
			body, berr := req.GetBody()
			if berr != nil {
				return nil, berr
			}
			next.Body = body
		}
		req = next
	}
}

// NotConnected reports whether a request failed before any of it was sent: its connection was
// refused, or the server's host or network was unreachable, or the dial timed out.
func NotConnected(err error) bool {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" {
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || oe.Timeout()
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
