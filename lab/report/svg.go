package report

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/ironlb/ironlb/lab/internal/svgdoc"
)

// Timeline picture geometry, in SVG user units (the picture scales to its container).
const (
	svgWidth       = 900.0 // a timeline alone
	svgNarrowWidth = 640.0 // a timeline next to another: the same text size in half the room
	svgLabelWidth  = 136.0 // left of the time axis, for the lanes' names
	svgBinWidth    = 2.0   // requests are drawn in bins this wide, so size does not grow with their number
	svgLabelRow    = 14.0
	svgStepLaneH   = 18.0
	svgOwnerH      = 26.0
	svgStreamH     = 38.0
	svgAxisH       = 24.0
	svgLegendRow   = 18.0
	svgCharW       = 6.2 // rough width of a character at font-size 11, to keep labels apart

	colourFail   = "#d62728"
	colourFault  = "#222222"
	colourOutage = "#ffc107"
	colourNone   = "#9e9e9e"
)

// nodeColours are assigned to nodes in sorted name order. Red is kept for failures.
var nodeColours = []string{
	"#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#8c564b",
	"#bcbd22", "#393b79", "#637939", "#e7969c", "#7b4173", "#3182bd",
}

// palette maps node names to colours, stable for a given set of names.
type palette struct {
	nodes  []string
	colour map[string]string
}

// newPalette assigns colours to every node that served a request, was named as an ARP/NDP owner
// or appears in a per-node count, in any of scenarios, in sorted name order.
func newPalette(scenarios ...*Scenario) palette {
	set := map[string]bool{}
	for _, s := range scenarios {
		for _, st := range s.Timeline.Streams {
			for i := range st.Requests {
				if n := st.Requests[i].Node; n != "" {
					set[n] = true
				}
			}
		}
		for _, e := range s.Timeline.Events {
			if e.Kind == EventOwner && e.Detail != "" && e.Detail != "none" {
				set[e.Detail] = true
			}
		}
		for _, m := range s.Measurements {
			for n := range m.ByNode {
				if n != "" {
					set[n] = true
				}
			}
		}
	}
	p := palette{nodes: measurementNames(set), colour: make(map[string]string, len(set))}
	for i, n := range p.nodes {
		if i < len(nodeColours) {
			p.colour[n] = nodeColours[i]
		} else {
			p.colour[n] = fmt.Sprintf("hsl(%d,50%%,40%%)", (i*137+200)%360)
		}
	}
	return p
}

// of is the colour of node, grey for an unknown one or "none".
func (p palette) of(node string) string {
	if c, ok := p.colour[node]; ok {
		return c
	}
	return colourNone
}

// TimelineSVG draws the timeline of one scenario run as a standalone SVG document (valid XML,
// without scripts or external references): time since the scenario began on the x axis; a lane for
// step starts, one for ARP/NDP owner and route changes and one per traffic stream, whose requests
// are coloured by the node that served them (failed ones red and taller); dashed lines for faults
// and, for each stream, a shaded band over its worst outage.
func TimelineSVG(s *Scenario) string {
	return timelineSVG(s, scenarioSpan(s), newPalette(s), svgWidth)
}

// scenarioSpan is the time the timeline of s must show: up to its last request, event or step.
func scenarioSpan(s *Scenario) float64 {
	span := s.DurationMs
	for _, st := range s.Timeline.Streams {
		for i := range st.Requests {
			span = max(span, st.Requests[i].AtMs+max(st.Requests[i].LatencyMs, 0))
		}
	}
	for _, e := range s.Timeline.Events {
		span = max(span, e.AtMs)
	}
	for i := range s.Steps {
		span = max(span, s.Steps[i].EndMs)
	}
	if !(span > 0) || math.IsInf(span, 0) {
		span = 1000
	}
	return span
}

// svgWriter builds the SVG text of a timeline.
type svgWriter struct {
	svgdoc.Writer
	spanMs float64
	width  float64 // of the picture
	x0, x1 float64 // ends of the time axis
}

// x is the horizontal position of time ms.
func (w *svgWriter) x(ms float64) float64 {
	if !(ms > 0) {
		return w.x0
	}
	return w.x0 + min(ms/w.spanMs, 1)*(w.x1-w.x0)
}

// labelRows places labels on rows so that they do not overlap: each row remembers where its last
// label ends.
type labelRows []float64

