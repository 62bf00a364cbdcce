package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ironlb/ironlb/lab/netns"
)

// BGP advertisement convergence at scale: run by make bench-bgp (IRONLAB_BGP_SCALE=1), not by
// make test. Prints a BGPSCALE line.
var _ = Describe("BGP at scale", Ordered, func() {
	if os.Getenv("IRONLAB_BGP_SCALE") == "" {
		return
	}
	l := &labCLI{name: "e2ebgpsc"}
	lab := netns.Lab{Prefix: l.name}
	BeforeAll(func() {
		topo, err := filepath.Abs(filepath.Join("..", "..", "topologies", "bgp.yaml"))
		Expect(err).NotTo(HaveOccurred())
		l.up(topo, "--impl", "ironlb")
	})
	AfterEach(l.dumpOnFailure)

	// routes counts the BGP prefixes of the big pool in a router's kernel table that have nexthops
	// next hops (ip -j prints one object per prefix, a multipath one with its nexthops; the text
	// form prints a line per next hop, which counted one per node for each prefix).
	routes := func(router string, nexthops int) int {
		out, err := exec.Command("ip", "netns", "exec", lab.NSName(router), "ip", "-j", "-4", "route", "show", "proto", "bgp").Output()
		if err != nil {
			return 0
		}
		var rs []struct {
			Dst      string            `json:"dst"`
			Gateway  string            `json:"gateway"`
			Nexthops []json.RawMessage `json:"nexthops"`
		}
		if json.Unmarshal(out, &rs) != nil {
			return 0
		}
		n := 0
		for _, r := range rs {
			hops := len(r.Nexthops)
			if hops == 0 && r.Gateway != "" {
				hops = 1
			}
			if hops == nexthops && strings.HasPrefix(r.Dst, "10.201.") {
				n++
			}
		}
		return n
	}

	It("gets 1,000 Services into the routers' forwarding tables", func() {
		var b strings.Builder
		b.WriteString(`{"apiVersion": "v1", "kind": "List", "items": [
{"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "big", "namespace": "metallb-system"}, "spec": {"addresses": ["10.201.0.0/22"]}},
{"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "router1", "namespace": "metallb-system"}, "spec": {"myASN": 64512, "peerASN": 64601, "peerAddress": "172.19.0.250"}},
{"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement", "metadata": {"name": "big", "namespace": "metallb-system"}, "spec": {"ipAddressPools": ["big"]}}`)
		l.apply(b.String() + "]}")
		b.Reset()
		b.WriteString(`{"apiVersion": "v1", "kind": "List", "items": [`)
		for i := range 1000 {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `
{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s%d", "namespace": "default"}, "spec": {"type": "LoadBalancer", "selector": {"app": "none"}, "ports": [{"port": 80}]}}`, i)
		}
		b.WriteString("]}")
		start := time.Now()
		out, err := l.kubectlErr(b.String(), "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), out)
		created := time.Since(start)
		// Converged: all 1,000 prefixes with a next hop per worker (ECMP over the 3 workers'
		// speakers; the control plane carries kubeadm's exclude-from-external-load-balancers label).
		Eventually(func() int { return routes("router1", 3) }).
			WithTimeout(10 * time.Minute).WithPolling(100 * time.Millisecond).Should(Equal(1000))
		all := time.Since(start)
		GinkgoWriter.Printf("BGPSCALE 1000 Services: created in %s (one kubectl apply, API-bound); all 1000 prefixes in router1's FIB with 3 next hops each after %s, %s after the last creation\n",
			created.Round(time.Millisecond), all.Round(time.Millisecond), (all - created).Round(time.Millisecond))
		// Each route has a next hop per worker.
		out2, _ := exec.Command("ip", "netns", "exec", lab.NSName("router1"), "ip", "route", "show", "10.201.1.244").Output()
		Expect(strings.Count(string(out2), "nexthop via")).To(Equal(3), string(out2))
	})
})
