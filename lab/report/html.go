package report

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
)

// WriteHTML writes r as one self-contained HTML page (report.html): inline CSS and SVG, no script
// and no external resource. It has a header (when, how long, how many runs passed), a summary
// table with the percentiles of every measurement per scenario and implementation (side by side,
// with the ratio of their medians, when a scenario ran against several implementations) and, per
// scenario, failed ones first, the representative run of each implementation: its timeline, steps,
// measurements and streams. The representative run is the first failed run, if any failed, else
// the run whose first measurement (in name order) is the median. Summaries are computed from the
// scenarios when r has none.
func WriteHTML(w io.Writer, r *Report) error {
	if err := pageTemplate.Execute(w, buildPage(r)); err != nil {
		return fmt.Errorf("writing report HTML: %w", err)
	}
	return nil
}

// The page's data, every string still to be escaped by html/template except SVG.
type (
	htmlPage struct {
		Started     string
		Duration    string
		Runs        int
		Passed      int
		Failed      int
		Scenarios   int
		Impls       string
		MaxImpls    int
		RatioColumn bool
		Cols        int // of the summary table
		Summary     []summaryGroup
		Labs        []htmlLab
		Sections    []htmlSection
	}
	htmlLab struct {
		ID, Topology string
		SVG          template.HTML
	}
	summaryGroup struct {
		ID, Name    string
		Description string
		Failed      bool
		Impls       []summaryImpl
		Pad         []struct{} // empty column groups, when this scenario ran against fewer implementations
		Rows        []summaryRow
		Ratio       bool
	}
	summaryImpl struct {
		Name         string
		Runs, Passed int
		Failed       bool
	}
	summaryRow struct {
		Name, Unit string
		Cells      []htmlCell
		Ratio      []string
	}
	htmlCell struct {
		Text, Class string
	}
	htmlSection struct {
		ID, Name    string
		Description string
		File        string
		Topology    string
		LabID       string
		Failed      bool
		Impls       []htmlImpl
	}
	htmlImpl struct {
		Impl         string
		Runs, Passed int
		Run          int
		Chosen       string
		Failed       bool
		Error        string
		Duration     string
		OtherFailed  []string
		SVG          template.HTML
		Steps        []htmlStep
		Measurements []htmlMeasurement
		Streams      []htmlStream
		Events       []htmlEvent
		MoreEvents   int
	}
	htmlStep struct {
		N                    int
		Name, Kind, Status   string
		Class                string
		StartMs, EndMs       string
		Detail, Error        string
		DurationMs           string
		Passed, Skipped, Ran bool
	}
	htmlMeasurement struct {
		Name, Value string
		ByNode      []htmlNodeCount
	}
	htmlNodeCount struct {
		Node   string
		Count  int
		Colour template.CSS
	}
	htmlStream struct {
		Name, Path, Protocol string
		Requests, Failed     int
		Outage               string
		Nodes                []htmlNodeCount
	}
	htmlEvent struct {
		At, Kind, Subject, Detail string
	}
)

// htmlMaxEvents caps the event list of a run.
const htmlMaxEvents = 300

