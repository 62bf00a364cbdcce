package graph

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/lab/topology"
)

// layoutCases are small topologies and where their hosts must be, as "HOST above|below NETWORK"
// or "HOST left-of|right-of HOST".
var layoutCases = []struct {
	name  string
	yaml  string
	where []string
}{
	{
		name: "one network: nodes above it, a client below",
		yaml: `
networks: [{name: kind, subnet: 172.18.0.0/16, subnet6: "fc00:f853:ccd:e793::/64"}]
nodes:
- {name: control-plane, kind: control-plane}
- {name: worker, kind: worker}
- {name: client, kind: client}
loadBalancerRanges: [172.18.255.200-172.18.255.250]`,
		where: []string{"control-plane above kind", "worker above kind", "client below kind", "control-plane left-of worker"},
	},
	{
		name: "routers between the fabric and the outside, a client behind them",
		yaml: `
networks: [{name: fabric, subnet: 172.19.0.0/16}, {name: outside, subnet: 192.168.100.0/24}]
nodes:
- {name: cp, kind: control-plane}
- {name: w1, kind: worker}
- {name: r1, kind: router, router: {asn: 64601}, networks: [{network: fabric}, {network: outside}]}
- {name: r2, kind: router, router: {asn: 64512, type: frr, bfdInterval: 0s}, networks: [{network: fabric}, {network: outside}]}
- {name: client, kind: client, networks: [{network: outside}]}
loadBalancerRanges: [10.200.0.0/24]`,
		where: []string{"cp above fabric", "r1 below fabric", "r1 above outside", "r2 above outside", "r1 left-of r2", "client below outside"},
	},
	{
		name: "a client on a point-to-point link sits next to its router",
		yaml: `
networks: [{name: kind, subnet: 172.18.0.0/16}]
nodes:
- {name: cp, kind: control-plane}
- {name: w1, kind: worker}
- {name: r1, kind: router, router: {asn: 64601}, networks: [{network: kind, address: 172.18.0.250}]}
- {name: far, kind: client}
links: [{endpoints: ["r1:eth1", far], subnet: 10.0.1.0/30}]`,
		where: []string{"cp above kind", "r1 below kind", "far below kind", "far right-of r1"},
	},
	{
		name: "a router on a network without Kubernetes nodes has no BGP line, IPv4 only, no ranges",
		yaml: `
networks: [{name: kind, subnet: 172.18.0.0/16}, {name: edge, subnet: 10.10.0.0/24}]
nodes:
- {name: cp, kind: control-plane}
- {name: edge1, kind: router, router: {asn: 65000}, networks: [{network: edge}]}
- {name: c1, kind: client, networks: [{network: edge}]}`,
		where: []string{"cp above kind", "edge1 below edge", "c1 below edge", "edge1 below kind"},
	},
	{
		name: "a host on the first and the third network, and one on all three",
		yaml: `
networks: [{name: a, subnet: 10.1.0.0/24}, {name: b, subnet: 10.2.0.0/24}, {name: c, subnet: 10.3.0.0/24}]
nodes:
- {name: cp, kind: control-plane}
- {name: w1, kind: worker, networks: [{network: a}, {network: c}]}
- {name: r1, kind: router, router: {asn: 64601}, networks: [{network: a}, {network: b}, {network: c}]}
- {name: c1, kind: client, networks: [{network: b}]}`,
		where: []string{"cp above a", "w1 below a", "w1 above b", "r1 below a", "r1 above c", "c1 below b", "c1 above c"},
	},
	{
		name: "many workers make the picture wider",
		yaml: `
networks: [{name: kind, subnet: 172.18.0.0/16, subnet6: "fc00:f853:ccd:e793::/64"}]
nodes:
- {name: control-plane, kind: control-plane}
- {name: worker, kind: worker}
- {name: worker2, kind: worker}
- {name: worker3, kind: worker}
- {name: worker4, kind: worker}
- {name: worker5, kind: worker}
- {name: worker6, kind: worker}
- {name: worker7, kind: worker}
- {name: client, kind: client}
- {name: client2, kind: client}
loadBalancerRanges: [172.18.255.200-172.18.255.250, "fc00:f853:ccd:e793::c8-fc00:f853:ccd:e793::fa"]`,
		where: []string{"worker left-of worker7", "client left-of client2", "client2 below kind"},
	},
}

