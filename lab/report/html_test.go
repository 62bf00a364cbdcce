package report

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/lab/internal/svgdoc"
)

// section returns the part of page from the element with id to the end of its <section>.
func section(t *testing.T, page, id string) string {
	t.Helper()
	i := strings.Index(page, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no section %s", id)
	}
	j := strings.Index(page[i:], "</section>")
	return page[i : i+j]
}

func TestWriteHTML(t *testing.T) {
	hostile := failover{name: "<script>alert(1)</script>", impl: `metal"lb`, requests: 200, faultMs: 1000, gapMs: 300}.scenario()
	hostile.Description = `<img src=x onerror="alert(2)">`
	hostile.Error = "<iframe> & </p>"
	hostile.Steps[4].Detail = "</td></tr></table><style>"
	hostile.Timeline.Streams[0].Requests[0].Node = "<b>worker</b>"
	hostile.Measurements["<m>"] = Measurement{Count: iptr(3), ByNode: map[string]int{`"};x:url(a)`: 3}}

	tests := []struct {
		name     string
		report   *Report
		contains []string
		order    []string // these appear in this order
		check    func(t *testing.T, page string)
	}{
		{
			name:   "two implementations side by side",
			report: sampleReport(),
			contains: []string{
				"<h1>ironlab scenario report</h1>", "2025-11-26 10:44:00 UTC", "1m35s",
				"4 passed", "1 failed", "<b>2</b> scenarios, <b>5</b> runs", "against <b>ironlb, metallb</b>",
				"metallb/ironlb p50: 28.5x",
				"run 1 of 3, the median by failoverMs (100 ms)",
				"the only run, which failed", "traffic on t1 did not recover within 1s",
				`<tr class="fail">`, "✗ failed", "skipped",
				"node-down worker1",
			},
			// The failed scenario's section comes first; the summary keeps the order of the runs.
			order: []string{`href="#s1">l2-node-failure`, `href="#s2">l2-speaker-restart`, `id="s2"`, `id="s1"`},
			check: func(t *testing.T, page string) {
				s := section(t, page, "s1")
				i, m := strings.Index(s, "<h3>ironlb "), strings.Index(s, "<h3>metallb ")
				if i < 0 || m < 0 || i > m || !strings.Contains(s, `<div class="impls">`) {
					t.Errorf("ironlb and metallb are not side by side in one section")
				}
				if n := strings.Count(s, "<svg "); n != 2 {
					t.Errorf("%d timelines in the section, want 2", n)
				}
				// Both timelines have the same scale: the same axis labels.
				labels := regexp.MustCompile(`<g class="axis-labels".*?</g>`).FindAllString(s, -1)
				if len(labels) != 2 || labels[0] != labels[1] {
					t.Errorf("the two timelines' axes differ: %q", labels)
				}
			},
		},
		{
			name: "given summaries are used",
			report: func() *Report {
				r := sampleReport()
				r.Summaries = []Summary{{Scenario: "l2-node-failure", Implementation: "ironlb", Runs: 7, Passed: 6}}
				return r
			}(),
			contains: []string{"6/7 passed", "no measurements"},
		},
		{
			name:   "hostile text",
			report: &Report{Scenarios: []Scenario{hostile}},
			contains: []string{
				"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;",
				"&lt;iframe&gt; &amp; &lt;/p&gt;", "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;style&gt;", "&lt;b&gt;worker&lt;/b&gt;",
			},
			check: func(t *testing.T, page string) {
				for _, bad := range []string{"<script", "<img", "<iframe", "<b>worker", "<m>"} {
					if strings.Contains(page, bad) {
						t.Errorf("page contains %q", bad)
					}
				}
			},
		},
		{name: "empty report", report: &Report{}, contains: []string{"0 passed", "unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteHTML(&buf, tt.report); err != nil {
				t.Fatal(err)
			}
			page := buf.String()
			if !strings.HasPrefix(page, "<!DOCTYPE html>\n<html lang=\"en\">") {
				t.Errorf("not an HTML5 document: %.40q", page)
			}
			// The page is written as polyglot markup: it must also be well-formed XML.
			mustParseXML(t, page)
			for _, s := range tt.report.Scenarios {
				if !strings.Contains(page, svgdoc.Esc(s.Name)) {
					t.Errorf("page lacks the scenario %q", s.Name)
				}
			}
			// Self-contained and static: no script, no external resource.
			lower := strings.ToLower(page)
			for _, bad := range []string{"<script", "<link", "<iframe", "<img", "<object", "<embed", "@import", "javascript:"} {
				if strings.Contains(lower, bad) {
					t.Errorf("page contains %q", bad)
				}
			}
			if m := regexp.MustCompile(`<[a-z]+[^>]*\s(src|href)="[^#]|style="[^"]*url\(|://`).FindAllString(strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, ""), -1); len(m) > 0 {
				t.Errorf("page references other resources: %q", m)
			}
			for _, want := range tt.contains {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			last := -1
			for _, want := range tt.order {
				i := strings.Index(page, want)
				if i < 0 || i < last {
					t.Errorf("%q is missing or out of order", want)
				}
				last = i
			}
			if tt.check != nil {
				tt.check(t, page)
			}
		})
	}
}

