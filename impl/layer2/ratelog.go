package layer2

import (
	"sync"
	"time"
)

// limiter lets through at most one log line per reason per interval, and counts those it held
// back, so that a flood of bad packets or a failing interface cannot flood the log.
type limiter struct {
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int
}

func newLimiter(every time.Duration, now func() time.Time) *limiter {
	return &limiter{every: every, now: now, last: map[string]time.Time{}, held: map[string]int{}}
}

// allow reports whether a line for reason may be logged now and, when it may, how many were held
// back since the last one.
func (l *limiter) allow(reason string) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if last, seen := l.last[reason]; seen && now.Sub(last) < l.every {
		l.held[reason]++
		return false, 0
	}
	l.last[reason] = now
	suppressed = l.held[reason]
	delete(l.held, reason)
	return true, suppressed
}
