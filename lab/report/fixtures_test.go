package report

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

func fptr(v float64) *float64 { return &v }
func iptr(v int) *int         { return &v }

// failover describes a synthetic node-failure run.
type failover struct {
	name, impl string
	run        int
	requests   int     // one every 10 ms from t=500
	faultMs    float64 // when the owner (worker1) goes down
	gapMs      float64 // how long until worker2 answers
	passed     bool
}

// scenario builds a realistic run: three nodes, worker1 owns the address and serves most
// requests (worker3 some, through kube-proxy), a node-down fault on worker1, failed requests
// for gapMs, then worker2 owns the address and serves everything.
func (f failover) scenario() Scenario {
	if f.run == 0 {
		f.run = 1
	}
	var reqs []Request
	var lost int
	served := map[string]int{}
	for i := range f.requests {
		at := 500 + float64(i)*10
		q := Request{AtMs: at, LatencyMs: 0.4 + float64(i%7)/10}
		switch {
		case at < f.faultMs:
			q.OK, q.Node, q.Pod = true, "worker1", "echo-7d9f-abcde"
			if i%5 == 0 {
				q.Node, q.Pod = "worker3", "echo-7d9f-fghij"
			}
		case at < f.faultMs+f.gapMs:
			q.LatencyMs = 200
			q.Err = "dial tcp 10.0.0.100:80: i/o timeout"
			if i%3 == 0 {
				q.Err = "connect: no route to host"
			}
			lost++
		default:
			q.OK, q.Node, q.Pod = true, "worker2", "echo-7d9f-klmno"
		}
		if q.OK {
			served[q.Node]++
		}
		reqs = append(reqs, q)
	}
	end := 500 + float64(f.requests)*10
	steps := []Step{
		{Name: "apply echo", Kind: "apply", Passed: true, Detail: "applied manifests/echo.yaml", StartMs: 0, EndMs: 180},
		{Name: "address assigned", Kind: "expect", Passed: true, Detail: "default/echo has 10.0.0.100", StartMs: 180, EndMs: 420},
		{Name: "start t1", Kind: "traffic", Passed: true, StartMs: 420, EndMs: 500},
		{Name: "kill the owner", Kind: "fault", Passed: true, Detail: "node-down worker1", StartMs: f.faultMs, EndMs: f.faultMs + 30},
		{Name: "recovered", Kind: "expect", Passed: f.passed, StartMs: f.faultMs + 30, EndMs: f.faultMs + f.gapMs + 100},
		{Name: "failoverMs", Kind: "measure", Passed: f.passed, Skipped: !f.passed, StartMs: f.faultMs + f.gapMs + 100, EndMs: f.faultMs + f.gapMs + 110},
		{Name: "stop t1", Kind: "traffic", Passed: f.passed, Skipped: !f.passed, StartMs: end, EndMs: end + 20},
	}
	s := Scenario{
		Name:           f.name,
		Description:    "the node answering ARP for the address goes down",
		File:           "scenarios/" + f.name + ".yaml",
		Implementation: f.impl,
		Run:            f.run,
		Passed:         f.passed,
		DurationMs:     end + 40,
		Steps:          steps,
		Measurements: map[string]Measurement{
			"failoverMs": {ValueMs: fptr(f.gapMs)},
			"lost":       {Count: iptr(lost)},
			"served":     {Count: iptr(served["worker1"] + served["worker2"] + served["worker3"]), ByNode: served},
		},
		Timeline: Timeline{
			Streams: []Stream{{Name: "t1", From: "client", Target: "10.0.0.100:80", Protocol: "http", Requests: reqs}},
			Events: []Event{
				{AtMs: 0, Kind: EventStep, Subject: "apply echo"},
				{AtMs: 180, Kind: EventStep, Subject: "address assigned"},
				{AtMs: 300, Kind: EventAddress, Subject: "default/echo", Detail: "10.0.0.100"},
				{AtMs: 310, Kind: EventOwner, Subject: "10.0.0.100", Detail: "worker1"},
				{AtMs: 420, Kind: EventStep, Subject: "start t1"},
				{AtMs: f.faultMs, Kind: EventStep, Subject: "kill the owner"},
				{AtMs: f.faultMs + 5, Kind: EventFault, Subject: "worker1", Detail: "node-down"},
				{AtMs: f.faultMs + 30, Kind: EventStep, Subject: "recovered"},
				{AtMs: f.faultMs + f.gapMs - 40, Kind: EventOwner, Subject: "10.0.0.100", Detail: "worker2"},
				{AtMs: f.faultMs + f.gapMs - 30, Kind: EventRoute, Subject: "router 10.0.0.100/32", Detail: "172.18.0.3"},
			},
		},
	}
	if !f.passed {
		s.Error = fmt.Sprintf("step %q: traffic on t1 did not recover within 1s", "recovered")
		s.Steps[4].Error = "traffic on t1 did not recover within 1s: last failure at t=" + fmtMs(f.faultMs+f.gapMs-10) + "ms"
	}
	return s
}

// sampleReport has a scenario run three times against ironlb (one failure) and once against
// metallb, and a second scenario run once.
func sampleReport() *Report {
	return &Report{
		Started:    time.Date(2025, 11, 26, 10, 44, 0, 0, time.UTC),
		DurationMs: 95_000,
		Scenarios: []Scenario{
			failover{name: "l2-node-failure", impl: "ironlb", run: 1, requests: 600, faultMs: 2500, gapMs: 100, passed: true}.scenario(),
			failover{name: "l2-node-failure", impl: "ironlb", run: 2, requests: 600, faultMs: 2500, gapMs: 120, passed: true}.scenario(),
			failover{name: "l2-node-failure", impl: "ironlb", run: 3, requests: 600, faultMs: 2500, gapMs: 90, passed: true}.scenario(),
			failover{name: "l2-node-failure", impl: "metallb", run: 1, requests: 600, faultMs: 2500, gapMs: 2850, passed: true}.scenario(),
			failover{name: "l2-speaker-restart", impl: "ironlb", run: 1, requests: 400, faultMs: 2000, gapMs: 1500, passed: false}.scenario(),
		},
	}
}

// walkXML decodes every token of doc strictly and returns the start elements seen and the
// text, or the first error.
func walkXML(doc string) (elements []xml.StartElement, text string, err error) {
	d := xml.NewDecoder(strings.NewReader(doc))
	d.Strict = true
	var b strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return elements, b.String(), nil
		}
		if err != nil {
			return elements, b.String(), err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			elements = append(elements, t.Copy())
		case xml.CharData:
			b.Write(t)
		}
	}
}

// attr is the value of the attribute name of e, or "".
func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func mustParseXML(t *testing.T, doc string) ([]xml.StartElement, string) {
	t.Helper()
	els, text, err := walkXML(doc)
	if err != nil {
		t.Fatalf("not well-formed XML: %v", err)
	}
	return els, text
}
