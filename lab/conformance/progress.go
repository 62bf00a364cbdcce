package conformance

import (
	"fmt"
	"regexp"
	"strings"
)

// e2e.test's verbose output (ginkgo -v): a spec's title line, ending in its labels, then its
// result line: "• [12.3 seconds]", "• [FAILED] [602.5 seconds]", "S [SKIPPED] [0.1 seconds]",
// "• [INTERRUPTED] [..]". The specs the filters left out print a row of "S".
var (
	specTitle  = regexp.MustCompile(`^\[sig-[a-z-]+\] .* \[sig-[a-z-]+(, [^]]+)?\]$`)
	specResult = regexp.MustCompile(`^(?:•|S)(?: \[([A-Z]+)\])? \[([0-9.]+) seconds\]$`)
)

// Progress turns e2e.test's verbose output into a line per finished spec.
type Progress struct {
	title string
	n     int
}

// Feed takes one output line and returns the progress line it completes, if any:
// "spec N STATE (S s): TITLE".
func (p *Progress) Feed(line string) (string, bool) {
	if specTitle.MatchString(line) {
		p.title = line
		return "", false
	}
	m := specResult.FindStringSubmatch(line)
	if m == nil || p.title == "" {
		return "", false
	}
	state := strings.ToLower(m[1])
	if state == "" {
		state = "passed"
	}
	if state != "passed" && state != "skipped" {
		state = strings.ToUpper(state) // failed, panicked, interrupted, timedout, aborted: shout
	}
	p.n++
	out := fmt.Sprintf("spec %d %s (%s s): %s", p.n, state, m[2], shortTitle(p.title))
	p.title = ""
	return out, true
}

// shortTitle drops the ginkgo labels in brackets at the end of a spec's title line.
func shortTitle(t string) string {
	if i := strings.LastIndex(t, " [sig-"); i > 0 {
		t = t[:i]
	}
	return t
}
