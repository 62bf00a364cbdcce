// Package docblock finds the shell blocks of a Markdown page that a test runs as written: each
// is a ```sh fence right after a marker line (an HTML comment that names the test). The docs
// and the tests share this one reading of the page.
package docblock

import (
	"regexp"
	"strings"
)

// Walkthrough marks the blocks the lab e2e suite runs as written (README.md, docs/lab.md); the
// fresh host check (make fresh-host) runs the README's too.
const Walkthrough = "<!-- tested: the lab e2e suite runs this block as written (lab/e2e/walkthrough_test.go) -->"

// Blocks are the blocks of page marked with marker, each as its non-blank lines.
func Blocks(page, marker string) [][]string {
	re := regexp.MustCompile("(?s)" + regexp.QuoteMeta(marker) + "\n```sh\n(.*?)```")
	var out [][]string
	for _, m := range re.FindAllStringSubmatch(page, -1) {
		var lines []string
		for _, l := range strings.Split(m[1], "\n") {
			if strings.TrimSpace(l) != "" {
				lines = append(lines, l)
			}
		}
		out = append(out, lines)
	}
	return out
}

// Command is a line as a reader runs it: without the prompt's sudo (the tests run as root).
func Command(line string) string { return strings.TrimPrefix(strings.TrimSpace(line), "sudo ") }