func buildPage(r *Report) *htmlPage {
	p := &htmlPage{
		Started:  "unknown",
		Duration: fmtDuration(r.DurationMs),
		Runs:     len(r.Scenarios),
	}
	if !r.Started.IsZero() {
		p.Started = r.Started.Format("2006-01-02 15:04:05 MST")
	}
	if r.DurationMs <= 0 {
		total := 0.0
		for i := range r.Scenarios {
			total += r.Scenarios[i].DurationMs
		}
		p.Duration = fmtDuration(total) + " (scenarios only)"
	}
	for i := range r.Scenarios {
		if r.Scenarios[i].Passed {
			p.Passed++
		}
	}
	p.Failed = p.Runs - p.Passed

	// Runs by scenario name, then by implementation, in first-seen order.
	type group struct {
		name  string
		impls []string
		runs  map[string][]*Scenario
	}
	var groups []*group
	byName := map[string]*group{}
	var implNames []string
	implSeen := map[string]bool{}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		g := byName[s.Name]
		if g == nil {
			g = &group{name: s.Name, runs: map[string][]*Scenario{}}
			byName[s.Name] = g
			groups = append(groups, g)
		}
		if _, ok := g.runs[s.Implementation]; !ok {
			g.impls = append(g.impls, s.Implementation)
		}
		g.runs[s.Implementation] = append(g.runs[s.Implementation], s)
		if !implSeen[s.Implementation] {
			implSeen[s.Implementation] = true
			implNames = append(implNames, s.Implementation)
		}
	}
	p.Scenarios = len(groups)
	p.Impls = strings.Join(implNames, ", ")

	summaries := r.Summaries
	if len(summaries) == 0 {
		summaries = Summarize(r.Scenarios)
	}
	type key struct{ name, impl string }
	sums := map[key]*Summary{}
	for i := range summaries {
		sm := &summaries[i]
		sums[key{sm.Scenario, sm.Implementation}] = sm
	}
	// Summaries of scenarios not in r.Scenarios (unlikely) still get a row.
	for i := range summaries {
		sm := &summaries[i]
		g := byName[sm.Scenario]
		if g == nil {
			g = &group{name: sm.Scenario, runs: map[string][]*Scenario{}}
			byName[sm.Scenario] = g
			groups = append(groups, g)
		}
		if _, ok := g.runs[sm.Implementation]; !ok {
			g.impls = append(g.impls, sm.Implementation)
			g.runs[sm.Implementation] = nil
		}
	}
	for _, g := range groups {
		p.MaxImpls = max(p.MaxImpls, len(g.impls))
	}
	p.RatioColumn = p.MaxImpls > 1
	p.Cols = 1 + 4*p.MaxImpls
	if p.RatioColumn {
		p.Cols++
	}

	// Sections: scenarios with a failed run first.
	order := make([]int, len(groups))
	for i := range order {
		order[i] = i
	}
	failed := func(g *group) bool {
		for _, runs := range g.runs {
			for _, s := range runs {
				if !s.Passed {
					return true
				}
			}
		}
		for _, impl := range g.impls {
			if sm := sums[key{g.name, impl}]; sm != nil && sm.Passed < sm.Runs {
				return true
			}
		}
		return false
	}
	sort.SliceStable(order, func(a, b int) bool { return failed(groups[order[a]]) && !failed(groups[order[b]]) })

	for gi, g := range groups {
		id := "s" + strconv.Itoa(gi+1)
		sg := summaryGroup{ID: id, Name: g.name, Failed: failed(g), Pad: make([]struct{}, p.MaxImpls-len(g.impls))}
		if runs := g.runs[g.impls[0]]; len(runs) > 0 {
			sg.Description = runs[0].Description
		}
		// Which measurements are counts rather than milliseconds.
		counts := map[string]bool{}
		for _, runs := range g.runs {
			for _, s := range runs {
				for name, m := range s.Measurements {
					if m.ValueMs == nil && m.Count != nil {
						counts[name] = true
					}
				}
			}
		}
		names := map[string]bool{}
		for _, impl := range g.impls {
			sm := sums[key{g.name, impl}]
			si := summaryImpl{Name: impl}
			if sm != nil {
				si.Runs, si.Passed = sm.Runs, sm.Passed
				for name := range sm.Measurements {
					names[name] = true
				}
			}
			si.Failed = si.Passed < si.Runs
			sg.Impls = append(sg.Impls, si)
		}
		base := 0 // the implementation others are compared with: ironlb when present
		for i, impl := range g.impls {
			if impl == "ironlb" {
				base = i
			}
		}
		sg.Ratio = len(g.impls) > 1
		for _, name := range measurementNames(names) {
			row := summaryRow{Name: name, Unit: "ms"}
			if counts[name] {
				row.Unit = "count"
			}
			stats := make([]*Stats, len(g.impls))
			for i, impl := range g.impls {
				if sm := sums[key{g.name, impl}]; sm != nil {
					if st, ok := sm.Measurements[name]; ok {
						stats[i] = &st
					}
				}
				st := stats[i]
				if st == nil {
					row.Cells = append(row.Cells, htmlCell{"–", "num none"}, htmlCell{"", "num"}, htmlCell{"", "num"}, htmlCell{"", "num"})
					continue
				}
				row.Cells = append(row.Cells,
					htmlCell{fmtNumber(st.P50), "num p50"},
					htmlCell{fmtNumber(st.P90), "num"},
					htmlCell{fmtNumber(st.P99), "num"},
					htmlCell{fmtNumber(st.Max), "num"})
			}
			for range sg.Pad {
				for range 4 {
					row.Cells = append(row.Cells, htmlCell{"", "pad"})
				}
			}
			if sg.Ratio && stats[base] != nil {
				for i, st := range stats {
					if i == base || st == nil {
						continue
					}
					row.Ratio = append(row.Ratio, fmt.Sprintf("%s/%s p50: %s", g.impls[i], g.impls[base], ratio(st.P50, stats[base].P50)))
				}
			}
			sg.Rows = append(sg.Rows, row)
		}
		p.Summary = append(p.Summary, sg)
	}

	labIDs := map[string]string{}
	for i, l := range r.Labs {
		id := "lab" + strconv.Itoa(i+1)
		labIDs[l.Topology] = id
		p.Labs = append(p.Labs, htmlLab{ID: id, Topology: l.Topology, SVG: template.HTML(l.SVG)})
	}
	for _, gi := range order {
		g := groups[gi]
		sec := htmlSection{ID: "s" + strconv.Itoa(gi+1), Name: g.name, Failed: failed(g)}
		var reps []*Scenario
		var why []string
		for _, impl := range g.impls {
			rep, reason := representative(g.runs[impl])
			reps = append(reps, rep)
			why = append(why, reason)
		}
		var present []*Scenario
		span := 0.0
		for _, rep := range reps {
			if rep != nil {
				present = append(present, rep)
				span = max(span, scenarioSpan(rep))
			}
		}
		pal := newPalette(present...)
		width := svgWidth
		if len(g.impls) > 1 {
			width = svgNarrowWidth
		}
		for i, impl := range g.impls {
			rep := reps[i]
			runs := g.runs[impl]
			hi := htmlImpl{Impl: impl, Runs: len(runs), Chosen: why[i]}
			for _, s := range runs {
				if s.Passed {
					hi.Passed++
				} else if s != rep && len(hi.OtherFailed) < 10 {
					hi.OtherFailed = append(hi.OtherFailed, fmt.Sprintf("run %d: %s", s.Run, firstLine(s.Error)))
				}
			}
			if rep == nil {
				sec.Impls = append(sec.Impls, hi)
				continue
			}
			if sec.Description == "" {
				sec.Description, sec.File = rep.Description, rep.File
				sec.Topology, sec.LabID = rep.Topology, labIDs[rep.Topology]
			}
			hi.Run, hi.Failed, hi.Error = rep.Run, !rep.Passed, rep.Error
			hi.Duration = fmtDuration(rep.DurationMs)
			hi.SVG = template.HTML(timelineSVG(rep, span, pal, width))
			hi.Steps = htmlSteps(rep)
			hi.Measurements = htmlMeasurements(rep, pal)
			hi.Streams = htmlStreams(rep, pal)
			for _, e := range rep.Timeline.Events {
				if e.Kind == EventStep {
					continue
				}
				if len(hi.Events) == htmlMaxEvents {
					hi.MoreEvents++
					continue
				}
				hi.Events = append(hi.Events, htmlEvent{At: fmtMs(e.AtMs), Kind: e.Kind, Subject: e.Subject, Detail: e.Detail})
			}
			sec.Impls = append(sec.Impls, hi)
		}
		if sec.Description == "" && len(p.Summary) > gi {
			sec.Description = p.Summary[gi].Description
		}
		p.Sections = append(p.Sections, sec)
	}
	return p
}

