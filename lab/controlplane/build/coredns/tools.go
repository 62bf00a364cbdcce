//go:build tools

// Package coredns pins CoreDNS, the cluster DNS the lab runs as a process pod when a topology
// asks for it (defaults.clusterDNS: lab/clusterdns maps the image registry.k8s.io/coredns/coredns to
// it). Kubernetes' e2e specs reach Services by name, so they need it.
// Nothing here is compiled into IronLB; lab/controlplane/build/lab-bins.sh builds it.
package coredns

import (
	_ "github.com/coredns/coredns"
)
