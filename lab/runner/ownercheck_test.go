package runner

import (
	"testing"
	"time"

	"github.com/ironlb/ironlb/lab/traffic"
)

func TestOwnerMismatch(t *testing.T) {
	now := time.Unix(1000, 0)
	at := func(ms int) time.Time { return now.Add(time.Duration(ms) * time.Millisecond) }
	ok := func(ms int, node string) traffic.Result { return traffic.Result{At: at(ms), OK: true, Node: node} }
	bad := func(ms int) traffic.Result { return traffic.Result{At: at(ms), Err: "timeout"} }
	for _, c := range []struct {
		name  string
		owner string
		rs    []traffic.Result
		want  string
	}{
		{"no replies", "worker", nil, ""},
		{"only failures", "worker", []traffic.Result{bad(-500), bad(-100)}, ""},
		{"the owner serves", "worker", []traffic.Result{ok(-900, "worker"), ok(-10, "worker")}, ""},
		{"old replies elsewhere do not count", "worker", []traffic.Result{ok(-5000, "worker2"), ok(-10, "worker")}, ""},
		{"replies after now do not count", "worker", []traffic.Result{ok(-10, "worker"), ok(50, "worker2")}, ""},
		{"another node serves", "worker",
			[]traffic.Result{ok(-800, "worker2"), ok(-20, "worker2")},
			"owner-of:default/local: worker answers ARP/NDP, but stream t1's good replies of the last 1s came from worker2 2; faulting the ARP owner worker"},
		{"both serve: the most first", "worker",
			[]traffic.Result{ok(-800, "worker"), ok(-700, "worker3"), ok(-600, "worker3"), bad(-300)},
			"owner-of:default/local: worker answers ARP/NDP, but stream t1's good replies of the last 1s came from worker3 2, worker 1; faulting the ARP owner worker"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ownerMismatch("owner-of:default/local", c.owner, "t1", c.rs, now); got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

// Replies through an ingress controller name its backends' pods and nodes: only the Service's own
// pods' replies are compared with the ARP owner.
func TestRepliesOf(t *testing.T) {
	now := time.Unix(1000, 0)
	rs := []traffic.Result{
		{At: now.Add(-300 * time.Millisecond), OK: true, Pod: "default/app1-5d8f7c9b4-x2x7k", Node: "worker3"},
		{At: now.Add(-200 * time.Millisecond), OK: true, Pod: "default/traefik-6b5d8f7c9-abcde", Node: "worker"},
	}
	own := map[string]bool{"default/traefik-6b5d8f7c9-abcde": true}
	if got := repliesOf(rs, own); len(got) != 1 || got[0].Node != "worker" {
		t.Fatalf("repliesOf = %+v, want the traefik pod's reply alone", got)
	}
	if got := ownerMismatch("owner-of:default/traefik", "worker", "app1", repliesOf(rs[:1], own), now); got != "" {
		t.Errorf("a backend's reply through the proxy made a note: %q", got)
	}
	if got := repliesOf(rs, nil); len(got) != 2 {
		t.Errorf("without the Service's pods every reply counts, got %d", len(got))
	}
}
