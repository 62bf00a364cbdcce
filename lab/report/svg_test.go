package report

import (
	"strings"
	"testing"
)

func TestTimelineSVG(t *testing.T) {
	hostile := failover{name: "h", impl: "ironlb", requests: 300, faultMs: 1500, gapMs: 800}.scenario()
	for i := range hostile.Timeline.Streams[0].Requests {
		q := &hostile.Timeline.Streams[0].Requests[i]
		if q.OK {
			q.Node = `<node a="1">&amp;`
		} else {
			q.Err = `<script>alert("x")</script> & 'more'`
		}
	}
	hostile.Timeline.Events = append(hostile.Timeline.Events,
		Event{AtMs: 1600, Kind: EventFault, Subject: `<b>"w"</b>`, Detail: "link-down&up"},
		Event{AtMs: 1700, Kind: EventOwner, Subject: "10.0.0.100", Detail: "<evil>"})
	hostile.Timeline.Streams[0].Name = "</svg><script>"

	busy := failover{name: "busy", impl: "ironlb", requests: 10_000, faultMs: 40_000, gapMs: 2_000, passed: true}.scenario()
	for i := range busy.Timeline.Streams[0].Requests { // served alternately by three nodes
		if q := &busy.Timeline.Streams[0].Requests[i]; q.OK {
			q.Node = []string{"worker1", "worker2", "worker3"}[i%3]
		}
	}
	busy.Timeline.Streams = append(busy.Timeline.Streams, busy.Timeline.Streams[0])
	busy.Timeline.Streams[1].Name = "t2"

	tests := []struct {
		name        string
		s           Scenario
		faults      int
		maxElements int
		texts       []string // in the decoded text
	}{
		{
			name:   "failover",
			s:      failover{name: "l2", impl: "ironlb", requests: 600, faultMs: 2500, gapMs: 1200, passed: true}.scenario(),
			faults: 1, maxElements: 600,
			texts: []string{"node-down worker1", "owner / routes", "steps", "t1", "worker1", "worker2", "worker3", "outage 1.21 s", "0s", "6s"},
		},
		{
			name:   "hostile text",
			s:      hostile,
			faults: 2, maxElements: 600,
			texts: []string{`link-down&up <b>"w"</b>`, `<node a="1">&amp;`, `<script>alert("x")</script> & 'more'`, "<evil>", "</svg><script>"},
		},
		{
			name:   "10,000 requests on two streams, three nodes alternating",
			s:      busy,
			faults: 1, maxElements: 2500,
			texts: []string{"outage 2.01 s"},
		},
		{
			name:   "empty",
			s:      Scenario{Name: "nothing"},
			faults: 0, maxElements: 100,
			texts: []string{"no traffic streams"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg := TimelineSVG(&tt.s)
			els, text := mustParseXML(t, svg)
			if len(els) == 0 || els[0].Name.Local != "svg" || els[0].Name.Space != "http://www.w3.org/2000/svg" {
				t.Fatalf("root is not an SVG element: %v", els[:min(len(els), 1)])
			}
			if len(els) > tt.maxElements {
				t.Errorf("%d elements, want at most %d", len(els), tt.maxElements)
			}
			faults, failed, ok, outages := 0, 0, 0, 0
			for _, e := range els {
				switch {
				case e.Name.Local == "script" || e.Name.Local == "foreignObject" || attr(e, "href") != "":
					t.Errorf("unexpected element %v", e)
				case e.Name.Local == "line" && attr(e, "class") == "fault":
					faults++
					if attr(e, "stroke-dasharray") == "" {
						t.Error("fault line not dashed")
					}
				case e.Name.Local == "rect" && attr(e, "class") == "req fail":
					failed++
					if attr(e, "fill") != colourFail || attr(e, "height") != "24" {
						t.Errorf("failed request mark %v: want red and 24 high", e.Attr)
					}
				case e.Name.Local == "rect" && attr(e, "class") == "req ok":
					ok++
					if attr(e, "fill") == colourFail || attr(e, "height") != "12" {
						t.Errorf("ok request mark %v", e.Attr)
					}
				case e.Name.Local == "rect" && attr(e, "class") == "outage":
					outages++
				}
			}
			if faults != tt.faults {
				t.Errorf("%d fault lines, want %d", faults, tt.faults)
			}
			streams := len(tt.s.Timeline.Streams)
			if streams > 0 && (failed == 0 || ok == 0) {
				t.Errorf("%d failed and %d ok request marks, want some of each", failed, ok)
			}
			if outages != streams {
				t.Errorf("%d outage bands, want %d", outages, streams)
			}
			for _, want := range tt.texts {
				if !strings.Contains(text, want) {
					t.Errorf("text lacks %q", want)
				}
			}
			if strings.Contains(svg, "<script") || strings.Contains(svg, "<evil") || strings.Contains(svg, "<b>") {
				t.Error("unescaped markup in the SVG")
			}
		})
	}
}

