package runner

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ironlb/ironlb/lab/traffic"
)

// servingWindow is how far back servedRecently looks for a stream's good replies.
const servingWindow = time.Second

// servedRecently names the nodes that served a stream's good replies in the window before now,
// most first (ties by name), with their counts.
func servedRecently(rs []traffic.Result, now time.Time, window time.Duration) ([]string, map[string]int) {
	by := map[string]int{}
	for i := len(rs) - 1; i >= 0; i-- {
		q := rs[i]
		if q.At.After(now) {
			continue
		}
		if q.At.Before(now.Add(-window)) {
			break
		}
		if q.OK && q.Node != "" {
			by[q.Node]++
		}
	}
	nodes := slices.Sorted(maps.Keys(by))
	slices.SortStableFunc(nodes, func(a, b string) int { return by[b] - by[a] })
	return nodes, by
}

// ownerMismatch compares the node answering ARP/NDP for an address with the nodes that served a
// stream's recent good replies (with externalTrafficPolicy Local the node a client reaches serves
// it from its own pod, so the two must be the same). It returns "" when they agree or when the
// stream has no recent good reply, else a line saying how they differ and that the ARP owner is
// the one faulted.
func ownerMismatch(target, arpOwner, streamName string, rs []traffic.Result, now time.Time) string {
	nodes, by := servedRecently(rs, now, servingWindow)
	if len(nodes) == 0 || (len(nodes) == 1 && nodes[0] == arpOwner) {
		return ""
	}
	var parts []string
	for _, n := range nodes {
		parts = append(parts, fmt.Sprintf("%s %d", n, by[n]))
	}
	return fmt.Sprintf("%s: %s answers ARP/NDP, but stream %s's good replies of the last %s came from %s; faulting the ARP owner %s",
		target, arpOwner, streamName, servingWindow, strings.Join(parts, ", "), arpOwner)
}

// repliesOf keeps the results that the Service's own pods answered (own, by NS/NAME; nil keeps
// them all). A reply from another pod came through a proxy behind the Service (an ingress
// controller forwarding to its backends) and names the backend's node, not the node the client
// reached, so it says nothing about the ARP owner.
func repliesOf(rs []traffic.Result, own map[string]bool) []traffic.Result {
	if own == nil {
		return rs
	}
	out := make([]traffic.Result, 0, len(rs))
	for _, q := range rs {
		if own[q.Pod] {
			out = append(out, q)
		}
	}
	return out
}
