// Command ironlab-prereqs checks (and with -install, on Debian/Ubuntu as root, installs) what
// the lab or the tests need from the host. It imports nothing but the standard library and
// lab/prereq, so `go run` builds it in a moment: make runs it before any long step.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ironlb/ironlb/lab/prereq"
)

func main() {
	purpose := flag.String("for", "lab", "lab, test, scenarios, conformance or kind")
	install := flag.Bool("install", false, "install what is missing with apt-get (root, Debian/Ubuntu)")
	flag.Parse()
	switch p := prereq.Purpose(*purpose); p {
	case prereq.Lab, prereq.Test, prereq.Scenarios, prereq.Conformance, prereq.Kind:
		if err := prereq.Ensure(p, *install, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "ironlab-prereqs:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "ironlab-prereqs: -for %q: want lab, test, scenarios, conformance or kind\n", *purpose)
		os.Exit(2)
	}
}
