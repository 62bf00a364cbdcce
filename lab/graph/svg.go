package graph

import (
	"fmt"

	"github.com/ironlb/ironlb/lab/internal/svgdoc"
	"github.com/ironlb/ironlb/lab/topology"
)

// Render lays a validated topology out and draws it: the bytes of `ironlab graph`.
func Render(t *topology.Topology) []byte { return SVG(Layout(t)) }

// shapeStyle is how each kind of shape is drawn: fill and extra attributes. Hosts differ by colour
// and corner (routers round, clients square), in the report's palette (lab/report).
func shapeStyle(kind string) (fill, attrs string) {
	switch kind {
	case topology.KindControlPlane:
		return "#c6dbef", `stroke="#08519c" stroke-width="2.2" rx="5"`
	case topology.KindWorker:
		return "#eef5fc", `stroke="#1f77b4" stroke-width="1.2" rx="5"`
	case topology.KindRouter:
		return "#fff0e0", `stroke="#ff7f0e" stroke-width="1.6" rx="14"`
	case topology.KindClient:
		return "#e8f5e6", `stroke="#2ca02c" stroke-width="1.4" rx="1"`
	case ShapeNetwork:
		return "#e6e9ee", `stroke="#5f6b7a" stroke-width="1.2" rx="4"`
	case ShapeCluster:
		return "none", `stroke="#6baed6" stroke-width="1.2" stroke-dasharray="6 4" rx="8"`
	case ShapeRanges:
		return "#fff8e1", `stroke="#ffc107" stroke-width="1.2" rx="4"`
	}
	return "#f3f4f6", `stroke="#999"`
}

// lineStyle is how each kind of line is drawn.
func lineStyle(kind string) string {
	switch kind {
	case LineLink:
		return `stroke="#8c564b" stroke-width="2.2"`
	case LineBGP:
		return `stroke="#9467bd" stroke-width="1.6" stroke-dasharray="5 3"`
	}
	return `stroke="#5f6b7a" stroke-width="1.5"`
}

// labelStyle is the extra attributes of each label role.
func labelStyle(role string) string {
	switch role {
	case RoleTitle, RoleHost:
		return `font-weight="bold" fill="#111"`
	case RoleIface, RoleRange:
		return `font-weight="bold" fill="#333"`
	case RoleNetwork:
		return `font-weight="bold" fill="#222"`
	case RoleRangesHead:
		return `font-weight="bold" fill="#7a5a00"`
	case RoleHostDetail, RoleSubnet:
		return `fill="#444"`
	case RoleCluster:
		return `fill="#2b6ea6"`
	case RoleLegend:
		return `fill="#333"`
	}
	return `fill="#555"` // subtitle, addresses, range notes
}

// SVG writes a diagram as a standalone SVG document (valid XML, no scripts or external
// references), in the report's style: sans-serif, the picture scaling to its container, a
// tooltip on every host, network and line.
func SVG(d Diagram) []byte {
	w := &svgdoc.Writer{}
	w.Grow(4096 + 300*(len(d.Shapes)+len(d.Labels)))
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" class="topology" viewBox="0 0 %s %s" width="%s" height="%s" font-family="sans-serif" role="img">`,
		svgdoc.Num(d.Width), svgdoc.Num(d.Height), svgdoc.Num(d.Width), svgdoc.Num(d.Height))
	w.Title(d.Summary)
	w.WriteString("\n")
	w.Rect(0, 0, d.Width, d.Height, "#ffffff", "", "")
	w.WriteString("\n")
	// Frames and panels first, then lines (under the networks' bars and hosts they end on),
	// then bars and hosts, then every label on top.
	for _, s := range d.Shapes {
		if s.Kind == ShapeCluster || s.Kind == ShapeRanges {
			shape(w, s)
		}
	}
	for _, ln := range d.Lines {
		line(w, ln)
	}
	for _, s := range d.Shapes {
		if s.Kind != ShapeCluster && s.Kind != ShapeRanges {
			shape(w, s)
		}
	}
	for _, lb := range d.Labels {
		w.Label(lb.X, lb.Y, lb.Size, lb.Anchor, labelStyle(lb.Role), lb.Text)
		w.WriteString("\n")
	}
	w.WriteString("</svg>\n")
	return []byte(w.String())
}

func shape(w *svgdoc.Writer, s Shape) {
	fill, attrs := shapeStyle(s.Kind)
	class := fmt.Sprintf(`class="%s"`, s.Kind)
	if s.Legend {
		class = `class="legend"`
	}
	w.Rect(s.X, s.Y, s.W, s.H, fill, class+" "+attrs, s.Tip)
	w.WriteString("\n")
}

func line(w *svgdoc.Writer, ln Line) {
	class := ln.Kind
	if ln.Legend {
		class = "legend"
	}
	fmt.Fprintf(w, `<line class="%s" x1="%s" y1="%s" x2="%s" y2="%s" %s`, class,
		svgdoc.Num(ln.X1), svgdoc.Num(ln.Y1), svgdoc.Num(ln.X2), svgdoc.Num(ln.Y2), lineStyle(ln.Kind))
	if ln.Tip == "" {
		w.WriteString("/>")
	} else {
		w.WriteString(">")
		w.Title(ln.Tip)
		w.WriteString("</line>")
	}
	if ln.Kind == LineAttach && !ln.Legend {
		// The port on the network.
		fmt.Fprintf(w, `<circle cx="%s" cy="%s" r="3" fill="#5f6b7a"/>`, svgdoc.Num(ln.X2), svgdoc.Num(ln.Y2))
	}
	w.WriteString("\n")
}
