package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// Run is one e2e.test run: an implementation on a lab (a mode).
type Run struct {
	Impl  string `json:"impl"` // ironlb, metallb
	Mode  string `json:"mode"` // l2, bgp: the lab's
	Suite Suite  `json:"suite"`
	// ExitCode is e2e.test's.
	ExitCode int `json:"exitCode"`
	// Err is why the run did not happen or did not finish (a lab that did not come up).
	Err string `json:"error,omitempty"`
}

// Label names a run in tables: IMPL (MODE).
func (r Run) Label() string { return fmt.Sprintf("%s (%s)", r.Impl, r.Mode) }

// Impossible is a spec that cannot pass in a mode for a reason of the mode itself, whatever the
// implementation: the one list of them, which docs/conformance.md repeats.
type Impossible struct {
	Mode string // l2 or bgp
	Spec string // a substring of the spec's text
	Why  string
}

// Impossibles is that list.
var Impossibles = []Impossible{
	{Mode: "bgp", Spec: "should have session affinity work for LoadBalancer service", Why: affinityOverECMP},
	{Mode: "bgp", Spec: "should be able to switch session affinity for LoadBalancer service", Why: affinityOverECMP},
	{Mode: "l2", Spec: "should be able to switch session affinity for LoadBalancer service with Local traffic policy", Why: "in layer 2 " +
		"one node holds the address and, with the Local policy, serves it from its own endpoints only, while the spec first wants " +
		"answers from several of the three endpoints (one per node) before it turns affinity on"},
}

// affinityOverECMP is why ClientIP session affinity cannot hold behind BGP routers.
const affinityOverECMP = "the routers spread one client's connections over the nodes by flow (ECMP on addresses and ports), " +
	"and kube-proxy keeps ClientIP affinity per node: each node sends the client to the backend it chose"

// ImpossibleSkip is a ginkgo skip expression for the specs mode makes impossible ("" for none).
func ImpossibleSkip(mode string) string {
	var parts []string
	for _, k := range Impossibles {
		if k.Mode == mode {
			parts = append(parts, regexp.QuoteMeta(k.Spec))
		}
	}
	return strings.Join(parts, "|")
}

// JoinRegexps is the alternation of the non-empty expressions.
func JoinRegexps(res ...string) string {
	var parts []string
	for _, r := range res {
		if r != "" {
			parts = append(parts, r)
		}
	}
	return strings.Join(parts, "|")
}

// impossible returns why spec cannot pass in mode, or "".
func impossible(mode, spec string) string {
	for _, k := range Impossibles {
		if k.Mode == mode && strings.Contains(spec, k.Spec) {
			return k.Why
		}
	}
	return ""
}

// Row is one spec across runs.
type Row struct {
	Spec    string   `json:"spec"`
	Slow    bool     `json:"slow"`
	Results []Result `json:"results"` // one per run, in the runs' order; Status "" when absent
	// Impossible is, per run, why the spec cannot pass in its mode ("" when it can).
	Impossible []string `json:"impossible,omitempty"`
}

// Summary is the side-by-side comparison.
type Summary struct {
	Runs []Run `json:"runs"`
	Rows []Row `json:"rows"`
}

// Summarize lines the runs' specs up, sorted by their text.
func Summarize(runs []Run) Summary {
	var specs []string
	for _, r := range runs {
		for _, res := range r.Suite.Results {
			if !slices.Contains(specs, res.Spec) {
				specs = append(specs, res.Spec)
			}
		}
	}
	slices.Sort(specs)
	s := Summary{Runs: runs}
	for _, spec := range specs {
		row := Row{Spec: spec, Slow: strings.Contains(spec, "[Slow]")}
		anyImpossible := false
		for _, r := range runs {
			res := Result{Spec: spec}
			if i := slices.IndexFunc(r.Suite.Results, func(x Result) bool { return x.Spec == spec }); i >= 0 {
				res = r.Suite.Results[i]
			}
			row.Results = append(row.Results, res)
			why := impossible(r.Mode, spec)
			anyImpossible = anyImpossible || why != ""
			row.Impossible = append(row.Impossible, why)
		}
		if !anyImpossible {
			row.Impossible = nil
		}
		s.Rows = append(s.Rows, row)
	}
	return s
}

