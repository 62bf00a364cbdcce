//go:build linux

package faults

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	nsbackend "github.com/ironlb/ironlb/lab/backend/netns"
	"github.com/ironlb/ironlb/lab/scenario"
	"github.com/ironlb/ironlb/lab/topology"
)

// TestNetworkFaults builds a small lab network (no Kubernetes) and checks each network fault by
// its effect on real connections: partitions, netem delay, links down/up (switch ports and
// point-to-point links), and a flap.
func TestNetworkFaults(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network faults need root (network namespaces): run `sudo make test`")
	}
	top, err := topology.Parse([]byte(`
apiVersion: lab.ironlb.io/v1alpha1
kind: Topology
name: ftest
networks:
- {name: lan, subnet: 10.95.90.0/24}
nodes:
- {name: cp, kind: control-plane}
- {name: a, kind: client}
- {name: b, kind: client}
- {name: c, kind: router, router: {asn: 64600}}
- {name: d, kind: client, networks: []}
links:
- {endpoints: ["c:eth1", "d:eth0"], subnet: 10.95.91.0/30}
`))
	if err != nil {
		t.Fatal(err)
	}
	n := nsbackend.New(top)
	if err := n.Create(); err != nil {
		_ = n.Lab.Teardown()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Lab.Teardown(); err != nil {
			t.Error(err)
		}
	})
	l := Lab{Net: n.Lab, State: t.TempDir()}
	ip := map[string]string{}
	for _, h := range top.Nodes {
		if len(h.Networks) > 0 {
			ip[h.Name] = h.Networks[0].Address
		}
	}
	ip["d"] = "10.95.91.2"
	ctx := context.Background()
	reach := func(from, to string) (time.Duration, error) {
		return dial(t, l, from, to, ip[to])
	}
	// must tries for up to 3 s: a link just set up may lose the first SYN (the port comes up
	// asynchronously), and TCP would only retry it after a second, past one dial's timeout.
	must := func(from, to string) time.Duration {
		t.Helper()
		var err error
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
			var rtt time.Duration
			if rtt, err = reach(from, to); err == nil {
				return rtt
			}
		}
		t.Fatalf("%s cannot reach %s within 3 s: %v", from, to, err)
		return 0
	}
	mustNot := func(from, to string) {
		t.Helper()
		if _, err := reach(from, to); err == nil {
			t.Fatalf("%s still reaches %s", from, to)
		}
	}
	must("a", "b")
	must("c", "d")

	// Partition: a and b stop reaching each other, both still reach c.
	if err := l.Partition(ctx, []string{"a"}, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	mustNot("a", "b")
	mustNot("b", "a")
	must("a", "c")
	must("b", "c")
	if err := l.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	must("a", "b")
	if err := l.Heal(ctx); err != nil {
		t.Fatalf("healing twice: %v", err)
	}

	// Netem: 100 ms each way on b's links makes a connect take two of them (where the kernel
	// has netem; elsewhere delay is refused with the reason).
	if err := l.Netem("b", "", 0, 100*time.Millisecond); err != nil {
		if !strings.Contains(err.Error(), "CONFIG_NET_SCH_NETEM") {
			t.Fatal(err)
		}
		t.Logf("no netem in this kernel: %v", err)
	} else if rtt := must("a", "b"); rtt < 180*time.Millisecond {
		t.Errorf("connect with 100 ms netem delay on b took %s; want >= 200 ms", rtt)
	}
	if err := l.NetemClear("b", ""); err != nil {
		t.Fatal(err)
	}
	if rtt := must("a", "b"); rtt > 50*time.Millisecond {
		t.Errorf("connect after netem-clear took %s", rtt)
	}
	// Loss: all of it cuts b off (netem, or nftables without it); cleared, b answers again.
	if err := l.Netem("b", "", 100, 0); err != nil {
		t.Fatal(err)
	}
	mustNot("a", "b")
	must("a", "c")
	if err := l.NetemClear("b", ""); err != nil {
		t.Fatal(err)
	}
	must("a", "b")

	// Links: a switch port, then a point-to-point link.
	if err := l.Links("b", "", false); err != nil {
		t.Fatal(err)
	}
	mustNot("a", "b")
	if err := l.Links("b", "eth0", true); err != nil {
		t.Fatal(err)
	}
	must("a", "b")
	if err := l.Links("d", "", false); err != nil {
		t.Fatal(err)
	}
	mustNot("c", "d")
	if err := l.Links("d", "", true); err != nil {
		t.Fatal(err)
	}
	must("c", "d")
	if err := l.Links("b", "eth7", false); err == nil {
		t.Error("an interface the host does not have must be an error")
	}

	// A flap ends with the link up.
	if err := l.Flap(ctx, "b", "", 2, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	must("a", "b")
}

// dial connects from one host to a listener in another and returns how long connecting took.
func dial(t *testing.T, l Lab, from, to, ip string) (time.Duration, error) {
	t.Helper()
	var ln net.Listener
	if err := l.Net.Do(to, func() (err error) { ln, err = net.Listen("tcp", ":7777"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var rtt time.Duration
	err := l.Net.Do(from, func() error {
		start := time.Now()
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, "7777"), 700*time.Millisecond)
		if err != nil {
			return err
		}
		rtt = time.Since(start)
		return c.Close()
	})
	if err != nil {
		return 0, fmt.Errorf("%s -> %s: %w", from, to, err)
	}
	return rtt, nil
}

// Apply refuses a fault it cannot do before it touches anything, naming what is missing.
func TestApplyRefusesIncompleteFaults(t *testing.T) {
	l := New("nolab", t.TempDir())
	for _, tc := range []struct {
		f    scenario.Fault
		want string
	}{
		{scenario.Fault{Kind: "melt"}, `unknown fault "melt"`},
		{scenario.Fault{Kind: scenario.FaultNodeDown, Mode: "kill"}, "node-down needs a host"},
		{scenario.Fault{Kind: scenario.FaultLinkFlap, Flaps: 3, Period: "2s"}, "link-flap needs HOST[:IFACE]"},
		{scenario.Fault{Kind: scenario.FaultLinkFlap, Target: "worker", Flaps: 3, Period: "soon"}, `link-flap period "soon"`},
		{scenario.Fault{Kind: scenario.FaultNetem, Target: "worker", Loss: "lots"}, "lots"},
		{scenario.Fault{Kind: scenario.FaultPartition, Groups: [][]string{{"worker"}}}, "two groups"},
		{scenario.Fault{Kind: KindKillPod}, "kill-pod needs NAMESPACE/POD"},
		{scenario.Fault{Kind: scenario.FaultKillSpeaker, Target: "worker"}, "kill-speaker needs the lab's API server"},
	} {
		_, err := l.Apply(context.Background(), nil, tc.f)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Apply(%+v) = %v, want an error with %q", tc.f, err, tc.want)
		}
	}
}
