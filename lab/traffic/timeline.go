package traffic

import (
	"fmt"
	"time"
)

// Result is one request.
type Result struct {
	At      time.Time     // when it was sent
	Latency time.Duration // until the reply (or the failure)
	OK      bool
	Pod     string // from the echo reply: pod=NS/NAME
	Node    string // node=NAME
	Err     string
}

// Outage is the service interruption a stream saw.
type Outage struct {
	// Gap is the longest time between two consecutive good replies: a stream that never failed
	// has a gap of about its interval.
	Gap time.Duration
	// From and To are the last good reply before the gap and the first after it.
	From, To time.Time
	// Failed counts the failed requests in the whole stream.
	Failed int
}

// Worst returns the longest gap between good replies and the number of failed requests.
func Worst(rs []Result) Outage {
	var o Outage
	var last time.Time
	for _, r := range rs {
		if !r.OK {
			o.Failed++
			continue
		}
		done := r.At.Add(r.Latency)
		if !last.IsZero() && done.Sub(last) > o.Gap {
			o.Gap, o.From, o.To = done.Sub(last), last, done
		}
		last = done
	}
	return o
}

// Served counts the good replies per node.
func Served(rs []Result) map[string]int {
	out := map[string]int{}
	for _, r := range rs {
		if r.OK {
			out[r.Node]++
		}
	}
	return out
}

// GapAround is the outage a stream saw around time t (a fault): the longest time between two
// consecutive good replies (by completion) where the later one completes after t, counting from
// the last good reply before t, and only gaps that begin before until (the next fault, or now).
// The second value is false when the stream had no good reply after t.
func GapAround(rs []Result, t, until time.Time) (Outage, bool) {
	var o Outage
	var last time.Time
	seen := false
	for _, r := range rs {
		if !r.OK {
			if !r.At.Before(t) && r.At.Before(until) {
				o.Failed++
			}
			continue
		}
		done := r.At.Add(r.Latency)
		if !done.After(t) {
			last = done
			continue
		}
		if !last.IsZero() && last.Before(until) && done.Sub(last) > o.Gap {
			o.Gap, o.From, o.To = done.Sub(last), last, done
		}
		seen = true
		last = done
	}
	return o, seen
}

// Recovery states.
const (
	Recovering = iota // not yet decided
	Recovered
	NotRecovered
)

// Recovery decides whether a stream recovered from a fault at t within the bound: the first good
// reply after the last failure since t must come at most within after t, and the stream must then
// stay healthy for settle. It returns the state and, when recovered, the recovery time (t itself
// when nothing failed). now is the time of the decision (the stream's requests up to now).
func Recovery(rs []Result, t, now time.Time, within, settle time.Duration) (int, time.Time) {
	var lastFail time.Time
	for _, r := range rs {
		if !r.OK && !r.At.Before(t) {
			lastFail = r.At
		}
	}
	bound := t.Add(within)
	if lastFail.After(bound) {
		return NotRecovered, time.Time{}
	}
	if lastFail.IsZero() {
		good := false
		for _, r := range rs {
			good = good || (r.OK && !r.At.Before(t))
		}
		switch {
		case good && now.Sub(t) >= settle:
			return Recovered, t
		case !good && now.After(bound):
			return NotRecovered, time.Time{}
		}
		return Recovering, time.Time{}
	}
	var back time.Time
	for _, r := range rs {
		if r.OK && r.At.After(lastFail) {
			back = r.At.Add(r.Latency)
			break
		}
	}
	switch {
	case back.IsZero() && now.After(bound):
		return NotRecovered, time.Time{}
	case back.IsZero():
		return Recovering, time.Time{}
	case back.After(bound):
		return NotRecovered, time.Time{}
	case now.Sub(back) >= settle:
		return Recovered, back
	}
	return Recovering, time.Time{}
}

// Failure says why a stream did not recover from a fault at t within the bound, in words, with
// times given by at (the runner's clock since the scenario began). It reads the same requests as
// Recovery and names the case: no good reply since the fault, the first good reply after the
// bound, or a failure after the stream was back (the outage before it is not the reason then).
func Failure(rs []Result, t time.Time, within time.Duration, at func(time.Time) string) string {
	var (
		failed               int
		firstFail, lastFail  *Result
		firstBack, finalBack time.Time // first good reply after the first failure, and after the last
		firstGood            time.Time
		failedAfterBack      int
	)
	for i := range rs {
		r := &rs[i]
		if r.At.Before(t) {
			continue
		}
		if !r.OK {
			failed++
			if firstFail == nil {
				firstFail = r
			}
			if !firstBack.IsZero() {
				failedAfterBack++
			}
			lastFail, finalBack = r, time.Time{}
			continue
		}
		done := r.At.Add(r.Latency)
		if firstGood.IsZero() {
			firstGood = done
		}
		if firstFail != nil && firstBack.IsZero() {
			firstBack = done
		}
		if lastFail != nil && finalBack.IsZero() {
			finalBack = done
		}
	}
	bound := t.Add(within)
	errOf := func(r *Result) string {
		if r.Err == "" {
			return "failed"
		}
		return r.Err
	}
	switch {
	case firstGood.IsZero() && failed == 0:
		return fmt.Sprintf("no request completed since the fault at %s", at(t))
	case firstGood.IsZero():
		return fmt.Sprintf("no good reply since the fault at %s: %d failed requests, the last at %s (%s)",
			at(t), failed, at(lastFail.At), errOf(lastFail))
	case failed == 0:
		return fmt.Sprintf("no failure since the fault at %s; first good reply at %s", at(t), at(firstGood))
	case failedAfterBack > 0 && !firstBack.After(bound) && lastFail.At.After(bound):
		return fmt.Sprintf("back at %s (%s after the fault at %s, within %s), then %d more failed requests, the last at %s, after the bound (%s)",
			at(firstBack), firstBack.Sub(t).Round(time.Millisecond), at(t), within, failedAfterBack, at(lastFail.At), errOf(lastFail))
	case finalBack.IsZero():
		return fmt.Sprintf("no good reply after the last failure at %s (%s); %d failed since the fault at %s",
			at(lastFail.At), errOf(lastFail), failed, at(t))
	default:
		return fmt.Sprintf("good again at %s, %s after the fault at %s: beyond the bound %s (%d failed requests from %s, %s)",
			at(finalBack), finalBack.Sub(t).Round(time.Millisecond), at(t), within, failed, at(firstFail.At), errOf(firstFail))
	}
}