// ratio formats a/b as "28.5x".
func ratio(a, b float64) string {
	switch {
	case b == 0 && a == 0:
		return "1x"
	case b == 0:
		return "∞"
	}
	q := a / b
	if q >= 100 {
		return formatFloat(q, 0) + "x"
	}
	if q >= 0.1 {
		return formatFloat(q, 1) + "x"
	}
	return formatFloat(q, 3) + "x"
}

// firstLine is the first line of s.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// representative picks the run to show among the runs of one scenario against one
// implementation: the first that failed, else the one whose first measurement, in name order, is
// the median (nearest rank), else the first. why says which and why, for people.
func representative(runs []*Scenario) (rep *Scenario, why string) {
	if len(runs) == 0 {
		return nil, "no runs"
	}
	of := func(s *Scenario) string {
		if len(runs) == 1 {
			return "the only run"
		}
		return fmt.Sprintf("run %d of %d", s.Run, len(runs))
	}
	for _, s := range runs {
		if !s.Passed {
			if len(runs) == 1 {
				return s, "the only run, which failed"
			}
			return s, of(s) + ", the first that failed"
		}
	}
	if len(runs) == 1 {
		return runs[0], of(runs[0])
	}
	names := map[string]bool{}
	for _, s := range runs {
		for name, m := range s.Measurements {
			if _, ok := measurementValue(m); ok {
				names[name] = true
			}
		}
	}
	if len(names) == 0 {
		return runs[0], of(runs[0]) + " (no measurements to pick a median by)"
	}
	name := measurementNames(names)[0]
	type valued struct {
		s *Scenario
		v float64
	}
	var vs []valued
	for _, s := range runs {
		if v, ok := measurementValue(s.Measurements[name]); ok {
			vs = append(vs, valued{s, v})
		}
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].v < vs[j].v })
	m := vs[(len(vs)+1)/2-1]
	return m.s, fmt.Sprintf("%s, the median by %s (%s)", of(m.s), name, fmtMeasurementValue(m.s.Measurements[name]))
}

