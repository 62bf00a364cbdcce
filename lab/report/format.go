package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// formatFloat is strconv.FormatFloat in 'f' format, without a negative zero.
func formatFloat(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.TrimLeft(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// fmtMs formats milliseconds as an integer count of milliseconds ("1234").
func fmtMs(ms float64) string { return formatFloat(ms, 0) }

// fmtSeconds formats milliseconds as seconds with a unit ("1.23 s", "12.3 s", "95 s").
func fmtSeconds(ms float64) string {
	s := ms / 1000
	switch a := max(s, -s); {
	case a >= 100:
		return formatFloat(s, 0) + " s"
	case a >= 10:
		return formatFloat(s, 1) + " s"
	}
	return formatFloat(s, 2) + " s"
}

// fmtDuration formats milliseconds as a Go-like duration rounded for people ("3m12s", "850ms").
func fmtDuration(ms float64) string {
	d := time.Duration(ms * float64(time.Millisecond))
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// truncate shortens s to at most n runes, ending it with "…" when it was cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:max(n-1, 0)]) + "…"
}

// oneLine replaces line breaks and tabs in s by spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// stepStatus is a step's outcome as a word.
func stepStatus(st *Step) string {
	switch {
	case st.Skipped:
		return "SKIP"
	case st.Passed:
		return "PASS"
	}
	return "FAIL"
}

// measurementNames returns the names of ms in sorted order.
func measurementNames[V any](ms map[string]V) []string {
	names := make([]string, 0, len(ms))
	for name := range ms {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// fmtMeasurement formats a measurement for people: "1234.5 ms", or "42" followed by the
// per-node counts ("42 (worker1 20, worker2 22)").
func fmtMeasurement(m Measurement) string {
	switch {
	case m.ValueMs != nil:
		return fmtNumber(*m.ValueMs) + " ms"
	case m.Count != nil:
		s := strconv.Itoa(*m.Count)
		if len(m.ByNode) > 0 {
			s += " (" + fmtByNode(m.ByNode) + ")"
		}
		return s
	}
	return "–"
}

// fmtByNode formats per-node counts in node order: "worker1 20, worker2 22".
func fmtByNode(byNode map[string]int) string {
	parts := make([]string, 0, len(byNode))
	for _, node := range measurementNames(byNode) {
		parts = append(parts, fmt.Sprintf("%s %d", node, byNode[node]))
	}
	return strings.Join(parts, ", ")
}
