package kind

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/lab/topology"
)

// Network is the Docker network of the lab: Kind's own, "kind", as the l2 topology's is.
const Network = "kind"

// Plan is how a topology maps onto Kind: the cluster's configuration, which Kind node each
// Kubernetes host is, and the other hosts (clients) as containers.
type Plan struct {
	// Config is Kind's cluster configuration (kind.x-k8s.io/v1alpha4).
	Config []byte
	// Nodes maps a topology host to the Kind node (container and Node name) it is: Kind names
	// them CLUSTER-control-plane, CLUSTER-worker, CLUSTER-worker2, ... by role and order.
	Nodes map[string]string
	// Clients are the hosts that run as plain containers on the network.
	Clients []topology.Node
	// Subnet and Subnet6 are the network's.
	Subnet, Subnet6 string
}

// PlanFor maps topology top onto Kind cluster name. What Kind cannot express is refused by name:
// more than one network, routers, a second control plane, a kube-proxy mode Kind lacks.
func PlanFor(top *topology.Topology, name string) (*Plan, error) {
	if len(top.Networks) != 1 {
		return nil, fmt.Errorf("the kind provider builds one network (Kind's %q); topology %q has %d: use the netns provider", Network, top.Name, len(top.Networks))
	}
	nw := top.Networks[0]
	p := &Plan{Nodes: map[string]string{}, Subnet: nw.Subnet, Subnet6: nw.Subnet6}
	type node struct {
		Role   string            `json:"role"`
		Labels map[string]string `json:"labels,omitempty"`
	}
	var nodes []node
	cps, workers := 0, 0
	for _, n := range top.Nodes {
		switch n.Kind {
		case topology.KindControlPlane:
			cps++
			if cps > 1 {
				return nil, fmt.Errorf("host %q: the kind provider makes one control-plane node", n.Name)
			}
			p.Nodes[n.Name] = name + "-control-plane"
			nodes = append(nodes, node{Role: "control-plane", Labels: n.Labels})
		case topology.KindWorker:
			workers++
			kn := name + "-worker"
			if workers > 1 {
				kn = fmt.Sprintf("%s-worker%d", name, workers)
			}
			p.Nodes[n.Name] = kn
			nodes = append(nodes, node{Role: "worker", Labels: n.Labels})
		case topology.KindClient:
			p.Clients = append(p.Clients, n)
		default:
			return nil, fmt.Errorf("host %q (%s): the kind provider has no %ss yet; use the netns provider", n.Name, n.Kind, n.Kind)
		}
	}
	if cps == 0 {
		return nil, fmt.Errorf("topology %q has no control-plane host", top.Name)
	}
	d := top.Defaults
	family := "ipv4"
	pods, services := d.PodCIDR, d.ServiceCIDR
	if nw.Subnet6 != "" {
		family = "dual"
		pods += "," + d.PodCIDR6
		services += "," + d.ServiceCIDR6
	}
	mode := d.KubeProxyMode
	if mode == "" {
		mode = "nftables"
	}
	cfg := map[string]any{
		"kind":       "Cluster",
		"apiVersion": "kind.x-k8s.io/v1alpha4",
		"name":       name,
		"networking": map[string]any{
			// The provider brings the pod network (lab/kind/kindnet): kindnetd cannot be pulled.
			"disableDefaultCNI": true,
			"kubeProxyMode":     mode,
			"ipFamily":          family,
			"podSubnet":         strings.TrimSuffix(pods, ","),
			"serviceSubnet":     strings.TrimSuffix(services, ","),
		},
		"nodes": nodes,
		// The kubelet refuses cgroup v1 unless told otherwise (Kubernetes 1.35 and later).
		"kubeadmConfigPatches": []string{"kind: KubeletConfiguration\nfailCgroupV1: false\n"},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	p.Config = b
	return p, nil
}
