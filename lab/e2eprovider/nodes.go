package e2eprovider

import (
	"net"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/support"

	"github.com/ironlb/ironlb/lab/topology"
)

// nodeOf is the framework's view of a Node: its role from kubeadm's control-plane label, its
// state from the Ready condition, its first internal address.
func nodeOf(n corev1.Node, lab string) support.Node {
	out := support.Node{Name: n.Name, Cluster: lab, Role: "worker", State: "NotReady"}
	if _, ok := n.Labels["node-role.kubernetes.io/control-plane"]; ok {
		out.Role = "control-plane"
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			out.State = "Ready"
		}
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			out.IP = net.ParseIP(a.Address)
			break
		}
	}
	return out
}

// isKubernetesNode says whether host is one of the topology's Kubernetes nodes (not a router or
// a client, which node faults do not take).
func isKubernetesNode(top *topology.Topology, host string) bool {
	n := top.Node(host)
	return n != nil && topology.IsKubernetes(n.Kind)
}
