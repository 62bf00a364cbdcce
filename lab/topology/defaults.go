package topology

import (
	"fmt"
	"net/netip"
)

// Default values.
const (
	DefaultPodCIDR      = "10.244.0.0/16"
	DefaultPodCIDR6     = "fd00:10:244::/56"
	DefaultServiceCIDR  = "10.96.0.0/16"
	DefaultServiceCIDR6 = "fd00:10:96::/112"
	DefaultNodeASN      = 64512
)

// IsKubernetes reports whether a node kind runs Kubernetes (has a kube-proxy, a Node object).
func IsKubernetes(kind string) bool { return kind == KindControlPlane || kind == KindWorker }

// Default fills in what a short file leaves out: networks of hosts, addresses, interface names,
// pod ranges, router type and ASNs. It only reports problems that make defaulting impossible
// (a network that does not parse, a network with no free address left); Validate does the rest.
func Default(t *Topology) Problems {
	var ps Problems
	d := &t.Defaults
	if d.PodCIDR == "" {
		d.PodCIDR = DefaultPodCIDR
	}
	if d.ServiceCIDR == "" {
		d.ServiceCIDR = DefaultServiceCIDR
	}
	if d.KubeProxyMode == "" {
		d.KubeProxyMode = "nftables"
	}
	has6 := false
	for _, n := range t.Networks {
		has6 = has6 || n.Subnet6 != ""
	}
	if d.PodCIDR6 == "" && has6 {
		d.PodCIDR6 = DefaultPodCIDR6
	}
	if d.ServiceCIDR6 == "" && has6 {
		d.ServiceCIDR6 = DefaultServiceCIDR6
	}
	// Addresses in use, per network, so that defaults never take a given one.
	used := map[netip.Addr]bool{}
	for _, n := range t.Nodes {
		for _, a := range n.Networks {
			for _, s := range []string{a.Address, a.Address6} {
				if ip, err := netip.ParseAddr(s); err == nil {
					used[ip] = true
				}
			}
		}
	}
	next := map[string][2]netip.Addr{} // per network: next IPv4, next IPv6 candidate
	subnets := map[string][2]netip.Prefix{}
	for i, n := range t.Networks {
		p4, err := netip.ParsePrefix(n.Subnet)
		if err != nil || !p4.Addr().Is4() {
			ps = append(ps, Problem{fmt.Sprintf("networks[%d].subnet", i), fmt.Sprintf("%q is not an IPv4 CIDR such as 172.18.0.0/16", n.Subnet)})
			continue
		}
		var p6 netip.Prefix
		if n.Subnet6 != "" {
			if p6, err = netip.ParsePrefix(n.Subnet6); err != nil || p6.Addr().Is4() {
				ps = append(ps, Problem{fmt.Sprintf("networks[%d].subnet6", i), fmt.Sprintf("%q is not an IPv6 CIDR such as fc00:f853:ccd:e793::/64", n.Subnet6)})
				continue
			}
		}
		subnets[n.Name] = [2]netip.Prefix{p4.Masked(), p6.Masked()}
		// .1 is left to a gateway, as Docker and Kind do; hosts start at .2.
		first6 := netip.Addr{}
		if p6.IsValid() {
			first6 = p6.Masked().Addr().Next().Next()
		}
		next[n.Name] = [2]netip.Addr{p4.Masked().Addr().Next().Next(), first6}
	}
	podIndex := 0
	for i := range t.Nodes {
		n := &t.Nodes[i]
		// A host without networks goes on the first one, except a client on a link: it sits behind
		// a router.
		if len(n.Networks) == 0 && len(t.Networks) > 0 && !(n.Kind == KindClient && onLink(t, n.Name)) {
			n.Networks = []Attachment{{Network: t.Networks[0].Name}}
		}
		for j := range n.Networks {
			a := &n.Networks[j]
			if a.Interface == "" {
				a.Interface = fmt.Sprintf("eth%d", j)
			}
			sn, ok := subnets[a.Network]
			if !ok {
				continue // Validate reports the unknown network
			}
			nx := next[a.Network]
			if a.Address == "" {
				for used[nx[0]] && sn[0].Contains(nx[0]) {
					nx[0] = nx[0].Next()
				}
				if !sn[0].Contains(nx[0]) {
					ps = append(ps, Problem{fmt.Sprintf("nodes[%d].networks[%d].address", i, j), fmt.Sprintf("network %s has no free address left", a.Network)})
				} else {
					a.Address = nx[0].String()
					used[nx[0]] = true
				}
			}
			if a.Address6 == "" && sn[1].IsValid() {
				for used[nx[1]] && sn[1].Contains(nx[1]) {
					nx[1] = nx[1].Next()
				}
				if sn[1].Contains(nx[1]) {
					a.Address6 = nx[1].String()
					used[nx[1]] = true
				}
			}
			next[a.Network] = nx
		}
		if n.Kind == KindRouter {
			if n.Router == nil {
				n.Router = &Router{}
			}
			if n.Router.Type == "" {
				n.Router.Type = RouterGoBGP
			}
			if n.Router.BFDInterval == "" {
				n.Router.BFDInterval = "100ms"
			}
			if n.Router.BFDMultiplier == 0 {
				n.Router.BFDMultiplier = 3
			}
			if n.Router.NodeASN == 0 {
				n.Router.NodeASN = DefaultNodeASN
			}
		}
		if IsKubernetes(n.Kind) {
			podIndex++
			if n.PodCIDR == "" {
				if p, err := netip.ParsePrefix(d.PodCIDR); err == nil && p.Addr().Is4() && p.Bits() <= 16 {
					b := p.Masked().Addr().As4()
					b[2] += byte(podIndex)
					n.PodCIDR = netip.PrefixFrom(netip.AddrFrom4(b), 24).String()
				}
			}
			if n.PodCIDR6 == "" && d.PodCIDR6 != "" {
				if p, err := netip.ParsePrefix(d.PodCIDR6); err == nil && !p.Addr().Is4() && p.Bits() <= 56 {
					b := p.Masked().Addr().As16()
					b[7] += byte(podIndex)
					n.PodCIDR6 = netip.PrefixFrom(netip.AddrFrom16(b), 64).String()
				}
			}
		}
	}
	return ps
}

// onLink reports whether a host is an end of some link.
func onLink(t *Topology, name string) bool {
	for _, l := range t.Links {
		for _, e := range l.Endpoints {
			if h, _ := SplitEndpoint(e); h == name {
				return true
			}
		}
	}
	return false
}
