package soak

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Run is one topology's soak: what was planned, what was done, what was seen.
type Run struct {
	Topology       string `json:"topology"`
	Lab            string `json:"lab"`
	Implementation string `json:"implementation"`
	Seed           int64  `json:"seed"`
	Duration       string `json:"duration"`
	// ElapsedMs is the whole run, lab up and down included; SoakMs the soak scenario alone.
	ElapsedMs  float64                `json:"elapsedMs"`
	SoakMs     float64                `json:"soakMs"`
	Plan       Plan                   `json:"plan"`
	Faults     []FaultRecord          `json:"faults"`
	Violations []Violation            `json:"violations"`
	Streams    map[string]StreamStats `json:"streams"`
	Samples    []Sample               `json:"samples"`
	// Error is what stopped the run before its plan was done (a lab that did not come up).
	Error string `json:"error,omitempty"`
	// NotChecked names invariants that do not apply to this topology, and why.
	NotChecked []string `json:"notChecked,omitempty"`
}

// Report is soak.json.
type Report struct {
	Seed       int64     `json:"seed"`
	Duration   string    `json:"duration"`
	Started    time.Time `json:"started"`
	Runs       []Run     `json:"runs"`
	Violations int       `json:"violations"`
	Passed     bool      `json:"passed"`
}

// Finish counts the violations (a run that stopped early counts as one).
func (r *Report) Finish() {
	r.Violations = 0
	for _, run := range r.Runs {
		r.Violations += len(run.Violations)
		if run.Error != "" && len(run.Violations) == 0 {
			r.Violations++
		}
	}
	r.Passed = r.Violations == 0
}

// Write writes DIR/soak.json.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "soak.json"), append(data, '\n'), 0o644)
}

// Summary prints what happened in a few lines per run: faults by kind, requests, violations with
// the command that replays the run.
func (r *Report) Summary(w io.Writer) {
	for _, run := range r.Runs {
		kinds := map[string]int{}
		failed := 0
		for _, f := range run.Faults {
			if f.Part != PartUndo {
				kinds[f.Kind]++
			}
			if f.Error != "" {
				failed++
			}
		}
		var ks []string
		for k, n := range kinds {
			ks = append(ks, fmt.Sprintf("%s %d", k, n))
		}
		sort.Strings(ks)
		fmt.Fprintf(w, "\nsoak %s (lab %s, seed %d, %s; %.0fs with lab up and down)\n", run.Topology, run.Lab, run.Seed, run.Duration, run.ElapsedMs/1000)
		fmt.Fprintf(w, "  rounds %d, faults and churn: %s\n", len(run.Plan.Rounds), strings.Join(ks, ", "))
		var ss []string
		for _, n := range sortedKeys(run.Streams) {
			s := run.Streams[n]
			ss = append(ss, fmt.Sprintf("%s %d requests (%d failed)", n, s.Requests, s.Failed))
		}
		fmt.Fprintf(w, "  streams: %s\n", strings.Join(ss, ", "))
		for _, n := range run.NotChecked {
			fmt.Fprintf(w, "  not checked: %s\n", n)
		}
		if run.Error != "" {
			fmt.Fprintf(w, "  STOPPED: %s\n", run.Error)
		}
		if len(run.Violations) == 0 {
			fmt.Fprintf(w, "  no violation\n")
			continue
		}
		fmt.Fprintf(w, "  %d violations:\n", len(run.Violations))
		for _, v := range run.Violations {
			fmt.Fprintf(w, "    %8.1fs %-16s %s\n", v.AtMs/1000, v.Invariant, v.Detail)
		}
		fmt.Fprintf(w, "  replay: ironlab soak -t %s --duration %s --seed %d\n", run.Topology, run.Duration, run.Seed)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
