package layer2

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLimiter(10*time.Second, func() time.Time { return now })
	type step struct {
		after      time.Duration
		reason     string
		ok         bool
		suppressed int
	}
	for i, s := range []step{
		{0, "read error", true, 0},            // the first is logged
		{time.Second, "read error", false, 0}, // held back
		{time.Second, "read error", false, 0},
		{0, "reply not sent", true, 0},           // another reason has its own budget
		{8 * time.Second, "read error", true, 2}, // 10 s after the first: logged, with the count
		{time.Second, "read error", false, 0},
		{20 * time.Second, "read error", true, 1},
		{time.Minute, "read error", true, 0},
	} {
		now = now.Add(s.after)
		ok, n := l.allow(s.reason)
		if ok != s.ok || n != s.suppressed {
			t.Errorf("step %d (%s): allow = %v, %d; want %v, %d", i, s.reason, ok, n, s.ok, s.suppressed)
		}
	}
}
