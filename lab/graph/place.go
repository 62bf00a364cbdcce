package graph

import (
	"fmt"
	"strings"

	"github.com/ironlb/ironlb/lab/topology"
)

// rowWidth lays a band's hosts out from x = 0 and returns the row's width.
func (l *layout) rowWidth(row []*host) float64 {
	x := 0.0
	for i, h := range row {
		if i > 0 {
			x += l.rowGap(row[i-1], h)
		}
		h.box = Rect{X: x, W: l.boxW}
		x += l.boxW
	}
	return x
}

// width decides the picture's width: the widest of its rows, bars, header and minWidth.
func (l *layout) width() float64 {
	w := max(minWidth-2*margin,
		textWidth("Lab "+l.t.Name, titleSize, true),
		textWidth(l.subtitle(), 11, false))
	pw, _, _ := l.rangesPanel()
	w = max(w, pw)
	for _, row := range l.bands {
		w = max(w, l.rowWidth(row))
	}
	for _, n := range l.t.Networks {
		w = max(w, 10+textWidth(n.Name, 11, true)+10+textWidth(networkText(n), textSize, false)+10)
	}
	return w + 2*margin
}

// gap is the room between a row of hosts and the network above (up) or below it: enough for the
// labels of their lines.
func gap(row []*host, up bool) float64 {
	h := 0.0
	for _, x := range row {
		for _, at := range x.atts {
			if at.up == up {
				h = max(h, blockHeight(at.block))
			}
		}
	}
	return max(h+2*blockPad, 20)
}

// place lays out the bands and networks from y down, then the lines and their labels, and
// returns the bottom.
func (l *layout) place(y float64) float64 {
	nNets := len(l.t.Networks)
	bars := make([]Rect, nNets)
	for b, row := range l.bands {
		if len(row) > 0 {
			y = l.placeRow(row, b, y)
		} else if b > 0 && b < nNets {
			y += barGap
		}
		if b < nNets {
			bars[b] = Rect{X: margin, Y: y, W: l.d.Width - 2*margin, H: barH}
			y += barH
		}
	}
	for i, n := range l.t.Networks {
		l.d.Shapes = append(l.d.Shapes, Shape{Rect: bars[i], Kind: ShapeNetwork, Name: n.Name,
			Tip: "network " + n.Name + ": " + strings.ReplaceAll(networkText(n), " · ", ", ")})
	}
	for _, h := range l.hosts {
		l.attachLines(h, bars)
	}
	l.linkLines()
	// A network's name and subnets, at its left end unless lines to other networks pass there.
	for i, n := range l.t.Networks {
		r := bars[i]
		var through []float64
		for _, ln := range l.d.Lines {
			if min(ln.Y1, ln.Y2) < r.Y && max(ln.Y1, ln.Y2) > r.Bottom() {
				f := (r.Y + r.H/2 - ln.Y1) / (ln.Y2 - ln.Y1)
				through = append(through, ln.X1+f*(ln.X2-ln.X1))
			}
		}
		nameW := textWidth(n.Name, 11, true)
		x := clearX(r.X+10, nameW+10+textWidth(networkText(n), textSize, false), through)
		l.label(x, r.Y+16, "start", RoleNetwork, n.Name)
		l.label(x+nameW+10, r.Y+16, "start", RoleSubnet, networkText(n))
	}
	return y
}

// placeRow places a band's hosts from y (the bottom of the network above, if any) and returns
// the top of the network below.
func (l *layout) placeRow(row []*host, b int, y float64) float64 {
	if b > 0 {
		y += gap(row, true)
	}
	kube := 0
	for _, h := range row {
		if topology.IsKubernetes(h.n.Kind) {
			kube++
		}
	}
	if kube > 0 {
		y += frameHead
	}
	boxH := 0.0
	for _, h := range row {
		th := boxPad
		for _, t := range h.text {
			if t.Role == RoleHost {
				th += nameRow
			} else {
				th += textRow
			}
		}
		boxH = max(boxH, th+boxPad)
	}
	x0 := l.rowStart(row, b)
	for _, h := range row {
		h.box.X += x0
		h.box.Y, h.box.H = y, boxH
		l.d.Shapes = append(l.d.Shapes, Shape{Rect: h.box, Kind: h.n.Kind, Name: h.n.Name, Tip: hostTip(h)})
		ty := y + boxPad
		for _, t := range h.text {
			row := textRow
			if t.Role == RoleHost {
				row = nameRow
			}
			l.label(h.box.X+h.box.W/2, ty+t.Size*ascentEm+1, "middle", t.Role, t.Text)
			ty += row
		}
	}
	if kube > 0 {
		l.frame(row, kube, b, y, boxH)
	}
	y += boxH
	if b < len(l.t.Networks) {
		y += gap(row, false)
	}
	return y
}

// lineX is where the line of an attachment of h leaves its box.
func (l *layout) lineX(h *host, at attachment) float64 {
	return h.box.X + lineInset + float64(at.slot)*(l.blockW+labelGap+lineStep)
}

