package graph

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/lab/topology"
)

// Geometry, in SVG user units.
const (
	margin     = 16.0
	titleSize  = 16.0
	nameSize   = 12.0 // host names
	textSize   = 10.0 // everything else
	textRow    = 12.5 // a line of textSize text
	nameRow    = 15.0 // a line of nameSize text
	boxPad     = 9.0  // inside a host's box
	minBoxW    = 120.0
	hostGap    = 24.0 // between two hosts of a row
	lineInset  = 12.0 // a host's first line from the left edge of its box, its BGP line from the right
	lineStep   = 14.0 // between a line's labels and the next line of the same host
	labelGap   = 5.0  // between a line and its labels
	bgpStep    = 9.0  // between two BGP lines of a router
	blockPad   = 6.0  // between a shape and the labels under it
	barH       = 24.0
	barGap     = 28.0 // between two networks with no host between them
	frameInset = 8.0  // the cluster frame around its hosts
	frameHead  = 18.0 // room for the frame's caption
	linkPad    = 12.0 // a point-to-point link's labels from its ends
	legendRow  = 20.0
	minWidth   = 560.0
)

// layout is the state of one Layout call.
type layout struct {
	t       *topology.Topology
	nets    map[string]int // network index by name
	hosts   []*host
	byName  map[string]*host
	bands   [][]*host // rows of hosts: band b is above network b, band len(nets) below the last
	boxW    float64
	blockW  float64 // the widest label block of an attach line
	peerASN []uint32
	d       Diagram
}

// host is a host being laid out.
type host struct {
	n       *topology.Node
	band    int
	text    []Label // inside its box, relative to its top-left corner
	atts    []attachment
	bgp     []int // networks over which it has BGP sessions with Kubernetes nodes
	box     Rect
	pending bool // only on point-to-point links and not placed yet: it goes next to its peer
}

// attachment is a host's interface on a network.
type attachment struct {
	net   int
	a     topology.Attachment
	up    bool // the network is above the host
	slot  int  // among the host's attachments in the same direction, from the left
	block []Label
}

// Layout places a validated, defaulted topology (topology.Parse or Load returns one): networks
// as bars across the picture in file order; Kubernetes nodes above their first network in a
// dashed cluster frame; hosts on two networks (routers) between them; other hosts below their
// network; hosts on point-to-point links only next to their peer. Each host's interfaces are
// lines to their networks, labelled with the interface name and addresses; a router's BGP
// sessions are a dashed line to each network it shares with Kubernetes nodes. A title, the
// cluster's ranges, a panel of the load-balancer ranges and a legend complete it. It does not
// modify t.
func Layout(t *topology.Topology) Diagram {
	l := &layout{t: t, nets: map[string]int{}, byName: map[string]*host{}}
	l.d.Name = t.Name
	for i, n := range t.Networks {
		l.nets[n.Name] = i
	}
	l.collectHosts()
	l.sizeBoxes()
	l.arrangeBands()
	y := l.header()
	y = l.place(y)
	y = l.legend(y)
	l.d.Height = y + margin
	l.d.Summary = l.summary()
	return l.d
}

// collectHosts builds every host's text and attachments and chooses its band.
func (l *layout) collectHosts() {
	t := l.t
	k8sNets := map[int]bool{}
	for _, n := range t.Nodes {
		if topology.IsKubernetes(n.Kind) {
			for _, a := range n.Networks {
				if i, ok := l.nets[a.Network]; ok {
					k8sNets[i] = true
				}
			}
		}
	}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		h := &host{n: n}
		lo, hi := -1, -1
		for _, a := range n.Networks {
			ni, ok := l.nets[a.Network]
			if !ok {
				continue
			}
			h.atts = append(h.atts, attachment{net: ni, a: a})
			if lo < 0 || ni < lo {
				lo = ni
			}
			hi = max(hi, ni)
			if n.Kind == topology.KindRouter && k8sNets[ni] {
				h.bgp = append(h.bgp, ni)
			}
		}
		switch {
		case lo < 0:
			h.pending = true
		case lo == hi && topology.IsKubernetes(n.Kind):
			h.band = lo
		default:
			h.band = lo + 1
		}
		if len(h.bgp) > 0 && !slices.Contains(l.peerASN, n.Router.NodeASN) {
			l.peerASN = append(l.peerASN, n.Router.NodeASN)
		}
		h.text = hostText(n, len(h.bgp) > 0)
		l.hosts = append(l.hosts, h)
		l.byName[n.Name] = h
	}
	// Hosts on links only take the band of their peer (in as many rounds as chains need).
	for range l.hosts {
		for _, h := range l.hosts {
			if !h.pending {
				continue
			}
			if p := l.linkPeer(h); p != nil && !p.pending {
				h.band, h.pending = p.band, false
			}
		}
	}
	for _, h := range l.hosts {
		if h.pending { // a chain of hosts on links only, or a host on nothing: the bottom band
			h.band, h.pending = len(t.Networks), false
		}
	}
	for _, h := range l.hosts {
		for j := range h.atts {
			at := &h.atts[j]
			at.up = at.net < h.band
			at.block = attachBlock(at.a)
			l.blockW = max(l.blockW, blockWidth(at.block))
		}
		slots := [2]int{}
		for j := range h.atts {
			d := 0
			if h.atts[j].up {
				d = 1
			}
			h.atts[j].slot = slots[d]
			slots[d]++
		}
	}
}

