// Command ironlab-prereqs checks (and with -install, on Debian/Ubuntu as root, installs) what
// the lab or the tests need from the host. It imports nothing but the standard library and
// lab/prereq, so `go run` builds it in a moment: make runs it before any long step.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/lab/prereq"
)

var purposes = []prereq.Purpose{prereq.Lab, prereq.Test, prereq.Scenarios, prereq.Conformance, prereq.Kind}

func main() {
	purpose := flag.String("for", "lab", "what for, comma-separated: lab, test, scenarios, conformance, kind, or all")
	install := flag.Bool("install", false, "install what is missing for those purposes with apt-get (root, Debian/Ubuntu)")
	flag.Parse()
	var ps []prereq.Purpose
	for _, f := range strings.Split(*purpose, ",") {
		switch p := prereq.Purpose(strings.TrimSpace(f)); {
		case p == "all":
			ps = append(ps, purposes...)
		case slices.Contains(purposes, p):
			ps = append(ps, p)
		default:
			fmt.Fprintf(os.Stderr, "ironlab-prereqs: -for %q: want lab, test, scenarios, conformance, kind or all\n", f)
			os.Exit(2)
		}
	}
	if err := prereq.Ensure(ps, *install, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ironlab-prereqs:", err)
		os.Exit(1)
	}
}
