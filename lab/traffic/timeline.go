package traffic

import "time"

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
