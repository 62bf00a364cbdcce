// Command ironlab builds a Kubernetes cluster and its network on one Linux host.
package main

import (
	"os"

	"github.com/ironlb/ironlb/lab/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
