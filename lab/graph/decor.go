package graph

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ironlb/ironlb/impl/config"
	"github.com/ironlb/ironlb/lab/topology"
)

// subtitle is the cluster's address ranges and kube-proxy mode.
func (l *layout) subtitle() string {
	d := l.t.Defaults
	join := func(a, b string) string {
		if b == "" {
			return a
		}
		return a + ", " + b
	}
	return fmt.Sprintf("pods %s · services %s · kube-proxy %s", join(d.PodCIDR, d.PodCIDR6), join(d.ServiceCIDR, d.ServiceCIDR6), d.KubeProxyMode)
}

// rangesPanel is the size of the load-balancer ranges' panel and where its notes start.
func (l *layout) rangesPanel() (w, h, noteX float64) {
	if len(l.t.LoadBalancerRanges) == 0 {
		return 0, 0, 0
	}
	rw, nw := 0.0, 0.0
	for _, r := range l.t.LoadBalancerRanges {
		rw = max(rw, textWidth(r, textSize, true))
		nw = max(nw, textWidth(l.rangeNote(r), textSize, false))
	}
	noteX = 10 + rw + 14
	w = max(noteX+nw+10, 20+textWidth("load-balancer ranges", 11, true))
	h = 8 + 14 + float64(len(l.t.LoadBalancerRanges))*textRow + 6
	return w, h, noteX
}

// rangeNote says where a load-balancer range lives: inside a network (its hosts answer ARP/NDP
// for it) or outside them all (routed, learnt over BGP).
func (l *layout) rangeNote(s string) string {
	for _, n := range l.t.Networks {
		for _, sn := range []string{n.Subnet, n.Subnet6} {
			if inPrefix(s, sn) {
				return "on " + n.Name + ": announced with ARP/NDP (layer 2)"
			}
		}
	}
	var routers []string
	for _, h := range l.hosts {
		if len(h.bgp) > 0 {
			routers = append(routers, h.n.Name)
		}
	}
	if len(routers) == 0 {
		return "outside every network: routed"
	}
	return "routed: announced over BGP to " + strings.Join(routers, ", ")
}

// inPrefix reports whether the range (or CIDR) s lies inside the prefix p.
func inPrefix(s, p string) bool {
	r, err := config.ParseRange(s)
	if err != nil {
		return false
	}
	pf, err := netip.ParsePrefix(p)
	if err != nil {
		return false
	}
	return pf.Contains(r.First) && pf.Contains(r.Last)
}

// header places the title, the subtitle and the ranges' panel, and returns where the rest starts.
func (l *layout) header() float64 {
	l.d.Width = l.width()
	y := margin
	l.label(margin, y+titleSize*ascentEm, "start", RoleTitle, "Lab "+l.t.Name)
	y += titleSize + 6
	l.label(margin, y+11*ascentEm, "start", RoleSubtitle, l.subtitle())
	y += 11 + 12
	pw, ph, noteX := l.rangesPanel()
	if ph == 0 {
		return y
	}
	l.d.Shapes = append(l.d.Shapes, Shape{Rect: Rect{X: margin, Y: y, W: pw, H: ph}, Kind: ShapeRanges,
		Tip: "load-balancer ranges: left free for IPAddressPools"})
	l.label(margin+10, y+8+11*ascentEm, "start", RoleRangesHead, "load-balancer ranges")
	top := y + 8 + 14
	for i, r := range l.t.LoadBalancerRanges {
		l.label(margin+10, baseline(top, i, textSize), "start", RoleRange, r)
		l.label(margin+noteX, baseline(top, i, textSize), "start", RoleRangeNote, l.rangeNote(r))
	}
	return y + ph + 18
}

// legend places the legend under the picture, wrapping at its width, and returns the bottom.
func (l *layout) legend(y float64) float64 {
	type item struct {
		shape, line, text string
	}
	var items []item
	seen := map[string]bool{}
	for _, k := range []string{topology.KindControlPlane, topology.KindWorker, topology.KindRouter, topology.KindClient} {
		for _, h := range l.hosts {
			if h.n.Kind == k && !seen[k] {
				seen[k] = true
				items = append(items, item{shape: k, text: strings.ReplaceAll(k, "-", " ")})
			}
		}
	}
	items = append(items, item{shape: ShapeNetwork, text: "network (an L2 segment)"},
		item{line: LineAttach, text: "interface: name, IPv4, IPv6"})
	for _, ln := range l.d.Lines {
		if ln.Kind == LineBGP && !seen[LineBGP] {
			seen[LineBGP] = true
			items = append(items, item{line: LineBGP, text: "BGP sessions with the nodes on that network"})
		}
	}
	if len(l.t.Links) > 0 {
		items = append(items, item{line: LineLink, text: "point-to-point link"})
	}
	y += 16
	x := margin
	for _, it := range items {
		w := 22 + 6 + textWidth(it.text, 11, false) + 18
		if x+w > l.d.Width-margin && x > margin {
			x, y = margin, y+legendRow
		}
		mid := y + legendRow/2
		if it.shape != "" {
			l.d.Shapes = append(l.d.Shapes, Shape{Rect: Rect{X: x, Y: mid - 6, W: 22, H: 12}, Kind: it.shape, Legend: true})
		} else {
			l.d.Lines = append(l.d.Lines, Line{X1: x, Y1: mid, X2: x + 22, Y2: mid, Kind: it.line, Legend: true})
		}
		l.label(x+28, mid+4, "start", RoleLegend, it.text)
		x += w
	}
	return y + legendRow
}

// summary is the picture's title: what the lab holds, in one sentence.
func (l *layout) summary() string {
	count := map[string]int{}
	for _, n := range l.t.Nodes {
		count[n.Kind]++
	}
	var parts []string
	for _, k := range []struct{ kind, one, many string }{
		{topology.KindControlPlane, "control plane", "control planes"},
		{topology.KindWorker, "worker", "workers"},
		{topology.KindRouter, "router", "routers"},
		{topology.KindClient, "client", "clients"},
	} {
		switch c := count[k.kind]; c {
		case 0:
		case 1:
			parts = append(parts, "1 "+k.one)
		default:
			parts = append(parts, fmt.Sprintf("%d %s", c, k.many))
		}
	}
	plural := func(n int, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	s := fmt.Sprintf("Lab %s: %s on %s", l.t.Name, strings.Join(parts, ", "), plural(len(l.t.Networks), "network"))
	if len(l.t.Links) > 0 {
		s += ", " + plural(len(l.t.Links), "point-to-point link")
	}
	if len(l.t.LoadBalancerRanges) > 0 {
		s += "; load-balancer ranges " + strings.Join(l.t.LoadBalancerRanges, ", ")
	}
	return s
}
