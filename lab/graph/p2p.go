package graph

import (
	"fmt"

	"github.com/ironlb/ironlb/lab/topology"
)

// p2p is a point-to-point link as drawn: its ends' labels, left end first.
type p2p struct {
	a, b        *host
	endA, endB  string // "IFACE ADDRESS" of each end
	subnet, tip string
}

// linkPeer is the other end of h's first point-to-point link.
func (l *layout) linkPeer(h *host) *host {
	for _, lk := range l.t.Links {
		if len(lk.Endpoints) != 2 {
			continue
		}
		a, _ := topology.SplitEndpoint(lk.Endpoints[0])
		b, _ := topology.SplitEndpoint(lk.Endpoints[1])
		switch h.n.Name {
		case a:
			return l.byName[b]
		case b:
			return l.byName[a]
		}
	}
	return nil
}

// link returns the link between a and b, oriented from a to b.
func (l *layout) link(a, b *host) (p2p, bool) {
	for li, lk := range l.t.Links {
		if len(lk.Endpoints) != 2 {
			continue
		}
		ha, ia := topology.LinkInterface(lk.Endpoints[0], li)
		hb, ib := topology.LinkInterface(lk.Endpoints[1], li)
		addrA, addrB, _, err := topology.LinkAddrs(lk.Subnet)
		if err != nil {
			continue
		}
		p := p2p{subnet: lk.Subnet,
			tip: fmt.Sprintf("link %s %s %s — %s %s %s (%s)", ha, ia, addrA, hb, ib, addrB, lk.Subnet)}
		switch {
		case ha == a.n.Name && hb == b.n.Name:
			p.a, p.b, p.endA, p.endB = a, b, ia+" "+addrA.String(), addrB.String()+" "+ib
		case hb == a.n.Name && ha == b.n.Name:
			p.a, p.b, p.endA, p.endB = a, b, ib+" "+addrB.String(), addrA.String()+" "+ia
		default:
			continue
		}
		return p, true
	}
	return p2p{}, false
}

// rowGap is the room between two neighbours of a row: wider when a point-to-point link joins
// them, for its labels.
func (l *layout) rowGap(a, b *host) float64 {
	if lk, ok := l.link(a, b); ok {
		return max(textWidth(lk.endA, textSize, false), textWidth(lk.endB, textSize, false), textWidth(lk.subnet, textSize, false)) + 2*linkPad
	}
	return hostGap
}

// linkLines draws the point-to-point links: between neighbours of a row, a level line with
// each end's interface and address by it and the subnet above; otherwise a line between the
// two boxes with one label at its middle.
func (l *layout) linkLines() {
	rowOf := map[*host]int{}
	for _, row := range l.bands {
		for i, h := range row {
			rowOf[h] = i
		}
	}
	for li, lk := range l.t.Links {
		if len(lk.Endpoints) != 2 {
			continue
		}
		ha, _ := topology.LinkInterface(lk.Endpoints[0], li)
		hb, _ := topology.LinkInterface(lk.Endpoints[1], li)
		a, b := l.byName[ha], l.byName[hb]
		if a == nil || b == nil {
			continue
		}
		if a.box.X > b.box.X {
			a, b = b, a
		}
		p, ok := l.link(a, b)
		if !ok {
			continue
		}
		if a.band == b.band && rowOf[b] == rowOf[a]+1 {
			y := a.box.Y + a.box.H/2
			x1, x2 := a.box.Right(), b.box.X
			l.d.Lines = append(l.d.Lines, Line{X1: x1, Y1: y, X2: x2, Y2: y, Kind: LineLink, Tip: p.tip})
			l.label((x1+x2)/2, y-5-textRow, "middle", RoleAddr, p.subnet)
			l.label(x1+linkPad/2, y-5, "start", RoleAddr, p.endA)
			l.label(x2-linkPad/2, y+5+textSize*ascentEm, "end", RoleAddr, p.endB)
			continue
		}
		ax, ay := a.box.X+a.box.W/2, a.box.Bottom()
		bx, by := b.box.X+b.box.W/2, b.box.Y
		if b.box.Y < a.box.Y {
			ay, by = a.box.Y, b.box.Bottom()
		}
		l.d.Lines = append(l.d.Lines, Line{X1: ax, Y1: ay, X2: bx, Y2: by, Kind: LineLink, Tip: p.tip})
		l.label((ax+bx)/2+4, (ay+by)/2, "start", RoleAddr, p.endA+" — "+p.endB)
	}
}