func parseCase(t *testing.T, name, body string) *topology.Topology {
	t.Helper()
	top, err := topology.Parse([]byte("apiVersion: lab.ironlb.io/v1alpha1\nkind: Topology\nname: " + name + "\n" + body))
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func TestLayout(t *testing.T) {
	for i, c := range layoutCases {
		t.Run(c.name, func(t *testing.T) {
			top := parseCase(t, fmt.Sprintf("case%d", i), c.yaml)
			d := Layout(top)
			checkDiagram(t, top, d)
			for _, w := range c.where {
				f := strings.Fields(w)
				if len(f) != 3 {
					t.Fatalf("bad where %q", w)
				}
				a := shapeOf(t, d, f[0])
				b := shapeOf(t, d, f[2])
				var ok bool
				switch f[1] {
				case "above":
					ok = a.Bottom() < b.Y
				case "below":
					ok = a.Y > b.Bottom()
				case "left-of":
					ok = a.Right() < b.X
				case "right-of":
					ok = a.X > b.Right()
				default:
					t.Fatalf("bad relation in %q", w)
				}
				if !ok {
					t.Errorf("want %s: %s is at %+v, %s at %+v", w, f[0], a.Rect, f[2], b.Rect)
				}
			}
		})
	}
}

// TestLayoutShipped runs the checks of every picture over the topologies of topologies/.
func TestLayoutShipped(t *testing.T) {
	for name, top := range shipped(t) {
		t.Run(name, func(t *testing.T) { checkDiagram(t, top, Layout(top)) })
	}
}

// TestLayoutDoesNotModify: Layout leaves its topology as it was.
func TestLayoutDoesNotModify(t *testing.T) {
	for _, c := range layoutCases[:3] {
		a, b := parseCase(t, "x", c.yaml), parseCase(t, "x", c.yaml)
		Layout(a)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: Layout changed the topology", c.name)
		}
	}
}

// shapeOf is the host or network shape of that name.
func shapeOf(t *testing.T, d Diagram, name string) Shape {
	t.Helper()
	for _, s := range d.Shapes {
		if s.Name == name && !s.Legend {
			return s
		}
	}
	t.Fatalf("no shape named %s", name)
	return Shape{}
}

func hasLabel(d Diagram, text string) bool {
	for _, lb := range d.Labels {
		if lb.Text == text || strings.Contains(lb.Text, text) {
			return true
		}
	}
	return false
}

