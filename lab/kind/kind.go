// Package kind is the lab's Kind provider: a topology's Kubernetes nodes as a Kind cluster
// (sigs.k8s.io/kind's Go API), its other hosts (clients) as containers on the cluster's Docker
// network, and every host's network namespace named as the netns provider names them, so that
// traffic, ARP probes and link faults reach them the same way. By default the Docker engine is one
// of the lab's own (lab/kind/engine: Debian's, in namespaces of its own) and the node image the
// one of `make kind-node-image` (lab/kind/build), since neither a running engine nor a registry
// can be counted on; where both are (a laptop, GitHub's runners), the host's engine and Kind's
// kindest/node can be used instead (--kind-engine host).
package kind

import (
	"os"
	"path/filepath"
)

// The hidden ironlab commands of the provider (lab/cli registers them).
const (
	CmdKindnet = "__kindnet"     // the pod network's DaemonSet (lab/kind/kindnet)
	CmdEngine  = "__kind-engine" // start or stop the Docker engine (lab/kind/engine)
	CmdEcho    = "__echo"        // the echo server of the lab's Deployments
	CmdHold    = "__hold"        // a client container's process: waits to be stopped
)

// Runtime is ironlab-runc beside the ironlab binary self (make build puts it there); "" is
// this process's own executable.
func Runtime(self string) string {
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return "ironlab-runc"
		}
	}
	return filepath.Join(filepath.Dir(self), "ironlab-runc")
}