func TestRepresentative(t *testing.T) {
	run := func(n int, passed bool, m map[string]float64) *Scenario {
		s := &Scenario{Run: n, Passed: passed, Measurements: map[string]Measurement{}}
		for k, v := range m {
			s.Measurements[k] = Measurement{ValueMs: fptr(v)}
		}
		return s
	}
	tests := []struct {
		name string
		runs []*Scenario
		want int // Run of the representative, 0 for none
		why  string
	}{
		{"none", nil, 0, "no runs"},
		{"one", []*Scenario{run(1, true, nil)}, 1, "the only run"},
		{"median of the first measurement by name", []*Scenario{
			run(1, true, map[string]float64{"b": 1, "a": 300}),
			run(2, true, map[string]float64{"b": 2, "a": 100}),
			run(3, true, map[string]float64{"b": 3, "a": 200}),
			run(4, true, map[string]float64{"b": 4}),
		}, 3, "run 3 of 4, the median by a (200 ms)"},
		{"lower median of an even number", []*Scenario{
			run(1, true, map[string]float64{"a": 4}), run(2, true, map[string]float64{"a": 1}),
			run(3, true, map[string]float64{"a": 3}), run(4, true, map[string]float64{"a": 2}),
		}, 4, "run 4 of 4, the median by a (2 ms)"},
		{"first failure", []*Scenario{run(1, true, nil), run(2, false, nil), run(3, false, nil)}, 2, "run 2 of 3, the first that failed"},
		{"no measurements", []*Scenario{run(1, true, nil), run(2, true, nil)}, 1, "run 1 of 2 (no measurements to pick a median by)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := representative(tt.runs)
			n := 0
			if got != nil {
				n = got.Run
			}
			if n != tt.want || why != tt.why {
				t.Errorf("representative = run %d (%q), want run %d (%q)", n, why, tt.want, tt.why)
			}
		})
	}
}

// benchmarkReport is the same scenario against ironlb and metallb, 6,000 requests each.
func benchmarkReport() *Report {
	return &Report{
		Started:    time.Date(2025, 11, 26, 10, 44, 0, 0, time.UTC),
		DurationMs: 140_000,
		Scenarios: []Scenario{
			failover{name: "l2-node-failure", impl: "ironlb", requests: 6000, faultMs: 30_000, gapMs: 150, passed: true}.scenario(),
			failover{name: "l2-node-failure", impl: "metallb", requests: 6000, faultMs: 30_000, gapMs: 4200, passed: true}.scenario(),
		},
	}
}

func BenchmarkWriteHTML(b *testing.B) {
	r := benchmarkReport()
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := WriteHTML(&buf, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/page")
}

// TestHTMLRendersInChromium renders a realistic report in headless Chromium and checks that a
// picture comes out. Set IRONLAB_REPORT_SAMPLE to a directory to keep the page and the screenshot.
func TestHTMLRendersInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser: not in -short mode")
	}
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	dir := t.TempDir()
	if keep := os.Getenv("IRONLAB_REPORT_SAMPLE"); keep != "" {
		dir = keep
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := sampleReport()
	// The failed scenario's timeline comes first: give it a third node and a second stream too.
	s := &r.Scenarios[4]
	s.Timeline.Streams = append(s.Timeline.Streams, s.Timeline.Streams[0])
	s.Timeline.Streams[1].Name, s.Timeline.Streams[1].From = "t2-udp", "client6"
	s.Timeline.Streams[1].Protocol = "udp"
	r.Summaries = Summarize(r.Scenarios)
	page := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, write := range map[string]func(*bytes.Buffer, *Report) error{
		"report.json": func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) },
		"junit.xml":   func(b *bytes.Buffer, r *Report) error { return WriteJUnit(b, r) },
	} {
		var b bytes.Buffer
		if err := write(&b, r); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	run := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		profile := t.TempDir()
		args = append([]string{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
			"--user-data-dir=" + profile}, args...)
		cmd := exec.CommandContext(ctx, browser, append(args, "file://"+page)...)
		cmd.Env = append(os.Environ(), "HOME="+profile)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("chromium %v: timed out after 60s; stderr:\n%s", args, stderr.String())
		}
		if err != nil {
			// Chromium often complains on stderr (dbus and the like); only the outcome counts, checked
			// by the caller, but say why it failed.
			t.Logf("chromium %v: %v; stderr:\n%s", args, err, stderr.String())
		}
		return stdout.Bytes()
	}

	shot := filepath.Join(dir, "shot.png")
	run("--screenshot="+shot, "--window-size=1400,2000", "--hide-scrollbars")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1400 {
		t.Errorf("screenshot is %dx%d, want 1400 wide", b.Dx(), b.Dy())
	}
	if n := countColours(img, 1000); n <= 10 {
		t.Errorf("screenshot has %d colours: is the page blank?", n)
	} else {
		t.Logf("screenshot %s: %v, %d+ colours", shot, img.Bounds().Size(), n)
	}

	dom := string(run("--dump-dom", "--virtual-time-budget=2000"))
	if !strings.Contains(dom, "<svg") {
		t.Errorf("the rendered DOM has no <svg> element (%d bytes)", len(dom))
	}
	if !strings.Contains(dom, "l2-node-failure") || !strings.Contains(dom, "l2-speaker-restart") {
		t.Error("the rendered DOM lacks the scenario names")
	}
	if n := strings.Count(dom, `class="timeline"`); n != 3 {
		t.Errorf("the rendered DOM has %d timelines, want 3", n)
	}
}

// countColours counts the distinct colours of img, stopping at limit.
func countColours(img image.Image, limit int) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}