func TestPaletteStable(t *testing.T) {
	a := failover{name: "a", impl: "ironlb", requests: 100, faultMs: 600, gapMs: 100}.scenario()
	b := a
	b.Timeline.Streams = []Stream{{Name: "t", Requests: []Request{{OK: true, Node: "worker0"}}}}
	p1, p2 := newPalette(&a), newPalette(&a, &b)
	if got := strings.Join(p1.nodes, ","); got != "worker1,worker2,worker3" {
		t.Errorf("nodes %s", got)
	}
	if p1.of("worker1") != nodeColours[0] || p2.of("worker0") != nodeColours[0] || p2.of("worker1") != nodeColours[1] {
		t.Error("colours not assigned in sorted name order")
	}
	if p1.of("none") != colourNone || p1.of("unknown") != colourNone {
		t.Error("unknown nodes are not grey")
	}
	for _, c := range p1.colour {
		if c == colourFail {
			t.Error("a node is red")
		}
	}
}

func TestWorstOutage(t *testing.T) {
	ok := func(at, ms float64) Request { return Request{AtMs: at, LatencyMs: ms, OK: true, Node: "n"} }
	bad := func(at, ms float64) Request { return Request{AtMs: at, LatencyMs: ms, Err: "timeout"} }
	tests := []struct {
		name   string
		reqs   []Request
		want   outage
		wantOK bool
	}{
		{"no requests", nil, outage{}, false},
		{"one good reply", []Request{ok(0, 1)}, outage{}, false},
		{"steady", []Request{ok(0, 1), ok(10, 1), ok(20, 1)}, outage{FromMs: 1, ToMs: 11, Recovered: true}, true},
		{"gap", []Request{ok(0, 1), ok(10, 1), bad(20, 200), bad(30, 200), ok(40, 5), ok(50, 1)}, outage{FromMs: 11, ToMs: 45, Recovered: true}, true},
		{"out of order", []Request{ok(40, 5), ok(0, 1), bad(20, 200), ok(10, 1)}, outage{FromMs: 11, ToMs: 45, Recovered: true}, true},
		{"no recovery", []Request{ok(0, 1), ok(10, 1), bad(20, 200), bad(30, 200)}, outage{FromMs: 11, ToMs: 230}, true},
		{"short failure at the end", []Request{ok(0, 1), ok(100, 1), bad(110, 5)}, outage{FromMs: 1, ToMs: 101, Recovered: true}, true},
		{"never good", []Request{bad(5, 100), bad(10, 100)}, outage{FromMs: 5, ToMs: 110}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := worstOutage(&Stream{Requests: tt.reqs})
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("worstOutage = %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestTicks(t *testing.T) {
	tests := []struct {
		spanMs float64
		step   float64
		labels []string
	}{
		{900, 100, []string{"0s", "0.1s", "0.3s"}},
		{6100, 1000, []string{"0s", "1s", "6s"}},
		{45_000, 5000, []string{"0s", "5s", "45s"}},
		{250, 100, []string{"0.2s"}},
		{1250, 200, []string{"0.2s", "1.2s"}},
		{3_600_000, 600_000, []string{"600s"}},
	}
	for _, tt := range tests {
		step := tickStep(tt.spanMs)
		if step != tt.step {
			t.Errorf("tickStep(%v) = %v, want %v", tt.spanMs, step, tt.step)
		}
		var labels []string
		for i := 0; float64(i)*step <= tt.spanMs; i++ {
			labels = append(labels, tickLabel(float64(i)*step))
		}
		all := " " + strings.Join(labels, " ") + " "
		for _, want := range tt.labels {
			if !strings.Contains(all, " "+want+" ") {
				t.Errorf("span %v: labels %v lack %s", tt.spanMs, labels, want)
			}
		}
	}
}