// checkDiagram checks what every picture must be: every host, network, interface, address, AS
// number and load-balancer range shown; nothing outside the picture; no label over another,
// over a line or across a shape's edge; no host over another or over a network.
func checkDiagram(t *testing.T, top *topology.Topology, d Diagram) {
	t.Helper()
	if d.Width <= 0 || d.Height <= 0 {
		t.Fatalf("size %vx%v", d.Width, d.Height)
	}
	for _, n := range top.Nodes {
		s := shapeOf(t, d, n.Name)
		if s.Kind != n.Kind {
			t.Errorf("host %s drawn as %s, want %s", n.Name, s.Kind, n.Kind)
		}
		if !hasLabel(d, n.Name) {
			t.Errorf("host %s has no label", n.Name)
		}
		for _, a := range n.Networks {
			for _, s := range []string{a.Interface, a.Address, a.Address6} {
				if s != "" && !hasLabel(d, s) {
					t.Errorf("host %s: %s on %s is not shown", n.Name, s, a.Network)
				}
			}
			bar := shapeOf(t, d, a.Network)
			found := false
			for _, ln := range d.Lines {
				if ln.Kind == LineAttach && s.Rect.Contains(Rect{X: ln.X1, Y: ln.Y1}) &&
					ln.X2 > bar.X && ln.X2 < bar.Right() && (ln.Y2 == bar.Y || ln.Y2 == bar.Bottom()) {
					found = true
				}
			}
			if !found {
				t.Errorf("no line from host %s to network %s", n.Name, a.Network)
			}
		}
		if n.Router != nil && !hasLabel(d, fmt.Sprintf("AS %d", n.Router.ASN)) {
			t.Errorf("router %s: AS %d is not shown", n.Name, n.Router.ASN)
		}
	}
	for _, n := range top.Networks {
		if s := shapeOf(t, d, n.Name); s.Kind != ShapeNetwork {
			t.Errorf("network %s drawn as %s", n.Name, s.Kind)
		}
		for _, s := range []string{n.Name, n.Subnet, n.Subnet6} {
			if s != "" && !hasLabel(d, s) {
				t.Errorf("network %s: %s is not shown", n.Name, s)
			}
		}
	}
	for _, r := range top.LoadBalancerRanges {
		if !hasLabel(d, r) {
			t.Errorf("load-balancer range %s is not shown", r)
		}
	}
	for _, lk := range top.Links {
		if !hasLabel(d, lk.Subnet) {
			t.Errorf("link %v: subnet %s is not shown", lk.Endpoints, lk.Subnet)
		}
	}
	picture := Rect{W: d.Width, H: d.Height}
	for i, a := range d.Labels {
		ab := a.Bounds()
		if !picture.Contains(ab) {
			t.Errorf("label %q %+v is outside the picture %vx%v", a.Text, ab, d.Width, d.Height)
		}
		for _, b := range d.Labels[i+1:] {
			if ab.Intersects(b.Bounds()) {
				t.Errorf("labels %q and %q overlap", a.Text, b.Text)
			}
		}
		for _, ln := range d.Lines {
			if segmentHits(ln, ab) {
				t.Errorf("label %q is crossed by the %s line %+v", a.Text, ln.Kind, ln)
			}
		}
		for _, s := range d.Shapes {
			if ab.Intersects(s.Rect) && !s.Contains(ab) {
				t.Errorf("label %q sits across the edge of %s %s", a.Text, s.Kind, s.Name)
			}
		}
	}
	for i, a := range d.Shapes {
		if !picture.Contains(a.Rect) {
			t.Errorf("%s %s is outside the picture", a.Kind, a.Name)
		}
		if a.Kind == ShapeCluster || a.Kind == ShapeRanges {
			continue
		}
		for _, b := range d.Shapes[i+1:] {
			if b.Kind != ShapeCluster && b.Kind != ShapeRanges && a.Intersects(b.Rect) {
				t.Errorf("%s %s and %s %s overlap", a.Kind, a.Name, b.Kind, b.Name)
			}
		}
	}
	for _, ln := range d.Lines {
		for _, s := range d.Shapes {
			if s.Legend || (s.Kind != topology.KindControlPlane && s.Kind != topology.KindWorker && s.Kind != topology.KindRouter && s.Kind != topology.KindClient) {
				continue
			}
			inner := Rect{X: s.X + 1, Y: s.Y + 1, W: s.W - 2, H: s.H - 2}
			if segmentHits(ln, inner) {
				t.Errorf("the %s line %+v passes through host %s", ln.Kind, ln, s.Name)
			}
		}
		if !picture.Contains(Rect{X: min(ln.X1, ln.X2), Y: min(ln.Y1, ln.Y2), W: math.Abs(ln.X2 - ln.X1), H: math.Abs(ln.Y2 - ln.Y1)}) {
			t.Errorf("line %+v leaves the picture", ln)
		}
	}
}

// segmentHits reports whether a line passes through r (sampled finely: lines here are short
// and axis-aligned or nearly).
func segmentHits(ln Line, r Rect) bool {
	const steps = 400
	for i := 0; i <= steps; i++ {
		f := float64(i) / steps
		x, y := ln.X1+f*(ln.X2-ln.X1), ln.Y1+f*(ln.Y2-ln.Y1)
		if x > r.X && x < r.Right() && y > r.Y && y < r.Bottom() {
			return true
		}
	}
	return false
}

func TestLabelBounds(t *testing.T) {
	for _, c := range []struct {
		l     Label
		wantX float64
	}{
		{Label{X: 100, Y: 50, Size: 10, Anchor: "start", Text: "abcd"}, 100},
		{Label{X: 100, Y: 50, Size: 10, Anchor: "middle", Text: "abcd"}, 88},
		{Label{X: 100, Y: 50, Size: 10, Anchor: "end", Text: "abcd"}, 76},
	} {
		b := c.l.Bounds()
		if math.Abs(b.X-c.wantX) > 1e-9 || math.Abs(b.W-24) > 1e-9 || b.Y != 42 || b.Bottom() != 52.5 {
			t.Errorf("%s: bounds %+v, want x %v width 24 from y 42 to 52.5", c.l.Anchor, b, c.wantX)
		}
	}
}