// rowStart is where a row of band b begins: centred, unless that puts one of its lines up to the
// network above onto a line down from the row above (it would read as one line through the
// network) or a line from a row above passing through this band onto one of its hosts; then
// moved by half a host, or more, as long as it fits.
func (l *layout) rowStart(row []*host, b int) float64 {
	w := l.rowWidth(row) // positions relative to the row's start
	x0 := margin + (l.d.Width-2*margin-w)/2
	if b == 0 {
		return x0
	}
	var above []float64
	for _, h := range l.bands[b-1] {
		for _, at := range h.atts {
			if !at.up && at.net == b-1 {
				above = append(above, l.lineX(h, at))
			}
		}
	}
	crossing := l.crossing(b)
	clash := func(x0 float64) bool {
		for _, h := range row {
			for _, x := range crossing {
				if x > x0+h.box.X-4 && x < x0+h.box.Right()+4 {
					return true
				}
			}
			for _, x := range l.upLines(h, b-1) {
				for _, a := range above {
					if x0+x > a-20 && x0+x < a+20 {
						return true
					}
				}
			}
		}
		return false
	}
	step := (l.boxW + hostGap) / 2
	for _, k := range []float64{0, 1, -1, 2, -2, 3, -3, 4, -4} {
		x := x0 + k*step
		if x >= margin && x+w <= l.d.Width-margin && !clash(x) {
			return x
		}
	}
	return x0
}

// upLines are where h's lines up to network ni (any, when ni < 0) leave its box: attach and
// BGP lines.
func (l *layout) upLines(h *host, ni int) []float64 {
	var xs []float64
	for _, at := range h.atts {
		if at.up && (ni < 0 || at.net == ni) {
			xs = append(xs, l.lineX(h, at))
		}
	}
	for j, n := range h.bgp {
		if (ni < 0 || n == ni) && n < h.band {
			xs = append(xs, l.bgpX(h, j))
		}
	}
	return xs
}

// bgpX is where h's j-th BGP line leaves its box.
func (l *layout) bgpX(h *host, j int) float64 {
	return h.box.Right() - lineInset - float64(j)*bgpStep
}

// crossing are the lines of the rows above band b that pass through it, to a network below it.
func (l *layout) crossing(b int) []float64 {
	var xs []float64
	for _, row := range l.bands[:b] {
		for _, h := range row {
			for _, at := range h.atts {
				if !at.up && at.net >= b {
					xs = append(xs, l.lineX(h, at))
				}
			}
			for j, n := range h.bgp {
				if n >= b && n >= h.band {
					xs = append(xs, l.bgpX(h, j))
				}
			}
		}
	}
	return xs
}

// clearX moves a text of width w that would start at x right until no line of xs passes
// through it.
func clearX(x, w float64, xs []float64) float64 {
	for moved := true; moved; {
		moved = false
		for _, lx := range xs {
			if lx > x-4 && lx < x+w+4 {
				x, moved = lx+6, true
			}
		}
	}
	return x
}

// frame draws the dashed frame around the Kubernetes nodes of a row of band b (the first kube
// hosts) and its caption, clear of the lines that pass through the frame's head.
func (l *layout) frame(row []*host, kube, b int, top, boxH float64) {
	first, last := row[0].box, row[kube-1].box
	r := Rect{X: first.X - frameInset, Y: top - frameHead, W: last.Right() - first.X + 2*frameInset, H: frameHead + boxH + 4}
	xs := l.crossing(b)
	if b > 0 {
		for _, h := range row {
			xs = append(xs, l.upLines(h, -1)...)
		}
	}
	tip := "Kubernetes cluster"
	if len(l.peerASN) > 0 {
		var as []string
		for _, a := range l.peerASN {
			as = append(as, fmt.Sprint(a))
		}
		tip += " · speakers AS " + strings.Join(as, ", ")
	}
	l.d.Shapes = append(l.d.Shapes, Shape{Rect: r, Kind: ShapeCluster, Tip: tip})
	for _, caption := range []string{tip, "Kubernetes cluster", "cluster"} {
		w := textWidth(caption, textSize, false)
		if x := clearX(r.X+8, w, xs); x+w <= r.Right()-8 {
			l.label(x, r.Y+12.5, "start", RoleCluster, caption)
			return
		}
	}
}

// attachLines draws h's lines to its networks, with their labels, and its BGP sessions.
func (l *layout) attachLines(h *host, bars []Rect) {
	for _, at := range h.atts {
		bar := bars[at.net]
		x := l.lineX(h, at)
		ln := Line{X1: x, Kind: LineAttach, Tip: fmt.Sprintf("%s %s on %s: %s", h.n.Name, at.a.Interface, at.a.Network,
			strings.Join(blockTexts(at.block[1:]), ", "))}
		var top float64
		if at.up {
			ln.Y1, ln.Y2 = h.box.Y, bar.Bottom()
			top = bars[h.band-1].Bottom() + blockPad
		} else {
			ln.Y1, ln.Y2 = h.box.Bottom(), bar.Y
			top = h.box.Bottom() + blockPad
		}
		ln.X2 = x
		l.d.Lines = append(l.d.Lines, ln)
		for k, lb := range at.block {
			l.label(x+labelGap, baseline(top, k, textSize), "start", lb.Role, lb.Text)
		}
	}
	for j, ni := range h.bgp {
		bar := bars[ni]
		x := l.bgpX(h, j)
		r := h.n.Router
		ln := Line{X1: x, X2: x, Kind: LineBGP, Tip: fmt.Sprintf("%s (AS %d) takes BGP sessions from the Kubernetes nodes on %s (AS %d)",
			h.n.Name, r.ASN, l.t.Networks[ni].Name, r.NodeASN)}
		if ni < h.band {
			ln.Y1, ln.Y2 = h.box.Y, bar.Bottom()
		} else {
			ln.Y1, ln.Y2 = h.box.Bottom(), bar.Y
		}
		l.d.Lines = append(l.d.Lines, ln)
	}
}

// networkText is what a network's bar says after its name.
func networkText(n topology.Network) string {
	if n.Subnet6 == "" {
		return n.Subnet
	}
	return n.Subnet + " · " + n.Subnet6
}
