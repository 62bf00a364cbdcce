package conformance

import (
	"regexp"
	"strings"
)

// e2e.test's verbose output (ginkgo -v): a spec's title line, ending in its labels, then its
// result line: "• [12.3 seconds]", "• [FAILED] [602.5 seconds]", "S [SKIPPED] [0.1 seconds]".
// A failure's summary repeats the title with "[It]" and no labels; the specs the filters left out
// print a row of "S".
var (
	specTitle  = regexp.MustCompile(`^\[sig-[a-z-]+\] .* \[sig-[a-z-]+(, [^]]+)?\]$`)
	specResult = regexp.MustCompile(`^(• |S \[SKIPPED\] )\[`)
)

// shortTitle drops the ginkgo labels in brackets at the end of a spec's title line.
func shortTitle(t string) string {
	if i := strings.LastIndex(t, " [sig-"); i > 0 {
		t = t[:i]
	}
	return t
}