// fmtMeasurementValue is a measurement's value alone: "1234 ms" or "42".
func fmtMeasurementValue(m Measurement) string {
	if m.ValueMs == nil && m.Count != nil {
		return strconv.Itoa(*m.Count)
	}
	return fmtMeasurement(m)
}

func htmlSteps(s *Scenario) []htmlStep {
	var out []htmlStep
	for i := range s.Steps {
		st := &s.Steps[i]
		h := htmlStep{
			N: i + 1, Name: stepName(st, i), Kind: st.Kind,
			StartMs: fmtMs(st.StartMs), EndMs: fmtMs(st.EndMs),
			Detail: st.Detail, Error: st.Error,
			Passed: st.Passed && !st.Skipped, Skipped: st.Skipped,
		}
		switch {
		case st.Skipped:
			h.Status, h.Class, h.StartMs, h.EndMs = "skipped", "skip", "", ""
		case st.Passed:
			h.Status, h.Class = "✓ passed", "pass"
		default:
			h.Status, h.Class = "✗ failed", "fail"
		}
		out = append(out, h)
	}
	return out
}

func htmlMeasurements(s *Scenario, pal palette) []htmlMeasurement {
	var out []htmlMeasurement
	for _, name := range measurementNames(s.Measurements) {
		m := s.Measurements[name]
		h := htmlMeasurement{Name: name, Value: fmtMeasurementValue(m)}
		for _, node := range measurementNames(m.ByNode) {
			h.ByNode = append(h.ByNode, htmlNodeCount{Node: node, Count: m.ByNode[node], Colour: template.CSS(pal.of(node))})
		}
		out = append(out, h)
	}
	return out
}

