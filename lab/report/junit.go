package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// WriteJSON writes r as indented JSON (report.json). The output is stable: the same report always
// gives the same bytes (map keys are sorted). Summaries are written as they are in r.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("writing report JSON: %w", err)
	}
	return nil
}

// JUnit XML elements, in the dialect most CI systems read (Jenkins, GitLab, GitHub actions).
type (
	junitTestsuites struct {
		XMLName  xml.Name         `xml:"testsuites"`
		Name     string           `xml:"name,attr"`
		Tests    int              `xml:"tests,attr"`
		Failures int              `xml:"failures,attr"`
		Errors   int              `xml:"errors,attr"`
		Time     string           `xml:"time,attr"`
		Suites   []junitTestsuite `xml:"testsuite"`
	}
	junitTestsuite struct {
		Name      string          `xml:"name,attr"`
		Tests     int             `xml:"tests,attr"`
		Failures  int             `xml:"failures,attr"`
		Errors    int             `xml:"errors,attr"`
		Skipped   int             `xml:"skipped,attr"`
		Time      string          `xml:"time,attr"`
		Timestamp string          `xml:"timestamp,attr,omitempty"`
		Cases     []junitTestcase `xml:"testcase"`
	}
	junitTestcase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Time      string        `xml:"time,attr"`
		Failure   *junitFailure `xml:"failure,omitempty"`
		SystemOut string        `xml:"system-out,omitempty"`
	}
	junitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr,omitempty"`
		Body    string `xml:",chardata"`
	}
)

// junitMaxTimelineLines caps the timeline excerpt of a failure.
const junitMaxTimelineLines = 60

