// Package graph draws a lab topology as a picture: Layout places every host, network, link,
// BGP session, load-balancer range and label from a validated Topology, and SVG writes the
// result as a standalone SVG document. Both are pure (no files, no clock, no maps iterated into
// the output), so the same topology always gives the same bytes.
package graph

import "unicode/utf8"

// Diagram is a topology laid out: every shape, line and label with its position, in SVG user
// units. Styling is left to SVG; Layout decides only what goes where and what it says.
type Diagram struct {
	Name          string // the topology's name
	Summary       string // one sentence: the picture's title for screen readers and tooltips
	Width, Height float64
	Shapes        []Shape
	Lines         []Line
	Labels        []Label
}

// Rect is an axis-aligned rectangle.
type Rect struct{ X, Y, W, H float64 }

// Right is the rectangle's right edge, Bottom its bottom edge.
func (r Rect) Right() float64  { return r.X + r.W }
func (r Rect) Bottom() float64 { return r.Y + r.H }

// Intersects reports whether r and o share some area.
func (r Rect) Intersects(o Rect) bool {
	return r.X < o.Right() && o.X < r.Right() && r.Y < o.Bottom() && o.Y < r.Bottom()
}

// Contains reports whether o lies wholly inside r.
func (r Rect) Contains(o Rect) bool {
	return o.X >= r.X && o.Right() <= r.Right() && o.Y >= r.Y && o.Bottom() <= r.Bottom()
}

// Shape kinds besides the host kinds (topology.KindControlPlane, ...), which hosts use.
const (
	ShapeNetwork = "network" // a bar across the picture: an L2 segment
	ShapeCluster = "cluster" // a dashed frame around the Kubernetes nodes of a row
	ShapeRanges  = "ranges"  // the panel listing the load-balancer ranges
)

// Shape is a rectangle: a host, a network's bar, the cluster's frame, the ranges' panel, or a
// swatch of the legend (Legend set, Name empty).
type Shape struct {
	Rect
	Kind   string
	Name   string // the host's or network's name
	Legend bool
	Tip    string // tooltip
}

// Line kinds.
const (
	LineAttach = "attach" // a host's interface on a network
	LineLink   = "link"   // a point-to-point link between two hosts
	LineBGP    = "bgp"    // a router's BGP sessions with the Kubernetes nodes of a network
)

// Line is a straight line from (X1, Y1) to (X2, Y2); an attach line ends on its network.
type Line struct {
	X1, Y1, X2, Y2 float64
	Kind           string
	Legend         bool
	Tip            string
}

// Label roles: what a text is, which decides its weight and colour.
const (
	RoleTitle      = "title"
	RoleSubtitle   = "subtitle"
	RoleHost       = "host"        // a host's name
	RoleHostDetail = "host-detail" // its kind, AS, pod range
	RoleIface      = "iface"       // an interface name, by its line
	RoleAddr       = "addr"        // an address, by its line
	RoleNetwork    = "network"     // a network's name, on its bar
	RoleSubnet     = "subnet"      // a network's subnets, on its bar
	RoleCluster    = "cluster"     // the cluster frame's caption
	RoleRangesHead = "ranges-head"
	RoleRange      = "range"
	RoleRangeNote  = "range-note"
	RoleLegend     = "legend"
)

// Label is one line of text; (X, Y) is its anchor point on the baseline.
type Label struct {
	X, Y, Size float64
	Anchor     string // start, middle or end
	Role       string
	Text       string
}

// Text metrics: a generous estimate for a sans-serif font, so that labels placed apart by it are
// apart on screen too.
const (
	charEm    = 0.6  // average advance of a character, in em
	boldScale = 1.08 // bold text is this much wider
	ascentEm  = 0.8  // above the baseline
	descentEm = 0.25 // below it
)

// textWidth is the width of s at size, estimated.
func textWidth(s string, size float64, bold bool) float64 {
	w := float64(utf8.RuneCountInString(s)) * size * charEm
	if bold {
		w *= boldScale
	}
	return w
}

// bold reports whether a role is drawn bold.
func bold(role string) bool {
	switch role {
	case RoleTitle, RoleHost, RoleIface, RoleNetwork, RoleRangesHead, RoleRange:
		return true
	}
	return false
}

// Bounds is the estimated box of the label's text.
func (l Label) Bounds() Rect {
	w := textWidth(l.Text, l.Size, bold(l.Role))
	x := l.X
	switch l.Anchor {
	case "middle":
		x -= w / 2
	case "end":
		x -= w
	}
	return Rect{X: x, Y: l.Y - l.Size*ascentEm, W: w, H: l.Size * (ascentEm + descentEm)}
}
