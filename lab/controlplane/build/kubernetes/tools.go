//go:build tools

// Package kubernetes pins the Kubernetes commands that the lab and the integration tests run.
// Nothing here is compiled into IronLB; lab/controlplane/build/k8s-bins.sh builds these commands.
package kubernetes

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
