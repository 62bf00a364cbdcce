//go:build linux

// Package netns is the default lab backend: it materialises a topology on this host as network
// namespaces. Every L2 network is a bridge in the lab's switch namespace; every host is a
// namespace with a veth into that bridge; links are veth pairs between two hosts. Nothing is
// attached to or routed from the host's own namespace.
package netns

import (
	"fmt"
	"net/netip"
	"strconv"

	labnet "github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/topology"
)

// SwitchHost is the namespace (under the lab prefix) that holds the bridges.
const SwitchHost = "switch"

// Network builds and removes the network of one topology.
type Network struct {
	Top      *topology.Topology
	Lab      labnet.Lab
	Progress func(string)
}

// New returns the network of a validated topology.
func New(t *topology.Topology) *Network {
	return &Network{Top: t, Lab: labnet.Lab{Prefix: t.Name}}
}

func (n *Network) progress(format string, args ...any) {
	if n.Progress != nil {
		n.Progress(fmt.Sprintf(format, args...))
	}
}

// PortAlias names the switch port of a host's interface: "HOST:IFACE".
func PortAlias(host, iface string) string { return host + ":" + iface }

// BridgeName is the bridge of the i-th network inside the switch namespace.
func BridgeName(i int) string { return "br" + strconv.Itoa(i) }

// short is a compact id (0-9, a-z) so that switch port names fit in 15 characters.
func short(i int) string { return strconv.FormatInt(int64(i%36), 36) }

// Create makes the namespaces, bridges, veths, addresses, sysctls and routes. On error the
// caller tears down (Teardown removes whatever exists).
func (n *Network) Create() error {
	t := n.Top
	netIndex := map[string]int{}
	for i, nw := range t.Networks {
		netIndex[nw.Name] = i
	}
	n.progress("network: %d namespaces, %d bridges", len(t.Nodes)+1, len(t.Networks))
	if err := n.Lab.CreateNS(SwitchHost); err != nil {
		return err
	}
	for i := range t.Networks {
		if err := n.Lab.Bridge(SwitchHost, BridgeName(i)); err != nil {
			return err
		}
	}
	for hi, h := range t.Nodes {
		if err := n.Lab.CreateNS(h.Name); err != nil {
			return err
		}
		if err := n.sysctls(h); err != nil {
			return err
		}
		for ai, a := range h.Networks {
			ni := netIndex[a.Network]
			port := "p" + short(hi) + short(ai)
			if err := n.Lab.Veth(labnet.End{Host: h.Name, Iface: a.Interface},
				labnet.End{Host: SwitchHost, Iface: port, Bridge: BridgeName(ni), Alias: PortAlias(h.Name, a.Interface)}); err != nil {
				return err
			}
			if err := n.addAddrs(h.Name, a.Interface, a.Address, t.Networks[ni].Subnet); err != nil {
				return err
			}
			if a.Address6 != "" {
				if err := n.addAddrs(h.Name, a.Interface, a.Address6, t.Networks[ni].Subnet6); err != nil {
					return err
				}
			}
		}
	}
	for li, l := range t.Links {
		if err := n.createLink(li, l); err != nil {
			return err
		}
	}
	return n.routes()
}

// Configure sets on hosts that exist already what Create sets on the ones it makes: the
// sysctls, and the routes through the routers. A Kind lab's containers, named by netns.Attach,
// get it (Docker made their links and addresses; kindnet routes the pod ranges).
func (n *Network) Configure() error {
	for _, h := range n.Top.Nodes {
		if err := n.sysctls(h); err != nil {
			return err
		}
	}
	return n.routesThroughRouters("")
}

// ConfigureHost is Configure for one host, in a namespace made anew (a Kind node or client
// container started again).
func (n *Network) ConfigureHost(host string) error {
	h := n.Top.Node(host)
	if h == nil {
		return fmt.Errorf("no host %q", host)
	}
	if err := n.sysctls(*h); err != nil {
		return err
	}
	return n.routesThroughRouters(host)
}