// Verdict says whether run i is conformant: it ran, its suite set up, and every spec that ran
// passed, or failed where the mode makes it impossible; a spec that skipped itself is not a pass.
// It returns the problems otherwise.
func (s Summary) Verdict(i int) []string {
	r := s.Runs[i]
	if r.Err != "" {
		return []string{r.Err}
	}
	if r.Suite.SetupFailure != "" {
		return []string{"suite setup failed: " + r.Suite.SetupFailure}
	}
	var out []string
	ran, failed := 0, 0
	for _, row := range s.Rows {
		res := row.Results[i]
		switch res.Status {
		case Passed:
			ran++
		case Failed:
			ran++
			failed++
			if row.Impossible == nil || row.Impossible[i] == "" {
				out = append(out, "failed: "+res.Spec+": "+res.Reason)
			}
		case Skipped:
			out = append(out, "skipped: "+res.Spec+": "+res.Reason)
		}
	}
	if ran == 0 && len(out) == 0 {
		out = append(out, "no spec ran")
	}
	// With no failed spec to explain it, a suite that says it did not succeed, or an e2e.test
	// that exited non-zero, is a problem of its own (an interrupt, a timeout, a crash).
	if failed == 0 && (!r.Suite.Succeeded || r.ExitCode != 0) {
		out = append(out, fmt.Sprintf("the suite did not succeed (e2e.test exit code %d): %s", r.ExitCode, orElse(r.Suite.FailureReason, "no reason given")))
	}
	return out
}

// WriteJSON writes the summary as JSON (summary.json).
func (s Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// WriteMarkdown writes the table a person reads (summary.md): a row per spec, a column per run,
// each cell passed, failed with the reason, skipped with the reason, or not run; then each run's
// verdict.
func (s Summary) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# Kubernetes [Feature:LoadBalancer] e2e specs (v1.37.2)\n\n")
	b.WriteString("| spec |")
	for _, r := range s.Runs {
		b.WriteString(" " + r.Label() + " |")
	}
	b.WriteString("\n|---|")
	for range s.Runs {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	var notes []string // the reasons of impossible specs, each once
	note := func(mode, why string) int {
		n := mode + ": " + why
		if i := slices.Index(notes, n); i >= 0 {
			return i + 1
		}
		notes = append(notes, n)
		return len(notes)
	}
	for _, row := range s.Rows {
		b.WriteString("| " + cell(strings.TrimPrefix(row.Spec, "[sig-network] ")) + " |")
		for i, res := range row.Results {
			c := string(res.Status)
			switch res.Status {
			case Passed:
				c = fmt.Sprintf("passed (%.0f s)", res.Seconds)
			case Failed, Skipped:
				c += ": " + res.Reason
			case "":
				c = "absent"
			}
			if row.Impossible != nil && row.Impossible[i] != "" {
				c += fmt.Sprintf(" (impossible in %s: note %d)", s.Runs[i].Mode, note(s.Runs[i].Mode, row.Impossible[i]))
			}
			b.WriteString(" " + cell(c) + " |")
		}
		b.WriteString("\n")
	}
	if len(notes) > 0 {
		b.WriteString("\nImpossible in the mode (docs/conformance.md):\n\n")
		for i, n := range notes {
			fmt.Fprintf(&b, "%d. %s\n", i+1, n)
		}
	}
	b.WriteString("\n")
	for i, r := range s.Runs {
		if r.Err == "" {
			fmt.Fprintf(&b, "- **%s**: e2e.test ran %.0f s; ", r.Label(), r.Suite.Seconds)
		} else {
			fmt.Fprintf(&b, "- **%s**: ", r.Label())
		}
		if v := s.Verdict(i); len(v) == 0 {
			b.WriteString("every spec that ran passed (or failed only where the mode makes it impossible).\n")
		} else {
			fmt.Fprintf(&b, "%d problem(s):\n", len(v))
			for _, p := range v {
				b.WriteString("  - " + cell(p) + "\n")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}