// WriteJUnit writes r as JUnit XML (junit.xml): a <testsuites> with one <testsuite> per
// implementation, named "ironlab/IMPLEMENTATION", in the order implementations first appear, and one
// <testcase> per scenario run. A test case is named after its scenario, followed by " #RUN" when the
// scenario ran more than once against that implementation (or Run > 1). A failed run has a
// <failure> whose message is the run's error and whose text lists the failed steps and what the
// traffic streams saw in the second before and after the failure. <system-out> lists every step
// and measurement.
func WriteJUnit(w io.Writer, r *Report) error {
	type key struct{ name, impl string }
	runs := map[key]int{}
	for i := range r.Scenarios {
		runs[key{r.Scenarios[i].Name, r.Scenarios[i].Implementation}]++
	}
	seen := map[key]int{}
	suiteIndex := map[string]int{}
	doc := junitTestsuites{Name: "ironlab"}
	totalMs := 0.0
	suiteMs := []float64{}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		j, ok := suiteIndex[s.Implementation]
		if !ok {
			j = len(doc.Suites)
			suiteIndex[s.Implementation] = j
			suite := junitTestsuite{Name: "ironlab/" + s.Implementation}
			if !r.Started.IsZero() {
				suite.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
			}
			doc.Suites = append(doc.Suites, suite)
			suiteMs = append(suiteMs, 0)
		}
		k := key{s.Name, s.Implementation}
		seen[k]++
		name := s.Name
		if s.Run > 1 || runs[k] > 1 {
			n := s.Run
			if n < 1 {
				n = seen[k]
			}
			name += " #" + strconv.Itoa(n)
		}
		tc := junitTestcase{
			Name:      name,
			Classname: "scenarios." + s.Implementation,
			Time:      junitSeconds(s.DurationMs),
			SystemOut: junitSystemOut(s),
		}
		suite := &doc.Suites[j]
		suite.Tests++
		doc.Tests++
		if !s.Passed {
			msg := s.Error
			if msg == "" {
				msg = "scenario failed"
			}
			tc.Failure = &junitFailure{Message: oneLine(msg), Type: "ScenarioFailed", Body: junitFailureText(s)}
			suite.Failures++
			doc.Failures++
		}
		suite.Cases = append(suite.Cases, tc)
		suiteMs[j] += s.DurationMs
		totalMs += s.DurationMs
	}
	for j := range doc.Suites {
		doc.Suites[j].Time = junitSeconds(suiteMs[j])
	}
	if r.DurationMs > 0 {
		totalMs = r.DurationMs
	}
	doc.Time = junitSeconds(totalMs)

	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("writing JUnit XML: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("writing JUnit XML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("writing JUnit XML: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitSeconds formats milliseconds as seconds for JUnit ("1.234").
func junitSeconds(ms float64) string { return formatFloat(max(ms, 0)/1000, 3) }

// junitSystemOut lists a run's steps with their outcome, then its measurements.
func junitSystemOut(s *Scenario) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s against %s, run %d: %s in %s\n", s.Name, s.Implementation, s.Run, passFail(s.Passed), fmtDuration(s.DurationMs))
	if len(s.Steps) > 0 {
		b.WriteString("steps:\n")
		for i := range s.Steps {
			st := &s.Steps[i]
			fmt.Fprintf(&b, "  %s %-8s %s (%s-%s ms)", stepStatus(st), st.Kind, stepName(st, i), fmtMs(st.StartMs), fmtMs(st.EndMs))
			if st.Detail != "" {
				b.WriteString(": " + oneLine(st.Detail))
			}
			if st.Error != "" {
				b.WriteString(" error: " + oneLine(st.Error))
			}
			b.WriteByte('\n')
		}
	}
	if len(s.Measurements) > 0 {
		b.WriteString("measurements:\n")
		for _, name := range measurementNames(s.Measurements) {
			fmt.Fprintf(&b, "  %s = %s\n", name, fmtMeasurement(s.Measurements[name]))
		}
	}
	return b.String()
}

// stepName is a step's name, or "step N (KIND)" for an unnamed one.
func stepName(st *Step, i int) string {
	if st.Name != "" {
		return st.Name
	}
	return fmt.Sprintf("step %d (%s)", i+1, st.Kind)
}

func passFail(passed bool) string {
	if passed {
		return "passed"
	}
	return "FAILED"
}

// failedStep returns the index of the first step that failed (ran and did not pass), or -1.
func failedStep(s *Scenario) int {
	for i := range s.Steps {
		if !s.Steps[i].Passed && !s.Steps[i].Skipped {
			return i
		}
	}
	return -1
}

// failureTime is when a failed run failed: the end of its first failed step, else the end of the
// last step that ran, else the end of the run.
func failureTime(s *Scenario) (ms float64, what string) {
	if i := failedStep(s); i >= 0 {
		return s.Steps[i].EndMs, fmt.Sprintf("the end of step %q", stepName(&s.Steps[i], i))
	}
	for i := len(s.Steps) - 1; i >= 0; i-- {
		if !s.Steps[i].Skipped {
			return s.Steps[i].EndMs, fmt.Sprintf("the end of step %q", stepName(&s.Steps[i], i))
		}
	}
	return s.DurationMs, "the end of the run"
}

// junitFailureText is the body of a failed run's <failure>: the failed and skipped steps, then the
// events and requests within a second of the failure, consecutive requests with the same outcome
// and node merged into one line, at most junitMaxTimelineLines lines.
func junitFailureText(s *Scenario) string {
	var b strings.Builder
	if s.Error != "" {
		b.WriteString(s.Error + "\n")
	}
	var skipped []string
	for i := range s.Steps {
		st := &s.Steps[i]
		switch {
		case st.Skipped:
			skipped = append(skipped, stepName(st, i))
		case !st.Passed:
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "failed step: %s [%s] %s-%s ms\n", stepName(st, i), st.Kind, fmtMs(st.StartMs), fmtMs(st.EndMs))
			if st.Error != "" {
				fmt.Fprintf(&b, "  error: %s\n", oneLine(st.Error))
			}
			if st.Detail != "" {
				fmt.Fprintf(&b, "  detail: %s\n", oneLine(st.Detail))
			}
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintf(&b, "skipped steps: %s\n", strings.Join(skipped, ", "))
	}

	at, what := failureTime(s)
	from, to := at-1000, at+1000
	lines := timelineExcerpt(s, from, to)
	if len(lines) == 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "\ntimeline %s-%s ms (1 s either side of %s at %s ms):\n", fmtMs(from), fmtMs(to), what, fmtMs(at))
	if len(lines) > junitMaxTimelineLines {
		n := len(lines) - junitMaxTimelineLines + 1
		lines = append(lines[:junitMaxTimelineLines-1:junitMaxTimelineLines-1], fmt.Sprintf("... %d more lines", n))
	}
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// timelineExcerpt summarises the events and requests of s in [from, to]: the events (steps
// excluded) first, then each stream's requests, one line per run of consecutive requests with the
// same outcome and node.
func timelineExcerpt(s *Scenario, from, to float64) []string {
	var lines []string
	var events []Event
	for _, e := range s.Timeline.Events {
		if e.AtMs >= from && e.AtMs <= to && e.Kind != EventStep {
			events = append(events, e)
		}
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].AtMs < events[j].AtMs })
	if len(events) > 0 {
		lines = append(lines, "events:")
		for _, e := range events {
			l := fmt.Sprintf("  t=%sms %s %s", fmtMs(e.AtMs), e.Kind, oneLine(e.Subject))
			if e.Detail != "" {
				l += ": " + oneLine(e.Detail)
			}
			lines = append(lines, l)
		}
	}
	for _, st := range s.Timeline.Streams {
		var reqs []Request
		for _, q := range st.Requests {
			if q.AtMs >= from && q.AtMs <= to {
				reqs = append(reqs, q)
			}
		}
		if len(reqs) == 0 {
			continue
		}
		sort.SliceStable(reqs, func(i, j int) bool { return reqs[i].AtMs < reqs[j].AtMs })
		lines = append(lines, fmt.Sprintf("stream %s (%s -> %s %s):", oneLine(st.Name), oneLine(st.From), oneLine(st.Target), st.Protocol))
		for i := 0; i < len(reqs); {
			j := i + 1
			for j < len(reqs) && reqs[j].OK == reqs[i].OK && reqs[j].Node == reqs[i].Node {
				j++
			}
			lines = append(lines, requestRunLine(reqs[i:j]))
			i = j
		}
	}
	return lines
}