func (n *Network) addAddrs(host, iface, addr, subnet string) error {
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return fmt.Errorf("%s: subnet %q: %w", host, subnet, err)
	}
	return n.Lab.AddrAdd(host, iface, fmt.Sprintf("%s/%d", addr, p.Bits()))
}

// sysctls: Kubernetes nodes and routers forward; Kubernetes nodes leave ARP for load-balancer
// addresses to the speaker (arp_ignore/arp_announce, as MetalLB asks of kube-proxy's IPVS mode).
func (n *Network) sysctls(h topology.Node) error {
	set := map[string]string{}
	if topology.IsKubernetes(h.Kind) || h.Kind == topology.KindRouter {
		set["net/ipv4/ip_forward"] = "1"
		set["net/ipv6/conf/all/forwarding"] = "1"
	}
	if h.Kind != topology.KindRouter {
		// Routes over several routers: spread by flow, and leave out a router whose address
		// no longer resolves; short neighbour timers notice that within a few seconds.
		set["net/ipv4/fib_multipath_hash_policy"] = "1"
		set["net/ipv4/fib_multipath_use_neigh"] = "1"
	}
	if h.Kind == topology.KindRouter {
		// ECMP by flow (addresses and ports), so that one client's connections spread over
		// the nodes as a datacentre fabric's do.
		set["net/ipv4/fib_multipath_hash_policy"] = "1"
		set["net/ipv6/fib_multipath_hash_policy"] = "1"
	}
	if topology.IsKubernetes(h.Kind) {
		set["net/ipv4/conf/all/arp_ignore"] = "1"
		set["net/ipv4/conf/all/arp_announce"] = "2"
	}
	for k, v := range set {
		if err := n.Lab.Sysctl(h.Name, k, v); err != nil {
			return err
		}
	}
	return nil
}

// routesThroughRouters: a host reaches a network it is not on through every router that is on
// both (ECMP); a client that shares no network with the Kubernetes nodes sends everything else (the
// load-balancer addresses the routers learn over BGP) to the routers on its network. Hosts skip a
// gateway whose neighbour entry failed (fib_multipath_use_neigh), so a dead router is avoided once
// its address stops resolving.
func (n *Network) routesThroughRouters(only string) error {
	t := n.Top
	onNodes := t.NodeNetworks()
	// gateways returns the addresses on network m of every router that is also on network nw.
	gateways := func(m, nw string) []string {
		var out []string
		for _, r := range t.Nodes {
			if r.Kind != topology.KindRouter {
				continue
			}
			var onM, onNW string
			for _, a := range r.Networks {
				if a.Network == m {
					onM = a.Address
				}
				if a.Network == nw {
					onNW = a.Address
				}
			}
			if onM != "" && onNW != "" {
				out = append(out, onM)
			}
		}
		return out
	}
	for _, h := range t.Nodes {
		if h.Kind == topology.KindRouter || len(h.Networks) == 0 || (only != "" && h.Name != only) {
			continue
		}
		// With routes over several routers: short neighbour timers (per interface: a namespace
		// has no "default" entry), so that a router that stopped answering is known to be gone,
		// and left out, within a few seconds. Hosts without such routes keep the defaults.
		shortTimers := func() error {
			for _, a := range h.Networks {
				for k, v := range map[string]string{"base_reachable_time_ms": "2000", "delay_first_probe_time": "1"} {
					if err := n.Lab.Sysctl(h.Name, "net/ipv4/neigh/"+a.Interface+"/"+k, v); err != nil {
						return err
					}
				}
			}
			return nil
		}
		mine := map[string]bool{}
		for _, a := range h.Networks {
			mine[a.Network] = true
		}
		for _, nw := range t.Networks {
			if mine[nw.Name] {
				continue
			}
			for _, a := range h.Networks {
				if gws := gateways(a.Network, nw.Name); len(gws) > 0 {
					if err := n.Lab.RouteAddMulti(h.Name, nw.Subnet, gws); err != nil {
						return err
					}
					if len(gws) > 1 {
						if err := shortTimers(); err != nil {
							return err
						}
					}
					break
				}
			}
		}
		if h.Kind != topology.KindClient || onNodes[h.Networks[0].Network] {
			continue
		}
		var gws []string
		for _, r := range t.Nodes {
			if r.Kind != topology.KindRouter {
				continue
			}
			for _, a := range r.Networks {
				if a.Network == h.Networks[0].Network {
					gws = append(gws, a.Address)
				}
			}
		}
		if len(gws) > 0 {
			if err := n.Lab.RouteAddMulti(h.Name, "default", gws); err != nil {
				return err
			}
		}
		if len(gws) > 1 {
			if err := shortTimers(); err != nil {
				return err
			}
		}
	}
	return nil
}

