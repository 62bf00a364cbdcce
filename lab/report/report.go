// Package report is what a scenario run leaves behind: report.json (the machine-readable record,
// its schema in docs/scenarios.md), junit.xml (one test case per scenario run, for CI systems)
// and report.html (one self-contained page for people, with an SVG timeline per scenario).
// It is pure: the runner fills a Report; this package only renders it.
package report

import "time"

// Report is one invocation of `ironlab run`.
type Report struct {
	// Started is when the run began (wall clock).
	Started time.Time `json:"started"`
	// DurationMs is the whole run, lab set-up included.
	DurationMs float64 `json:"durationMs"`
	// Scenarios are every scenario run, in the order they ran (a scenario repeated N times, or run
	// against two implementations, appears once per run).
	Scenarios []Scenario `json:"scenarios"`
	// Summaries aggregate the runs of one scenario against one implementation: pass count and
	// percentiles of every measurement. One per (scenario, implementation).
	Summaries []Summary `json:"summaries,omitempty"`
	// Labs are pictures of the topologies the scenarios ran on, in the order first used: report.html
	// shows them. They are not in report.json (its scenarios name their topology).
	Labs []LabPicture `json:"-"`
}

// LabPicture is the picture of one topology, as ironlab graph draws it (lab/graph).
type LabPicture struct {
	Topology string // the topology file, as the scenarios name it
	SVG      string
}

// Scenario is one run of one scenario.
type Scenario struct {
	Name           string `json:"name"`
	Description    string `json:"description,omitempty"`
	File           string `json:"file,omitempty"`
	Topology       string `json:"topology,omitempty"` // the topology file of the lab it ran on
	Implementation string `json:"implementation"`
	// Run is 1..N when the scenario was repeated.
	Run        int     `json:"run"`
	Passed     bool    `json:"passed"`
	DurationMs float64 `json:"durationMs"`
	// Error is the first failure (a failed step's error, or what stopped the scenario).
	Error        string                 `json:"error,omitempty"`
	Steps        []Step                 `json:"steps"`
	Measurements map[string]Measurement `json:"measurements"`
	Timeline     Timeline               `json:"timeline"`
}

// Step is one step of a scenario as it happened. Times are milliseconds since the scenario began.
type Step struct {
	Name    string  `json:"name"`
	Kind    string  `json:"kind"` // apply, delete, scale, service, patch, traffic, wait, fault, expect, measure
	Passed  bool    `json:"passed"`
	Skipped bool    `json:"skipped,omitempty"` // not run because an earlier step failed
	Error   string  `json:"error,omitempty"`
	Detail  string  `json:"detail,omitempty"` // what was done or seen, in words
	StartMs float64 `json:"startMs"`
	EndMs   float64 `json:"endMs"`
}

// Measurement is one named value. Exactly one of ValueMs and Count is set; ByNode accompanies a
// count of served requests.
type Measurement struct {
	ValueMs *float64       `json:"valueMs,omitempty"`
	Count   *int           `json:"count,omitempty"`
	ByNode  map[string]int `json:"byNode,omitempty"`
}

// Timeline is what the scenario's observers recorded: the single source of truth for its
// expectations and measurements.
type Timeline struct {
	Streams []Stream `json:"streams,omitempty"`
	Events  []Event  `json:"events,omitempty"`
}

// Stream is one traffic stream's requests.
type Stream struct {
	Name     string    `json:"name"`
	From     string    `json:"from"`
	Target   string    `json:"target"` // address:port
	Protocol string    `json:"protocol"`
	Requests []Request `json:"requests"`
}

// Request is one request of a stream.
type Request struct {
	AtMs      float64 `json:"t"`
	LatencyMs float64 `json:"ms"`
	OK        bool    `json:"ok"`
	Node      string  `json:"node,omitempty"`
	Pod       string  `json:"pod,omitempty"`
	Err       string  `json:"err,omitempty"`
}

// Event kinds.
const (
	EventStep    = "step"    // a step began (Subject: step name)
	EventFault   = "fault"   // a fault was applied (Subject: target, Detail: kind)
	EventOwner   = "owner"   // the node answering ARP/NDP for an address changed (Subject: address, Detail: node or "none")
	EventRoute   = "route"   // a router's next hops for a prefix changed (Subject: router prefix, Detail: next hops)
	EventAddress = "address" // a Service's load-balancer address changed (Subject: NS/NAME, Detail: addresses)
)

// Event is one observed change.
type Event struct {
	AtMs    float64 `json:"t"`
	Kind    string  `json:"kind"`
	Subject string  `json:"subject"`
	Detail  string  `json:"detail,omitempty"`
}

// Summary aggregates the runs of one scenario against one implementation.
type Summary struct {
	Scenario       string           `json:"scenario"`
	Implementation string           `json:"implementation"`
	Runs           int              `json:"runs"`
	Passed         int              `json:"passed"`
	Measurements   map[string]Stats `json:"measurements,omitempty"`
}

// Stats are the percentiles of one measurement over runs (milliseconds, or counts).
type Stats struct {
	N    int     `json:"n"`
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}
