// Command ironlab builds a Kubernetes cluster and its network on one Linux host.
package main

import (
	"os"

	"github.com/ironlb/ironlb/lab/cli"
)

// version is set by the build: `make build` passes -ldflags "-X main.version=$(git describe ...)".
var version string

func main() { os.Exit(cli.Main(os.Args[1:], version)) }