// LinkAlias marks both ends of a point-to-point link ("p2p:PEER"), so that faults find them.
func LinkAlias(peer string) string { return "p2p:" + peer }

func (n *Network) createLink(li int, l topology.Link) error {
	ha, ia := topology.LinkInterface(l.Endpoints[0], li)
	hb, ib := topology.LinkInterface(l.Endpoints[1], li)
	if err := n.Lab.Veth(labnet.End{Host: ha, Iface: ia, Alias: LinkAlias(hb)}, labnet.End{Host: hb, Iface: ib, Alias: LinkAlias(ha)}); err != nil {
		return err
	}
	a, b, bits, err := topology.LinkAddrs(l.Subnet)
	if err != nil {
		return err
	}
	if err := n.Lab.AddrAdd(ha, ia, fmt.Sprintf("%s/%d", a, bits)); err != nil {
		return err
	}
	return n.Lab.AddrAdd(hb, ib, fmt.Sprintf("%s/%d", b, bits))
}

// routes: each Kubernetes node reaches the others' pod ranges through them (as kindnet does);
// a client that sits behind a router on a link sends everything to that router.
func (n *Network) routes() error {
	t := n.Top
	for _, h := range t.Nodes {
		if !topology.IsKubernetes(h.Kind) || len(h.Networks) == 0 {
			continue
		}
		// ClusterIPs: kube-proxy rewrites them on the way out, but the kernel first needs a route.
		// Real nodes use their default route; lab nodes have none, so the range goes out eth0.
		for _, r := range []string{t.Defaults.ServiceCIDR, t.Defaults.ServiceCIDR6} {
			if r == "" || (r == t.Defaults.ServiceCIDR6 && h.Networks[0].Address6 == "") {
				continue
			}
			if err := n.Lab.RouteAddDev(h.Name, r, h.Networks[0].Interface); err != nil {
				return err
			}
		}
		for _, o := range t.Nodes {
			if o.Name == h.Name || !topology.IsKubernetes(o.Kind) || len(o.Networks) == 0 || o.Networks[0].Network != h.Networks[0].Network {
				continue
			}
			if o.PodCIDR != "" {
				if err := n.Lab.RouteAdd(h.Name, o.PodCIDR, o.Networks[0].Address); err != nil {
					return err
				}
			}
			if o.PodCIDR6 != "" && o.Networks[0].Address6 != "" {
				if err := n.Lab.RouteAdd(h.Name, o.PodCIDR6, o.Networks[0].Address6); err != nil {
					return err
				}
			}
		}
	}
	if err := n.routesThroughRouters(""); err != nil {
		return err
	}
	for li, l := range t.Links {
		ha, _ := topology.LinkInterface(l.Endpoints[0], li)
		hb, _ := topology.LinkInterface(l.Endpoints[1], li)
		a, b, _, err := topology.LinkAddrs(l.Subnet)
		if err != nil {
			return err
		}
		for _, e := range []struct {
			host string
			gw   netip.Addr
		}{{ha, b}, {hb, a}} {
			if h := t.Node(e.host); h != nil && h.Kind == topology.KindClient && len(h.Networks) == 0 {
				if err := n.Lab.RouteAdd(e.host, "default", e.gw.String()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Teardown removes everything of the lab's network.
func (n *Network) Teardown() error { return n.Lab.Teardown() }
