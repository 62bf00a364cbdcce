package kind

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/impl/config"
	"github.com/ironlb/ironlb/lab/topology"
)

// Network is Kind's own Docker network: a topology network of that name is it (the l2 topology's
// is, as a Kind cluster's); the lab's other networks are named LAB-NETWORK.
const Network = "kind"

// Plan is how a topology maps onto Kind: the cluster's configuration, which Kind node each
// Kubernetes host is, the Docker networks, and the other hosts (routers, clients) as containers.
type Plan struct {
	// Config is Kind's cluster configuration (kind.x-k8s.io/v1alpha4).
	Config []byte
	// Nodes maps a topology host to the Kind node (container and Node name) it is: Kind names
	// them CLUSTER-control-plane, CLUSTER-worker, CLUSTER-worker2, ... by role and order.
	Nodes map[string]string
	// Others are the hosts that run as plain containers (routers, clients), on their networks
	// in order (eth0, eth1, ...).
	Others []topology.Node
	// Networks are the Docker networks, the Kubernetes nodes' first (Kind puts its nodes there).
	Networks []DockerNetwork
	// LabCNI is set when the lab brings the pod network (lab/kind/kindnet): the node image has
	// no kindnetd.
	LabCNI bool
}

// DockerNetwork is a topology network as a Docker network.
type DockerNetwork struct {
	Name, Topology  string // Docker's name, the topology's
	Subnet, Subnet6 string
	// Gateway is Docker's address on it (the engine's side): the subnet's first address unless a
	// host of the topology has it, else the last free one.
	Gateway string
}

// ContainerName is the Docker container of host in lab name, for hosts that are not Kind's nodes
// (routers and clients); Kind names its nodes itself.
func ContainerName(lab, host string) string { return lab + "-" + host }

// DockerName is the Docker network of topology network nw in lab name.
func DockerName(lab, nw string) string {
	if nw == Network {
		return Network
	}
	return lab + "-" + nw
}

// PlanFor maps topology top onto Kind cluster name. What Kind cannot express is refused by name:
// Kubernetes nodes on more than one network, a second control plane, point-to-point links.
// kindCNI keeps Kind's own pod network (kindnetd, in the node image); without it the lab brings
// its own (lab/kind/kindnet).
func PlanFor(top *topology.Topology, name string, kindCNI bool) (*Plan, error) {
	if len(top.Links) > 0 {
		return nil, fmt.Errorf("topology %q has point-to-point links: the kind provider has Docker networks only; use the netns provider", top.Name)
	}
	p := &Plan{Nodes: map[string]string{}, LabCNI: !kindCNI}
	type node struct {
		Role   string            `json:"role"`
		Labels map[string]string `json:"labels,omitempty"`
	}
	var nodes []node
	nodeNet := ""
	cps, workers := 0, 0
	for _, n := range top.Nodes {
		if topology.IsKubernetes(n.Kind) {
			if len(n.Networks) != 1 || (nodeNet != "" && n.Networks[0].Network != nodeNet) {
				return nil, fmt.Errorf("host %q: Kind puts every node on one network; this topology's Kubernetes nodes are on several", n.Name)
			}
			nodeNet = n.Networks[0].Network
		}
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
		case topology.KindClient, topology.KindRouter:
			if isKindNodeName(n.Name) {
				return nil, fmt.Errorf("host %q (%s): Kind names its nodes control-plane, worker, worker2, ...; a %s of that name would take a node's container name: rename it", n.Name, n.Kind, n.Kind)
			}
			if len(n.Networks) == 0 {
				return nil, fmt.Errorf("host %q is on no network: the kind provider has Docker networks only", n.Name)
			}
			p.Others = append(p.Others, n)
		default:
			return nil, fmt.Errorf("host %q: kind %q", n.Name, n.Kind)
		}
	}
	if cps == 0 {
		return nil, fmt.Errorf("topology %q has no control-plane host", top.Name)
	}
	var nodeSubnet6 string
	for _, nw := range top.Networks {
		gw, err := gateway(top, nw)
		if err != nil {
			return nil, err
		}
		dn := DockerNetwork{Name: DockerName(name, nw.Name), Topology: nw.Name, Subnet: nw.Subnet, Subnet6: nw.Subnet6, Gateway: gw}
		if nw.Name == nodeNet {
			p.Networks = append([]DockerNetwork{dn}, p.Networks...)
			nodeSubnet6 = nw.Subnet6
		} else {
			p.Networks = append(p.Networks, dn)
		}
	}
	nw := struct{ Subnet6 string }{nodeSubnet6}
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
			// Without kindnetd in the node image, the lab brings the pod network (lab/kind/kindnet).
			"disableDefaultCNI": !kindCNI,
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

// gateway is the Docker gateway address of a topology network: the subnet's first address
// unless a host has it, else the last address no host has.
func gateway(top *topology.Topology, nw topology.Network) (string, error) {
	pfx, err := netip.ParsePrefix(nw.Subnet)
	if err != nil {
		return "", fmt.Errorf("network %q: subnet %q: %w", nw.Name, nw.Subnet, err)
	}
	used := map[netip.Addr]bool{}
	for _, n := range top.Nodes {
		for _, a := range n.Networks {
			if ip, err := netip.ParseAddr(a.Address); err == nil && a.Network == nw.Name {
				used[ip] = true
			}
		}
	}
	inRanges := func(ip netip.Addr) bool {
		for _, r := range top.LoadBalancerRanges {
			if rg, err := config.ParseRange(r); err == nil && rg.Contains(ip) {
				return true
			}
		}
		return false
	}
	if !pfx.Addr().Is4() {
		return "", fmt.Errorf("network %q: subnet %q is not IPv4", nw.Name, nw.Subnet)
	}
	free := func(ip netip.Addr) bool { return !used[ip] && !inRanges(ip) }
	first := pfx.Masked().Addr().Next()
	if free(first) {
		return first.String(), nil
	}
	// down from the last address before the broadcast one
	base := pfx.Masked().Addr().As4()
	last := binary.BigEndian.Uint32(base[:]) | (1<<(32-pfx.Bits()) - 1)
	for ip := netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, last))).Prev(); pfx.Contains(ip) && ip != first; ip = ip.Prev() {
		if free(ip) {
			return ip.String(), nil
		}
	}
	return "", fmt.Errorf("network %q: no free address for Docker's gateway", nw.Name)
}

// isKindNodeName says whether Kind could name a node CLUSTER-name.
func isKindNodeName(name string) bool {
	if name == "control-plane" || name == "worker" {
		return true
	}
	rest, ok := strings.CutPrefix(name, "worker")
	if !ok {
		rest, ok = strings.CutPrefix(name, "control-plane")
	}
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
