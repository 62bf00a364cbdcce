//go:build tools

// Package node pins the Kubernetes commands of the Kind node image that `make kind-node-image`
// builds where no registry can be reached (lab/kind/build/node-image.sh): kubelet and kubeadm,
// from the same Kubernetes as the lab's control plane (lab/controlplane/build/kubernetes).
package node

import (
	_ "k8s.io/kubernetes/cmd/kubeadm"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
