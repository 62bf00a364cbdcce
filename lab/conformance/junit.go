// Package conformance runs Kubernetes' own [Feature:LoadBalancer] e2e specs (e2e.test, built by
// make lab-bins from k8s.io/kubernetes v1.37.2) in a lab against each load balancer and puts the
// results side by side (make conformance, docs/conformance.md). This file and summary.go are pure:
// they read the suite's JUnit and render the comparison.
package conformance

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// Status of a spec in one run.
type Status string

const (
	Passed  Status = "passed"
	Failed  Status = "failed"
	Skipped Status = "skipped" // the spec skipped itself, with a reason
	NotRun  Status = "not run" // filtered out by focus or skip (e.g. the fast subset leaves [Slow] out)
)

// Feature is the label of the specs this package is about.
const Feature = "[Feature:LoadBalancer]"

// Result is one spec's outcome in one run.
type Result struct {
	Spec    string  `json:"spec"` // the spec's full text without ginkgo's "[It] " prefix
	Status  Status  `json:"status"`
	Reason  string  `json:"reason,omitempty"` // the failure's or the skip's message, first line
	Seconds float64 `json:"seconds"`
}

// Suite is what one run of e2e.test reported.
type Suite struct {
	Results []Result `json:"results"`
	// SetupFailure is the message of a failed suite-level node ([SynchronizedBeforeSuite] and the
	// like): with it, the specs never ran.
	SetupFailure string  `json:"setupFailure,omitempty"`
	Seconds      float64 `json:"seconds"`
	// Succeeded is ginkgo's own verdict (the SuiteSucceeded property), and FailureReason its
	// reason when it is not about a spec (SpecialSuiteFailureReason: an interrupt, a timeout).
	Succeeded     bool   `json:"succeeded"`
	FailureReason string `json:"failureReason,omitempty"`
}

type junitSuites struct {
	Time   float64      `xml:"time,attr"`
	Suites []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Properties []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"properties>property"`
	Cases []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name    string  `xml:"name,attr"`
	Status  string  `xml:"status,attr"`
	Time    float64 `xml:"time,attr"`
	Skipped *struct {
		Message string `xml:"message,attr"`
	} `xml:"skipped"`
	Failure *struct {
		Message string `xml:"message,attr"`
		Body    string `xml:",chardata"`
	} `xml:"failure"`
	Error *struct {
		Message string `xml:"message,attr"`
		Body    string `xml:",chardata"`
	} `xml:"error"`
}

// ParseJUnit reads the JUnit report e2e.test writes (--report-dir: junit_01.xml). It keeps the
// specs that ran or skipped themselves, and the [Feature:LoadBalancer] specs that were filtered
// out (as NotRun), so that a summary lists every spec of the feature; the other filtered specs
// (a thousand of them) are left out.
func ParseJUnit(r io.Reader) (Suite, error) {
	var js junitSuites
	if err := xml.NewDecoder(r).Decode(&js); err != nil {
		return Suite{}, fmt.Errorf("e2e JUnit report: %w", err)
	}
	s := Suite{Seconds: js.Time}
	if len(js.Suites) == 0 {
		return s, fmt.Errorf("e2e JUnit report: no test suite in it")
	}
	for _, ts := range js.Suites {
		for _, p := range ts.Properties {
			switch p.Name {
			case "SuiteSucceeded":
				s.Succeeded = p.Value == "true"
			case "SpecialSuiteFailureReason":
				s.FailureReason = firstLine(p.Value)
			}
		}
		for _, c := range ts.Cases {
			spec, isSpec := strings.CutPrefix(c.Name, "[It] ")
			if !isSpec {
				if msg := caseFailure(c); msg != "" && s.SetupFailure == "" {
					s.SetupFailure = c.Name + ": " + msg
				}
				continue
			}
			res := Result{Spec: spec, Seconds: c.Time}
			switch {
			case c.Failure != nil || c.Error != nil || c.Status == "failed" || c.Status == "panicked" ||
				c.Status == "interrupted" || c.Status == "timedout" || c.Status == "aborted":
				res.Status, res.Reason = Failed, caseFailure(c)
				if res.Reason == "" {
					res.Reason = c.Status
				}
			case c.Skipped != nil || c.Status == "skipped" || c.Status == "pending":
				msg := ""
				if c.Skipped != nil {
					msg = c.Skipped.Message
				}
				// A spec the filters left out carries the bare message "skipped"; one that
				// skipped itself says why ("skipped - Test requires ...").
				if msg == "skipped" || msg == "" {
					if !strings.Contains(spec, Feature) {
						continue
					}
					res.Status = NotRun
				} else {
					res.Status, res.Reason = Skipped, firstLine(strings.TrimPrefix(msg, "skipped - "))
				}
			default:
				res.Status = Passed
			}
			s.Results = append(s.Results, res)
		}
	}
	return s, nil
}

func caseFailure(c junitCase) string {
	switch {
	case c.Failure != nil:
		return firstLine(orElse(c.Failure.Message, c.Failure.Body))
	case c.Error != nil:
		return firstLine(orElse(c.Error.Message, c.Error.Body))
	case c.Status == "failed" || c.Status == "panicked" || c.Status == "timedout" || c.Status == "interrupted" || c.Status == "aborted":
		return c.Status
	}
	return ""
}

func orElse(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}

// firstLine is the first non-empty line, cut to 300 characters.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if len(l) > 300 {
				l = l[:297] + "..."
			}
			return l
		}
	}
	return ""
}