// requestRunLine summarises consecutive requests with the same outcome and node in one line:
// "t=1234ms ok node=worker2 (0.61ms)", "t=1234-1834ms ok node=worker2 (61 requests)",
// "t=1900-2400ms FAIL (51 requests) err=i/o timeout (40), no route to host (11)".
func requestRunLine(reqs []Request) string {
	first, last := reqs[0], reqs[len(reqs)-1]
	var b strings.Builder
	b.WriteString("  t=" + fmtMs(first.AtMs))
	if len(reqs) > 1 {
		b.WriteString("-" + fmtMs(last.AtMs))
	}
	b.WriteString("ms")
	if first.OK {
		b.WriteString(" ok")
	} else {
		b.WriteString(" FAIL")
	}
	if first.Node != "" {
		b.WriteString(" node=" + oneLine(first.Node))
	}
	switch {
	case len(reqs) > 1:
		fmt.Fprintf(&b, " (%d requests)", len(reqs))
	case first.OK:
		fmt.Fprintf(&b, " (%sms)", fmtNumber(first.LatencyMs))
	}
	// Errors in order of first appearance, with how often each occurred when there are several.
	var errs []string
	count := map[string]int{}
	for _, q := range reqs {
		if q.Err == "" {
			continue
		}
		if count[q.Err] == 0 {
			errs = append(errs, q.Err)
		}
		count[q.Err]++
	}
	for i, e := range errs {
		if i == 0 {
			b.WriteString(" err=")
		} else {
			b.WriteString(", ")
		}
		if i == 3 {
			fmt.Fprintf(&b, "and %d other errors", len(errs)-3)
			break
		}
		b.WriteString(truncate(oneLine(e), 160))
		if len(reqs) > 1 {
			fmt.Fprintf(&b, " (%d)", count[e])
		}
	}
	return b.String()
}
