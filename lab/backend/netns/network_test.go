//go:build linux

package netns

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/ironlb/ironlb/lab/topology"
)

func topo(t *testing.T, name string) *topology.Topology {
	t.Helper()
	top, err := topology.Parse([]byte(fmt.Sprintf(`
apiVersion: lab.ironlb.io/v1alpha1
kind: Topology
name: %s
networks:
- {name: lan, subnet: 10.98.0.0/24, subnet6: "fd98::/64"}
nodes:
- {name: cp, kind: control-plane}
- {name: worker, kind: worker}
- {name: client, kind: client}
- {name: router, kind: router, router: {asn: 64600}}
- {name: far, kind: client}
links:
- {endpoints: ["router:eth1", "far:eth0"], subnet: 10.97.0.0/30}
`, name)))
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// talk listens in one host's namespace and connects from another's, returning the reply.
func talk(t *testing.T, n *Network, from, to, addr string) {
	t.Helper()
	var ln net.Listener
	if err := n.Lab.Do(to, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			fmt.Fprintln(c, "hi from "+to)
			c.Close()
		}
	}()
	var reply string
	err := n.Lab.Do(from, func() error {
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		reply, err = bufio.NewReader(c).ReadString('\n')
		return err
	})
	if err != nil || reply != "hi from "+to+"\n" {
		t.Errorf("%s -> %s (%s): %q, %v", from, to, addr, reply, err)
	}
}

func TestCreateTeardown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces); `make test` runs as root in CI")
	}
	top := topo(t, fmt.Sprintf("bt%d", os.Getpid()%1000))
	n := New(top)
	t.Cleanup(func() {
		if err := n.Teardown(); err != nil {
			t.Errorf("teardown: %v", err)
		}
		if left, _ := n.Lab.Namespaces(); len(left) != 0 {
			t.Errorf("left after teardown: %v", left)
		}
	})
	start := time.Now()
	if err := n.Create(); err != nil {
		t.Fatal(err)
	}
	t.Logf("created %d namespaces in %s", len(top.Nodes)+1, time.Since(start))

	worker := top.Node("worker").Networks[0]
	talk(t, n, "client", "worker", net.JoinHostPort(worker.Address, "7100"))
	talk(t, n, "client", "worker", net.JoinHostPort(worker.Address6, "7101"))
	talk(t, n, "far", "router", "10.97.0.1:7102")

	// The worker routes the control plane's pod range through it, as kindnet does.
	cp := top.Node("cp")
	var found bool
	if err := n.Lab.Do("worker", func() error {
		routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
		for _, r := range routes {
			if r.Dst != nil && r.Dst.String() == cp.PodCIDR && r.Gw.String() == cp.Networks[0].Address {
				found = true
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Errorf("worker has no route to %s via %s", cp.PodCIDR, cp.Networks[0].Address)
	}
	// The client behind the router sends everything to it.
	if err := n.Lab.Do("far", func() error {
		routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
		for _, r := range routes {
			if (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && r.Gw.String() == "10.97.0.1" {
				return err
			}
		}
		return fmt.Errorf("no default route via 10.97.0.1: %v", routes)
	}); err != nil {
		t.Error(err)
	}
}