func htmlStreams(s *Scenario, pal palette) []htmlStream {
	var out []htmlStream
	for i := range s.Timeline.Streams {
		st := &s.Timeline.Streams[i]
		h := htmlStream{Name: st.Name, Path: st.From + " → " + st.Target, Protocol: st.Protocol, Requests: len(st.Requests)}
		nodes := map[string]int{}
		for j := range st.Requests {
			q := &st.Requests[j]
			if !q.OK {
				h.Failed++
			} else {
				nodes[q.Node]++
			}
		}
		for _, node := range measurementNames(nodes) {
			name := node
			if name == "" {
				name = "unknown"
			}
			h.Nodes = append(h.Nodes, htmlNodeCount{Node: name, Count: nodes[node], Colour: template.CSS(pal.of(node))})
		}
		if o, ok := worstOutage(st); ok {
			h.Outage = fmt.Sprintf("%s ms (t=%s–%s ms)", fmtMs(o.ToMs-o.FromMs), fmtMs(o.FromMs), fmtMs(o.ToMs))
			if !o.Recovered {
				h.Outage += ", not recovered"
			}
		}
		out = append(out, h)
	}
	return out
}

// pageTemplate is the page. It is written so that it is also well-formed XML (every element
// closed, void elements self-closed, no named entities), which the tests check.
var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"mod4": func(i int) int { return i % 4 },
	"add":  func(a, b int) int { return a + b },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>ironlab report {{.Started}}</title>
