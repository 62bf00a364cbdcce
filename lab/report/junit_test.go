package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"reflect"
	"strings"
	"testing"
)

func TestWriteJSONRoundTrip(t *testing.T) {
	r := sampleReport()
	r.Summaries = Summarize(r.Scenarios)
	var a, b bytes.Buffer
	if err := WriteJSON(&a, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two writes of the same report differ")
	}
	if !strings.HasPrefix(a.String(), "{\n  \"started\": \"2025-11-26T10:44:00Z\",\n") {
		t.Errorf("not indented as expected: %.80q", a.String())
	}
	var back Report
	if err := json.Unmarshal(a.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, r) {
		t.Error("the report read back differs from the one written")
	}
}

// junitDoc is what a CI system reads of junit.xml.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Time     string `xml:"time,attr"`
		Cases    []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestWriteJUnit(t *testing.T) {
	hostile := failover{name: `<script>"x" & y</script>`, impl: "ironlb", run: 2, requests: 300, faultMs: 1500, gapMs: 800}.scenario()
	hostile.Timeline.Streams[0].Requests[120].Err = "bad \x00 byte <&>"
	tests := []struct {
		name      string
		report    *Report
		tests     int
		failures  int
		suites    []string
		cases     []string // suite/case name
		failText  []string // in the first failure's text
		failMsg   string
		maxLength int // lines of the first failure's text
	}{
		{
			name:     "sample",
			report:   sampleReport(),
			tests:    5,
			failures: 1,
			suites:   []string{"ironlab/ironlb", "ironlab/metallb"},
			cases: []string{
				"ironlab/ironlb/l2-node-failure #1", "ironlab/ironlb/l2-node-failure #2", "ironlab/ironlb/l2-node-failure #3",
				"ironlab/ironlb/l2-speaker-restart", "ironlab/metallb/l2-node-failure",
			},
			failMsg: `step "recovered": traffic on t1 did not recover within 1s`,
			failText: []string{
				"failed step: recovered [expect] 2030-3600 ms",
				"error: traffic on t1 did not recover within 1s",
				"skipped steps: failoverMs, stop t1",
				"timeline 2600-4600 ms (1 s either side of the end of step \"recovered\" at 3600 ms):",
				"t=3460ms owner 10.0.0.100: worker2",
				"stream t1 (client -> 10.0.0.100:80 http):",
				"t=2600-3490ms FAIL (90 requests) err=connect: no route to host (30), dial tcp 10.0.0.100:80: i/o timeout (60)",
				"t=3500-4490ms ok node=worker2 (100 requests)",
			},
			maxLength: 60,
		},
		{
			name:      "second run alone, hostile text",
			report:    &Report{Scenarios: []Scenario{hostile}},
			tests:     1,
			failures:  1,
			suites:    []string{"ironlab/ironlb"},
			cases:     []string{`ironlab/ironlb/<script>"x" & y</script> #2`},
			failMsg:   `step "recovered": traffic on t1 did not recover within 1s`,
			failText:  []string{"FAIL (80 requests) err=", ", bad \uFFFD byte <&> (1)"},
			maxLength: 60,
		},
		{name: "empty", report: &Report{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteJUnit(&buf, tt.report); err != nil {
				t.Fatal(err)
			}
			mustParseXML(t, buf.String())
			var doc junitDoc
			if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatalf("junit.xml does not parse: %v\n%s", err, buf.String())
			}
			if doc.Tests != tt.tests || doc.Failures != tt.failures {
				t.Errorf("testsuites: tests=%d failures=%d, want %d and %d", doc.Tests, doc.Failures, tt.tests, tt.failures)
			}
			var suites, cases []string
			tests, failures := 0, 0
			var failure string
			for _, s := range doc.Suites {
				suites = append(suites, s.Name)
				if s.Tests != len(s.Cases) {
					t.Errorf("suite %s says %d tests, has %d", s.Name, s.Tests, len(s.Cases))
				}
				f := 0
				for _, c := range s.Cases {
					cases = append(cases, s.Name+"/"+c.Name)
					if want := "scenarios." + strings.TrimPrefix(s.Name, "ironlab/"); c.Classname != want {
						t.Errorf("case %s: classname %q, want %q", c.Name, c.Classname, want)
					}
					if c.Time == "" || strings.Count(c.Time, ".") != 1 {
						t.Errorf("case %s: time %q", c.Name, c.Time)
					}
					if !strings.Contains(c.SystemOut, "steps:\n  PASS apply    apply echo (0-180 ms): applied manifests/echo.yaml\n") ||
						!strings.Contains(c.SystemOut, "measurements:\n  failoverMs = ") ||
						!strings.Contains(c.SystemOut, "served = ") {
						t.Errorf("case %s: system-out lacks steps or measurements:\n%s", c.Name, c.SystemOut)
					}
					if c.Failure != nil {
						f++
						if failure == "" {
							failure = c.Failure.Text
							if c.Failure.Message != tt.failMsg {
								t.Errorf("failure message %q, want %q", c.Failure.Message, tt.failMsg)
							}
						}
					}
				}
				if s.Failures != f {
					t.Errorf("suite %s says %d failures, has %d", s.Name, s.Failures, f)
				}
				tests += len(s.Cases)
				failures += f
			}
			if tests != tt.tests || failures != tt.failures {
				t.Errorf("counted %d tests and %d failures, want %d and %d", tests, failures, tt.tests, tt.failures)
			}
			if !reflect.DeepEqual(suites, tt.suites) {
				t.Errorf("suites %q, want %q", suites, tt.suites)
			}
			if !reflect.DeepEqual(cases, tt.cases) {
				t.Errorf("cases %q, want %q", cases, tt.cases)
			}
			for _, want := range tt.failText {
				if !strings.Contains(failure, want) {
					t.Errorf("failure text lacks %q:\n%s", want, failure)
				}
			}
			if n := strings.Count(failure, "\n"); n > tt.maxLength+12 {
				t.Errorf("failure text has %d lines", n)
			}
		})
	}
}

func TestTimelineExcerptCap(t *testing.T) {
	s := failover{name: "x", impl: "ironlb", requests: 600, faultMs: 2000, gapMs: 1000}.scenario()
	for i := range s.Timeline.Streams[0].Requests { // requests served alternately: a line each
		if q := &s.Timeline.Streams[0].Requests[i]; q.OK {
			q.Node = []string{"worker1", "worker3"}[i%2]
		}
	}
	text := junitFailureText(&s)
	i := strings.Index(text, "\ntimeline ")
	if i < 0 {
		t.Fatalf("no timeline:\n%s", text)
	}
	lines := strings.Split(strings.TrimSpace(text[i:]), "\n")
	if len(lines) != 1+junitMaxTimelineLines {
		t.Errorf("timeline has %d lines, want a heading and %d", len(lines), junitMaxTimelineLines)
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "... ") || !strings.HasSuffix(last, " more lines") {
		t.Errorf("last line %q", last)
	}
}