// place returns the first row (0-based) whose last label ends before x, or -1, and records that the
// row is now taken up to x+width.
func (rows labelRows) place(x, width float64) int {
	for i, end := range rows {
		if x >= end {
			rows[i] = x + width
			return i
		}
	}
	return -1
}

// timelineSVG draws s width wide, with a time axis of spanMs and node colours from pal (shared by
// the timelines shown side by side).
func timelineSVG(s *Scenario, spanMs float64, pal palette, width float64) string {
	w := &svgWriter{spanMs: spanMs, width: width, x0: svgLabelWidth, x1: width - 14}
	w.Grow(8192 + 1200*len(s.Timeline.Streams))

	var faults, owners, steps []Event
	for _, e := range s.Timeline.Events {
		switch e.Kind {
		case EventFault:
			faults = append(faults, e)
		case EventOwner, EventRoute:
			owners = append(owners, e)
		case EventStep:
			steps = append(steps, e)
		}
	}
	byTime := func(es []Event) {
		sort.SliceStable(es, func(i, j int) bool { return es[i].AtMs < es[j].AtMs })
	}
	byTime(faults)
	byTime(owners)
	byTime(steps)
	if len(steps) == 0 { // a runner that records no step events: use the steps' start times
		for i := range s.Steps {
			if !s.Steps[i].Skipped {
				steps = append(steps, Event{AtMs: s.Steps[i].StartMs, Kind: EventStep, Subject: stepName(&s.Steps[i], i)})
			}
		}
	}

	// Fault labels go on rows above the lanes, as many rows as needed (at most three).
	type faultLabel struct {
		x, row float64
		text   string
		anchor string
	}
	var flabels []faultLabel
	rows := make(labelRows, 3)
	nrows := 0
	for _, e := range faults {
		text := strings.TrimSpace(oneLine(e.Detail + " " + e.Subject))
		text = truncate(text, 40)
		x := w.x(e.AtMs)
		wd := float64(len([]rune(text)))*svgCharW + 8
		anchor, lx, start := "start", x+3, x
		if x+wd > w.x1+10 {
			anchor, lx, start = "end", x-3, x-wd
		}
		r := rows.place(start, wd)
		if r < 0 {
			r = len(rows) - 1 // crowded: the tooltip on the line still tells
		}
		nrows = max(nrows, r+1)
		flabels = append(flabels, faultLabel{x: lx, row: float64(r), text: text, anchor: anchor})
	}

	top := 4 + float64(nrows)*svgLabelRow
	stepY := top
	ownerY := stepY + svgStepLaneH
	streamY := ownerY + svgOwnerH
	nStreams := len(s.Timeline.Streams)
	lanesEnd := streamY + float64(max(nStreams, 1))*svgStreamH
	axisY := lanesEnd
	legendY := axisY + svgAxisH

	// The legend is laid out first: its height is part of the picture's.
	type legendItem struct {
		kind, colour, text string
	}
	var legend []legendItem
	for _, n := range pal.nodes {
		legend = append(legend, legendItem{"node", pal.colour[n], n})
	}
	legend = append(legend,
		legendItem{"fail", colourFail, "failed request"},
		legendItem{"outage", colourOutage, "worst outage"},
		legendItem{"fault", colourFault, "fault"},
		legendItem{"owner", colourNone, "ARP/NDP owner change"},
		legendItem{"route", "#555555", "route change"},
	)
	type placed struct {
		x, y float64
		legendItem
	}
	var items []placed
	lx, ly := 8.0, legendY
	for _, it := range legend {
		text := truncate(it.text, 60)
		wd := 20 + float64(len([]rune(text)))*svgCharW + 14
		if lx+wd > w.width-8 && lx > 8 {
			lx, ly = 8, ly+svgLegendRow
		}
		it.text = text
		items = append(items, placed{lx, ly, it})
		lx += wd
	}
	height := ly + svgLegendRow + 4

	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 %g %s" width="%g" height="%s" font-family="sans-serif" role="img">`,
		w.width, svgdoc.Num(height), w.width, svgdoc.Num(height))
	w.Title(fmt.Sprintf("Timeline of %s against %s, run %d", s.Name, s.Implementation, s.Run))

	// Lane backgrounds and labels.
	w.Rect(w.x0, stepY, w.x1-w.x0, svgStepLaneH, "#f3f4f6", "", "")
	w.Label(w.x0-6, stepY+svgStepLaneH/2+4, 10, "end", `fill="#555"`, "steps")
	w.Rect(w.x0, ownerY, w.x1-w.x0, svgOwnerH, "#ffffff", `stroke="#e0e0e0"`, "")
	w.Label(w.x0-6, ownerY+svgOwnerH/2+4, 10, "end", `fill="#555"`, "owner / routes")
	for i, st := range s.Timeline.Streams {
		y := streamY + float64(i)*svgStreamH
		fill := "#fafafa"
		if i%2 == 1 {
			fill = "#f1f3f5"
		}
		w.Rect(w.x0, y, w.x1-w.x0, svgStreamH, fill, "", "")
		w.WriteString("<g>")
		w.Title(fmt.Sprintf("stream %s: %s → %s (%s), %d requests", st.Name, st.From, st.Target, st.Protocol, len(st.Requests)))
		w.Label(w.x0-6, y+svgStreamH/2-1, 11, "end", `font-weight="bold"`, truncate(st.Name, 20))
		w.Label(w.x0-6, y+svgStreamH/2+11, 9, "end", `fill="#666"`, truncate(st.From+" → "+st.Target, 26))
		w.WriteString("</g>")
	}
	if nStreams == 0 {
		w.Label((w.x0+w.x1)/2, streamY+svgStreamH/2+4, 11, "middle", `fill="#888"`, "no traffic streams")
	}

	// Time axis: grid lines, ticks and labels in seconds.
	stepMs := tickStep(spanMs)
	w.WriteString(`<g class="axis" stroke="#d0d4d9" stroke-width="0.6">`)
	for t := 0.0; t <= spanMs+1e-9; t += stepMs {
		x := w.x(t)
		fmt.Fprintf(w, `<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, svgdoc.Num(x), svgdoc.Num(stepY), svgdoc.Num(x), svgdoc.Num(axisY+4))
	}
	w.WriteString(`</g><g class="axis-labels" fill="#444">`)
	for i := 0; float64(i)*stepMs <= spanMs+1e-9; i++ {
		t := float64(i) * stepMs
		w.Label(w.x(t), axisY+16, 10, "middle", "", tickLabel(t))
	}
	w.Label(w.x0-18, axisY+16, 10, "end", `fill="#777"`, "time")
	w.WriteString(`</g>`)

	// Steps: a light tick where each began; the failed one red.
	failed := map[string]bool{}
	for i := range s.Steps {
		if !s.Steps[i].Passed && !s.Steps[i].Skipped {
			failed[stepName(&s.Steps[i], i)] = true
		}
	}
	w.WriteString(`<g class="steps">`)
	for _, e := range steps {
		x := w.x(e.AtMs)
		colour := "#8a99a8"
		tip := fmt.Sprintf("t=%s ms: step %s", fmtMs(e.AtMs), e.Subject)
		if failed[e.Subject] {
			colour = colourFail
			tip += " (failed)"
		}
		fmt.Fprintf(w, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2">`,
			svgdoc.Num(x), svgdoc.Num(stepY+3), svgdoc.Num(x), svgdoc.Num(stepY+svgStepLaneH-3), colour)
		w.Title(tip)
		w.WriteString("</line>")
	}
	w.WriteString(`</g>`)

	// ARP/NDP owner changes (circles in the new owner's colour) and route changes (diamonds).
	w.WriteString(`<g class="owners">`)
	ownerRows := make(labelRows, 1)
	for _, e := range owners {
		x, y := w.x(e.AtMs), ownerY+svgOwnerH/2
		var text string
		if e.Kind == EventOwner {
			node := e.Detail
			if node == "" {
				node = "none"
			}
			text = node
			fmt.Fprintf(w, `<circle class="owner" cx="%s" cy="%s" r="4.5" fill="%s" stroke="#fff" stroke-width="1">`,
				svgdoc.Num(x), svgdoc.Num(y), pal.of(node))
			w.Title(fmt.Sprintf("t=%s ms: %s is now answered by %s", fmtMs(e.AtMs), e.Subject, node))
			w.WriteString("</circle>")
		} else {
			text = e.Detail
			fmt.Fprintf(w, `<path class="route" d="M%s %sl4 4l-4 4l-4 -4z" fill="#555555">`,
				svgdoc.Num(x), svgdoc.Num(y-4))
			w.Title(fmt.Sprintf("t=%s ms: route %s via %s", fmtMs(e.AtMs), e.Subject, e.Detail))
			w.WriteString("</path>")
		}
		text = truncate(oneLine(text), 18)
		if text != "" && ownerRows.place(x, float64(len([]rune(text)))*svgCharW*0.9+12) == 0 && x+40 < w.x1 {
			w.Label(x+6, y+3.5, 10, "start", "", text)
		}
	}
	w.WriteString(`</g>`)

	// Streams: worst outage band, then requests.
	for i := range s.Timeline.Streams {
		st := &s.Timeline.Streams[i]
		y := streamY + float64(i)*svgStreamH
		if o, ok := worstOutage(st); ok {
			x0, x1 := w.x(o.FromMs), w.x(o.ToMs)
			tip := fmt.Sprintf("worst outage of %s: %s ms without a good reply (t=%s to %s ms)", st.Name, fmtMs(o.ToMs-o.FromMs), fmtMs(o.FromMs), fmtMs(o.ToMs))
			if !o.Recovered {
				tip += ", not recovered by the end of the stream"
			}
			w.Rect(x0, y+1, max(x1-x0, 1.5), svgStreamH-2, colourOutage, `class="outage" fill-opacity="0.4"`, tip)
			text := "outage " + fmtSeconds(o.ToMs-o.FromMs)
			if !o.Recovered {
				text += ", no recovery"
			}
			if x1+float64(len(text))*5.5+4 <= w.x1 {
				w.Label(x1+3, y+10, 9, "start", `fill="#8a6100"`, text)
			} else {
				w.Label(x0-3, y+10, 9, "end", `fill="#8a6100"`, text)
			}
		}
		drawRequests(w, st, y+svgStreamH/2+2, pal)
	}

	// Faults: dashed lines over every lane, labelled above.
	w.WriteString(`<g class="faults">`)
	for i, e := range faults {
		x := w.x(e.AtMs)
		l := flabels[i]
		ly := 4 + l.row*svgLabelRow + 10
		fmt.Fprintf(w, `<line class="fault" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="5 4">`,
			svgdoc.Num(x), svgdoc.Num(ly+2), svgdoc.Num(x), svgdoc.Num(lanesEnd), colourFault)
		w.Title(fmt.Sprintf("t=%s ms: fault %s on %s", fmtMs(e.AtMs), e.Detail, e.Subject))
		w.WriteString("</line>")
		w.Label(l.x, ly, 11, l.anchor, `font-weight="bold" fill="#222"`, l.text)
	}
	w.WriteString(`</g>`)

	// Legend.
	w.WriteString(`<g class="legend">`)
	for _, it := range items {
		y := it.y + 9
		switch it.kind {
		case "node":
			w.Rect(it.x, y-5, 14, 10, it.colour, "", "")
		case "fail":
			w.Rect(it.x+4, y-8, 6, 16, it.colour, "", "")
		case "outage":
			w.Rect(it.x, y-7, 14, 14, it.colour, `fill-opacity="0.4"`, "")
		case "fault":
			fmt.Fprintf(w, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="3 2"/>`,
				svgdoc.Num(it.x+7), svgdoc.Num(y-8), svgdoc.Num(it.x+7), svgdoc.Num(y+8), it.colour)
		case "owner":
			fmt.Fprintf(w, `<circle cx="%s" cy="%s" r="4.5" fill="%s"/>`, svgdoc.Num(it.x+7), svgdoc.Num(y), it.colour)
		case "route":
			fmt.Fprintf(w, `<path d="M%s %sl4 4l-4 4l-4 -4z" fill="%s"/>`, svgdoc.Num(it.x+7), svgdoc.Num(y-4), it.colour)
		}
		w.Label(it.x+20, y+4, 11, "start", "", it.text)
	}
	w.WriteString(`</g></svg>`)
	return w.String()
}

// drawRequests draws the requests of st centred on y. Requests are gathered into bins svgBinWidth
// wide: a bin with a failed request is a failure, otherwise it has the colour of the node that
// served most of its requests. Adjacent bins of the same kind are drawn as one rectangle, whose
// tooltip says what it holds, so 10,000 requests are a few hundred elements at most.
func drawRequests(w *svgWriter, st *Stream, y float64, pal palette) {
	if len(st.Requests) == 0 {
		return
	}
	nbins := int(math.Ceil((w.x1 - w.x0) / svgBinWidth))
	// Node indexes: those of the palette, then one for "unknown" (an OK request without a node).
	nodeIdx := make(map[string]int, len(pal.nodes))
	for i, n := range pal.nodes {
		nodeIdx[n] = i
	}
	nn := len(pal.nodes) + 1
	unknown := nn - 1
	bin := func(q *Request) int {
		b := int((w.x(q.AtMs) - w.x0) / svgBinWidth)
		return min(max(b, 0), nbins-1)
	}
	counts := make([]int32, nbins*nn)
	fails := make([]int32, nbins)
	for i := range st.Requests {
		q := &st.Requests[i]
		b := bin(q)
		if !q.OK {
			fails[b]++
			continue
		}
		k, ok := nodeIdx[q.Node]
		if !ok {
			k = unknown
		}
		counts[b*nn+k]++
	}
	// The class of a bin: -1 empty, nn failed, else the index of its main node.
	failClass := nn
	class := make([]int, nbins)
	for b := range class {
		class[b] = -1
		if fails[b] > 0 {
			class[b] = failClass
			continue
		}
		best := int32(0)
		for k := 0; k < nn; k++ {
			if c := counts[b*nn+k]; c > best {
				best, class[b] = c, k
			}
		}
	}
	// Regular traffic is drawn as a continuous bar: empty bins between bins of the same class are
	// filled when they are no wider than twice the usual interval between requests.
	if bridge := int(2 * medianInterval(st.Requests) / w.spanMs * (w.x1 - w.x0) / svgBinWidth); bridge > 0 {
		for b := 1; b < nbins; b++ {
			if class[b] >= 0 || class[b-1] < 0 {
				continue
			}
			e := b
			for e < nbins && class[e] < 0 {
				e++
			}
			if e < nbins && e-b <= bridge && class[e] == class[b-1] {
				for k := b; k < e; k++ {
					class[k] = class[b-1]
				}
			}
			b = e
		}
	}
	// Runs of adjacent bins with the same class.
	type run struct {
		b0, b1     int
		class      int
		fromMs     float64
		toMs       float64
		n, failed  int
		byNode     []int
		firstError string
		errors     int
	}
	var runs []run
	runOf := make([]int, nbins)
	for b := 0; b < nbins; b++ {
		runOf[b] = -1
		if class[b] < 0 {
			continue
		}
		if b > 0 && class[b-1] == class[b] {
			runOf[b] = len(runs) - 1
			runs[len(runs)-1].b1 = b
			continue
		}
		runOf[b] = len(runs)
		runs = append(runs, run{b0: b, b1: b, class: class[b], fromMs: math.Inf(1), toMs: math.Inf(-1), byNode: make([]int, nn)})
	}
	for i := range st.Requests {
		q := &st.Requests[i]
		r := &runs[runOf[bin(q)]]
		r.n++
		r.fromMs, r.toMs = min(r.fromMs, q.AtMs), max(r.toMs, q.AtMs)
		if !q.OK {
			r.failed++
			if q.Err != "" {
				if r.firstError == "" {
					r.firstError = q.Err
				}
				if q.Err != r.firstError {
					r.errors++
				}
			}
			continue
		}
		k, ok := nodeIdx[q.Node]
		if !ok {
			k = unknown
		}
		r.byNode[k]++
	}
	nodeName := func(k int) string {
		if k == unknown {
			return "unknown node"
		}
		return pal.nodes[k]
	}
	w.WriteString(`<g class="requests">`)
	var tip strings.Builder
	for _, r := range runs {
		x := w.x0 + float64(r.b0)*svgBinWidth
		wd := float64(r.b1-r.b0+1) * svgBinWidth
		tip.Reset()
		tip.WriteString("t=" + fmtMs(r.fromMs))
		if r.toMs > r.fromMs {
			tip.WriteString("–" + fmtMs(r.toMs))
		}
		tip.WriteString(" ms: ")
		if r.failed > 0 {
			fmt.Fprintf(&tip, "%d failed", r.failed)
			if r.firstError != "" {
				tip.WriteString(" (" + truncate(oneLine(r.firstError), 120))
				if r.errors > 0 {
					fmt.Fprintf(&tip, ", and %d other errors", r.errors)
				}
				tip.WriteString(")")
			}
			if ok := r.n - r.failed; ok > 0 {
				fmt.Fprintf(&tip, ", %d ok", ok)
			}
		} else {
			fmt.Fprintf(&tip, "%d ok", r.n)
		}
		var parts []string
		for k, c := range r.byNode {
			if c > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", nodeName(k), c))
			}
		}
		if len(parts) == 1 && r.failed == 0 {
			tip.WriteString(", served by " + nodeName(r.class))
		} else if len(parts) > 0 {
			tip.WriteString(", served by " + strings.Join(parts, ", "))
		}
		if r.class == failClass {
			w.Rect(x, y-12, wd, 24, colourFail, `class="req fail"`, tip.String())
			continue
		}
		colour := colourNone
		if r.class != unknown {
			colour = pal.colour[pal.nodes[r.class]]
		}
		w.Rect(x, y-6, wd, 12, colour, `class="req ok"`, tip.String())
	}
	w.WriteString(`</g>`)
}

// outage is the longest time a stream went without a good reply.
type outage struct {
	// FromMs is when the last good reply before the outage arrived (its AtMs + LatencyMs), or when
	// the first request was sent if no reply was ever good.
	FromMs float64
	// ToMs is when the next good reply arrived, or the end of the last request when there was none.
	ToMs float64
	// Recovered is false when no good reply came after the outage.
	Recovered bool
}

// worstOutage is the longest gap between the arrivals of consecutive good replies of st (the
// arrival being AtMs + LatencyMs). Failed requests sent after the last good one count as an
// outage from the last good reply until the last of them ended. ok is false when st has no
// requests, or a single good one.
func worstOutage(st *Stream) (o outage, ok bool) {
	if len(st.Requests) == 0 {
		return outage{}, false
	}
	var ends []float64
	first, last := math.Inf(1), math.Inf(-1)
	for i := range st.Requests {
		q := &st.Requests[i]
		end := q.AtMs + max(q.LatencyMs, 0)
		first, last = min(first, q.AtMs), max(last, end)
		if q.OK {
			ends = append(ends, end)
		}
	}
	if len(ends) == 0 {
		return outage{FromMs: first, ToMs: last}, true
	}
	sort.Float64s(ends)
	o = outage{FromMs: ends[0], ToMs: ends[0], Recovered: true}
	for i := 1; i < len(ends); i++ {
		if ends[i]-ends[i-1] > o.ToMs-o.FromMs {
			o = outage{FromMs: ends[i-1], ToMs: ends[i], Recovered: true}
		}
	}
	// Failed requests sent after the last good one: the stream did not recover before it ended.
	lastGood, trailing := math.Inf(-1), math.Inf(-1)
	for i := range st.Requests {
		if q := &st.Requests[i]; q.OK {
			lastGood = max(lastGood, q.AtMs)
		}
	}
	for i := range st.Requests {
		if q := &st.Requests[i]; !q.OK && q.AtMs > lastGood {
			trailing = max(trailing, q.AtMs+max(q.LatencyMs, 0))
		}
	}
	if tail := ends[len(ends)-1]; trailing-tail > o.ToMs-o.FromMs {
		o = outage{FromMs: tail, ToMs: trailing}
	}
	if len(ends) == 1 && o.Recovered {
		return outage{}, false
	}
	return o, true
}

// tickStep is the interval between time-axis ticks for a span: a round number of milliseconds
// giving at most about 10 ticks.
func tickStep(spanMs float64) float64 {
	for _, s := range []float64{100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000, 1800000, 3600000} {
		if spanMs/s <= 10 {
			return s
		}
	}
	return math.Ceil(spanMs/10/3600000) * 3600000
}

// tickLabel is a tick's time in seconds ("0s", "0.5s", "12s").
func tickLabel(ms float64) string {
	return formatFloat(ms/1000, decimals(ms)) + "s"
}

// decimals is how many decimals show ms as seconds exactly (at most 3).
func decimals(ms float64) int {
	switch m := math.Round(ms); {
	case math.Mod(m, 1000) == 0:
		return 0
	case math.Mod(m, 100) == 0:
		return 1
	case math.Mod(m, 10) == 0:
		return 2
	}
	return 3
}

// medianInterval is the median time between consecutive requests (in time order), 0 for fewer
// than two requests.
func medianInterval(reqs []Request) float64 {
	if len(reqs) < 2 {
		return 0
	}
	at := make([]float64, len(reqs))
	for i := range reqs {
		at[i] = reqs[i].AtMs
	}
	sort.Float64s(at)
	for i := 0; i < len(at)-1; i++ {
		at[i] = at[i+1] - at[i]
	}
	at = at[:len(at)-1]
	sort.Float64s(at)
	return at[len(at)/2]
}