<style>
:root { --fail: #d62728; --pass: #2e7d32; --muted: #6b7280; --line: #e5e7eb; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937; margin: 0; background: #f7f8fa; }
main { max-width: 1400px; margin: 0 auto; padding: 20px 24px 60px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 0 0 6px; }
h3 { font-size: 16px; margin: 0 0 4px; }
h4 { font-size: 14px; margin: 14px 0 4px; }
a { color: #1d4ed8; }
header.top { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin-bottom: 16px; display: flex; flex-wrap: wrap; gap: 12px 32px; align-items: center; }
.facts { display: flex; gap: 24px; flex-wrap: wrap; color: var(--muted); }
.facts b { color: #111827; }
.badge { display: inline-block; border-radius: 999px; padding: 1px 10px; font-weight: 600; font-size: 13px; }
.badge.pass { background: #e6f4ea; color: var(--pass); }
.badge.fail { background: #fde8e8; color: var(--fail); }
.big { font-size: 18px; padding: 4px 14px; }
.intro { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 20px; margin-bottom: 16px; color: #374151; }
.intro summary { cursor: pointer; font-weight: 600; }
.intro li { margin: 3px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin-bottom: 18px; }
.card.failed { border-left: 5px solid var(--fail); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; background: #f9fafb; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.p50 { font-weight: 600; }
td.none { color: var(--muted); }
table.summary tbody { border-top: 2px solid #cbd5e1; }
table.summary tr.scenario th { background: #eef2f7; font-size: 15px; }
table.summary tr.implrow th { background: #fff; border-bottom: none; }
table.summary th.group, table.summary td.group { border-left: 2px solid #cbd5e1; }
td.ratio { color: #7c2d12; font-weight: 600; white-space: nowrap; }
.desc { color: var(--muted); font-weight: normal; }
.impls { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 16px; margin-top: 10px; }
.impl { min-width: 0; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; background: #fff; }
.impl.failed { border-color: #f5b5b5; background: #fffafa; }
.chosen { color: var(--muted); font-size: 13px; margin: 0 0 6px; }
.error { color: var(--fail); font-weight: 600; white-space: pre-wrap; overflow-wrap: anywhere; margin: 6px 0; }
figure { margin: 8px 0; }
svg.timeline { width: 100%; height: auto; display: block; background: #fff; }
svg.topology { max-width: 100%; height: auto; display: block; }
details.lab summary { cursor: pointer; }
table.steps td { font-size: 13px; }
table.steps tr.fail td { background: #fde2e2; }
table.steps tr.skip td { color: #9ca3af; }
table.steps td.result { white-space: nowrap; }
tr.fail td.result { color: var(--fail); font-weight: 700; }
tr.pass td.result { color: var(--pass); }
td.detail { overflow-wrap: anywhere; }
td.detail .err { color: var(--fail); }
.nc { white-space: nowrap; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 3px 0 6px; vertical-align: baseline; }
details.events { margin-top: 10px; }
details.events summary { cursor: pointer; color: var(--muted); }
.small { font-size: 12px; }
ul.others { margin: 4px 0; color: var(--fail); font-size: 13px; }
</style>
</head>
<body>
<main>
<header class="top">
<div>
<h1>ironlab scenario report</h1>
<div class="facts">
<span>started <b>{{.Started}}</b></span>
<span>took <b>{{.Duration}}</b></span>
<span><b>{{.Scenarios}}</b> scenarios, <b>{{.Runs}}</b> runs{{if .Impls}} against <b>{{.Impls}}</b>{{end}}</span>
</div>
</div>
<div>
<span class="badge pass big">{{.Passed}} passed</span>
{{if .Failed}}<span class="badge fail big">{{.Failed}} failed</span>{{end}}
</div>
</header>

<details class="intro">
<summary>How to read this report</summary>
<ul>
<li>A <b>scenario</b> sets up a Service of type LoadBalancer, sends traffic to its address and then breaks something (a node, a link, the speaker) to see how fast the load balancer moves the address to a healthy node (<b>failover</b>). A scenario may run several times and against several implementations.</li>
<li>In layer-2 mode one node at a time answers ARP (IPv4) or NDP (IPv6) queries for the address: it <b>owns</b> it. When that node fails, another must take the address over and announce it (gratuitous ARP, unsolicited neighbour advertisement) so that clients and routers send traffic to it.</li>
<li>The <b>summary</b> gives, per measurement, the median (p50), p90, p99 and worst value over all runs. When two implementations ran the same scenario their numbers sit side by side, with the ratio of their medians.</li>
<li>Each <b>timeline</b> shows one run: time in seconds along the bottom; one lane per traffic stream where each request is a mark coloured by the node that served it and failed requests are red and taller; dashed lines are the faults; the ARP/NDP lane shows when the owner of the address changed; the yellow band is the stream's longest time without a good reply. Hover over marks for details.</li>
</ul>
</details>

<section class="card">
<h2>Summary</h2>
<table class="summary">
{{- range .Summary}}
<tbody>
<tr class="scenario"><th colspan="{{$.Cols}}"><a href="#{{.ID}}">{{.Name}}</a> {{if .Failed}}<span class="badge fail">failed</span>{{else}}<span class="badge pass">passed</span>{{end}}{{if .Description}} <span class="desc">{{.Description}}</span>{{end}}</th></tr>
<tr class="implrow"><th></th>{{range .Impls}}<th colspan="4" class="group">{{.Name}} <span class="badge {{if .Failed}}fail{{else}}pass{{end}}">{{.Passed}}/{{.Runs}} passed</span></th>{{end}}{{range .Pad}}<th colspan="4" class="group"></th>{{end}}{{if $.RatioColumn}}<th>{{if .Ratio}}comparison{{end}}</th>{{end}}</tr>
{{- if .Rows}}
<tr><th>measurement</th>{{range .Impls}}<th class="num group">p50</th><th class="num">p90</th><th class="num">p99</th><th class="num">max</th>{{end}}{{range .Pad}}<th class="group"></th><th></th><th></th><th></th>{{end}}{{if $.RatioColumn}}<th></th>{{end}}</tr>
{{- range .Rows}}
<tr><td>{{.Name}} <span class="desc">({{.Unit}})</span></td>{{range $i, $c := .Cells}}<td class="{{$c.Class}}{{if eq (mod4 $i) 0}} group{{end}}">{{$c.Text}}</td>{{end}}{{if $.RatioColumn}}<td class="ratio">{{range $i, $r := .Ratio}}{{if $i}}<br/>{{end}}{{$r}}{{end}}</td>{{end}}</tr>
{{- end}}
{{- else}}
<tr><td colspan="{{$.Cols}}" class="desc">no measurements</td></tr>
{{- end}}
</tbody>
{{- end}}
</table>
</section>

{{if .Labs}}
<section class="card" id="labs">
<h2>Labs</h2>
{{- range .Labs}}
<details class="lab" id="{{.ID}}" open><summary>{{.Topology}}</summary><figure>{{.SVG}}</figure></details>
{{- end}}
</section>
{{end}}

{{range .Sections}}
<section class="card{{if .Failed}} failed{{end}}" id="{{.ID}}">
<h2>{{.Name}} {{if .Failed}}<span class="badge fail">failed</span>{{else}}<span class="badge pass">passed</span>{{end}}</h2>
{{if .Description}}<p class="desc">{{.Description}}</p>{{end}}
{{if .File}}<p class="desc small">{{.File}}{{if .LabID}} · lab <a href="#{{.LabID}}">{{.Topology}}</a>{{end}}</p>{{end}}
<div class="impls">
{{- range .Impls}}
<div class="impl{{if .Failed}} failed{{end}}">
<h3>{{.Impl}} <span class="badge {{if .Failed}}fail{{else}}pass{{end}}">{{if .Failed}}failed{{else}}passed{{end}}</span> <span class="desc small">{{.Passed}}/{{.Runs}} runs passed</span></h3>
<p class="chosen">Shown: {{.Chosen}}{{if .Duration}}, took {{.Duration}}{{end}}.</p>
{{if .Error}}<p class="error">{{.Error}}</p>{{end}}
{{if .OtherFailed}}<ul class="others">{{range .OtherFailed}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .SVG}}<figure>{{.SVG}}</figure>{{end}}
{{if .Streams}}
<h4>Traffic</h4>
<table class="streams"><thead><tr><th>stream</th><th>from → to</th><th class="num">requests</th><th class="num">failed</th><th>worst outage</th><th>served by</th></tr></thead><tbody>
{{- range .Streams}}
<tr><td>{{.Name}}</td><td>{{.Path}} <span class="desc">{{.Protocol}}</span></td><td class="num">{{.Requests}}</td><td class="num">{{.Failed}}</td><td>{{.Outage}}</td><td>{{range .Nodes}}<span class="nc"><span class="swatch" style="background: {{.Colour}}"></span>{{.Node}} {{.Count}}</span> {{end}}</td></tr>
{{- end}}
</tbody></table>
{{end}}
{{if .Measurements}}
<h4>Measurements</h4>
<table class="measurements"><tbody>
{{- range .Measurements}}
<tr><td>{{.Name}}</td><td class="num">{{.Value}}</td><td>{{range .ByNode}}<span class="nc"><span class="swatch" style="background: {{.Colour}}"></span>{{.Node}} {{.Count}}</span> {{end}}</td></tr>
{{- end}}
</tbody></table>
{{end}}
{{if .Steps}}
<h4>Steps</h4>
<table class="steps"><thead><tr><th class="num">#</th><th>step</th><th>kind</th><th class="num">start ms</th><th class="num">end ms</th><th>result</th><th>detail</th></tr></thead><tbody>
{{- range .Steps}}
<tr class="{{.Class}}"><td class="num">{{.N}}</td><td>{{.Name}}</td><td>{{.Kind}}</td><td class="num">{{.StartMs}}</td><td class="num">{{.EndMs}}</td><td class="result">{{.Status}}</td><td class="detail">{{if .Error}}<span class="err">{{.Error}}</span>{{if .Detail}}<br/>{{end}}{{end}}{{.Detail}}</td></tr>
{{- end}}
</tbody></table>
{{end}}
{{if .Events}}
<details class="events"><summary>Events ({{len .Events}}{{if .MoreEvents}} of {{add (len .Events) .MoreEvents}}{{end}}): faults, ARP/NDP owner, route and address changes</summary>
<table class="small"><thead><tr><th class="num">t ms</th><th>kind</th><th>subject</th><th>detail</th></tr></thead><tbody>
{{- range .Events}}
<tr><td class="num">{{.At}}</td><td>{{.Kind}}</td><td>{{.Subject}}</td><td>{{.Detail}}</td></tr>
{{- end}}
</tbody></table>
</details>
{{end}}
</div>
{{- end}}
</div>
</section>
{{end}}
</main>
</body>
</html>
`))
