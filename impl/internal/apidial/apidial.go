// Package apidial makes IronLB's connections to the Kubernetes API server wait for it to come back
// instead of failing at once while it is away.
//
// Why: client-go's reflector (every informer, so every controller-runtime cache) waits a back-off
// between two attempts to list and watch, 0.8 s doubling to 30 s with jitter 1.0, and forgets it only
// after two minutes without a failure. Every refused connection during an API server restart is one
// more step, so after two restarts a minute apart a speaker may learn of a new Service 30-60 s after
// the API server is back (the 60-minute soak saw 40 s). With a patient dial a list or watch started
// while the API server is away blocks in the dial and succeeds the moment it listens again: one
// back-off step per outage, not one per attempt. Requests with a deadline (status writes, leader
// election) still fail at their deadline, so nothing that must give up waits longer than it did.
package apidial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
)

// Dialer retries refused and unreachable connections until its context ends or Max has passed.
type Dialer struct {
	// Dial makes one attempt; nil means a net.Dialer with Attempt as its timeout and TCP keepalive.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Attempt bounds one attempt (default 5 s); Retry is the pause between attempts (default
	// 200 ms); Max bounds the whole dial (default 150 s: longer than client-go's two-minute back-off
	// reset, so a dial that gives up finds the back-off forgotten).
	Attempt, Retry, Max time.Duration
	// Sleep waits between attempts; nil means a timer that ctx cancels. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Defaults for the zero Dialer.
const (
	DefaultAttempt = 5 * time.Second
	DefaultRetry   = 200 * time.Millisecond
	DefaultMax     = 150 * time.Second
)

// Apply returns a copy of cfg whose connections dial patiently. A cfg that already has its own Dial
// keeps it for each attempt.
func Apply(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	d := &Dialer{Dial: cfg.Dial}
	out.Dial = d.DialContext
	return out
}

// DialContext dials address, retrying while the error says nothing listens there yet.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	attempt, retry, limit := or(d.Attempt, DefaultAttempt), or(d.Retry, DefaultRetry), or(d.Max, DefaultMax)
	dial := d.Dial
	if dial == nil {
		nd := &net.Dialer{Timeout: attempt, KeepAlive: 30 * time.Second}
		dial = nd.DialContext
	}
	sleep := d.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tries := 0
	for {
		tries++
		one, end := context.WithTimeout(ctx, attempt)
		c, err := dial(one, network, address)
		end()
		if err == nil {
			return c, nil
		}
		if !Retriable(err) || ctx.Err() != nil {
			if tries > 1 {
				return nil, fmt.Errorf("dial %s: %d attempts: %w", address, tries, err)
			}
			return nil, err
		}
		if serr := sleep(ctx, retry); serr != nil {
			return nil, fmt.Errorf("dial %s: %d attempts, gave up (%v): %w", address, tries, serr, err)
		}
	}
}

// Retriable reports whether a failed dial says the server is not there yet (refused, unreachable,
// timed out) rather than that the request is wrong (say, a name that does not resolve).
func Retriable(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ECONNRESET):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return true // one attempt timed out; the caller's own deadline is checked apart
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
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