// hostText is what a host's box says, one label a line.
func hostText(n *topology.Node, peers bool) []Label {
	lines := []Label{{Role: RoleHost, Size: nameSize, Text: n.Name}}
	detail := func(s string) { lines = append(lines, Label{Role: RoleHostDetail, Size: textSize, Text: s}) }
	switch n.Kind {
	case topology.KindControlPlane:
		detail("control plane")
	case topology.KindWorker:
		detail("worker")
	case topology.KindClient:
		detail("client")
	case topology.KindRouter:
		r := n.Router
		software := map[string]string{topology.RouterGoBGP: "GoBGP", topology.RouterFRR: "FRR"}[r.Type]
		if software == "" {
			software = r.Type
		}
		detail("router · " + software)
		detail(fmt.Sprintf("AS %d", r.ASN))
		if peers {
			kind := "eBGP"
			if r.ASN == r.NodeASN {
				kind = "iBGP"
			}
			detail(fmt.Sprintf("%s with nodes (AS %d)", kind, r.NodeASN))
			if r.BFDInterval != "" && r.BFDInterval != "0s" && r.BFDInterval != "0" {
				detail(fmt.Sprintf("BFD %s ×%d", r.BFDInterval, r.BFDMultiplier))
			}
		}
	default:
		detail(n.Kind)
	}
	if topology.IsKubernetes(n.Kind) && n.PodCIDR != "" {
		detail("pods " + n.PodCIDR)
	}
	return lines
}

// attachBlock is the labels by an attach line: interface, IPv4 and IPv6 address.
func attachBlock(a topology.Attachment) []Label {
	b := []Label{{Role: RoleIface, Size: textSize, Text: a.Interface}}
	for _, s := range []string{a.Address, a.Address6} {
		if s != "" {
			b = append(b, Label{Role: RoleAddr, Size: textSize, Text: s})
		}
	}
	return b
}

func blockWidth(ls []Label) float64 {
	w := 0.0
	for _, lb := range ls {
		w = max(w, textWidth(lb.Text, lb.Size, bold(lb.Role)))
	}
	return w
}

func blockHeight(ls []Label) float64 { return float64(len(ls)) * textRow }

// sizeBoxes gives every host box the same width: enough for the widest text and for the lines
// of the host with the most interfaces on one side.
func (l *layout) sizeBoxes() {
	w := minBoxW
	for _, h := range l.hosts {
		w = max(w, blockWidth(h.text)+2*boxPad)
		slots := 0
		for _, at := range h.atts {
			slots = max(slots, at.slot+1)
		}
		if slots == 0 {
			continue
		}
		need := lineInset + float64(slots-1)*(l.blockW+labelGap+lineStep) + labelGap + l.blockW + 6
		if len(h.bgp) > 0 {
			need += lineInset + float64(len(h.bgp)-1)*bgpStep
		}
		w = max(w, need)
	}
	l.boxW = w
}

// arrangeBands orders each band: Kubernetes nodes first, then the other hosts, in file order;
// a host on links only right after its peer.
func (l *layout) arrangeBands() {
	l.bands = make([][]*host, len(l.t.Networks)+1)
	var linkOnly []*host
	for _, kube := range []bool{true, false} {
		for _, h := range l.hosts {
			if topology.IsKubernetes(h.n.Kind) != kube {
				continue
			}
			if len(h.atts) == 0 {
				linkOnly = append(linkOnly, h)
				continue
			}
			l.bands[h.band] = append(l.bands[h.band], h)
		}
	}
	for _, h := range linkOnly {
		row := l.bands[h.band]
		at := len(row)
		if p := l.linkPeer(h); p != nil {
			for i, o := range row {
				if o == p {
					at = i + 1
				}
			}
		}
		row = append(row[:at], append([]*host{h}, row[at:]...)...)
		l.bands[h.band] = row
	}
}

// label adds a label; its size follows from its role.
func (l *layout) label(x, y float64, anchor, role, text string) {
	size := textSize
	switch role {
	case RoleTitle:
		size = titleSize
	case RoleHost:
		size = nameSize
	case RoleNetwork, RoleRangesHead, RoleSubtitle, RoleLegend:
		size = 11
	}
	l.d.Labels = append(l.d.Labels, Label{X: x, Y: y, Size: size, Anchor: anchor, Role: role, Text: text})
}

// baseline is where the text of the k-th row of a block that starts at top sits.
func baseline(top float64, k int, size float64) float64 {
	return top + float64(k)*textRow + size*ascentEm + 1
}

// hostTip is a host's tooltip: everything its box says, on one line.
func hostTip(h *host) string {
	var parts []string
	for _, t := range h.text {
		parts = append(parts, t.Text)
	}
	return strings.Join(parts, " · ")
}

func blockTexts(ls []Label) []string {
	out := make([]string, len(ls))
	for i, lb := range ls {
		out[i] = lb.Text
	}
	return out
}
