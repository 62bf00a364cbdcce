// Package topology is the lab's Topology YAML: the model, strict parsing, defaults and validation.
// It is pure (no Kubernetes, netlink or sockets): backends turn a validated Topology into
// namespaces, links and processes.
package topology

// APIVersion and Kind head every topology file.
const (
	APIVersion = "lab.ironlb.io/v1alpha1"
	Kind       = "Topology"
)

// Node kinds.
const (
	KindControlPlane = "control-plane"
	KindWorker       = "worker"
	KindRouter       = "router"
	KindClient       = "client"
)

// Router types.
const (
	RouterGoBGP = "gobgp"
	RouterFRR   = "frr"
)

// Topology is a lab: L2 networks, the hosts on them and point-to-point links.
type Topology struct {
	APIVersion string `yaml:"apiVersion" json:"apiVersion" doc:"lab.ironlb.io/v1alpha1"`
	Kind       string `yaml:"kind" json:"kind" doc:"Topology"`
	// Name names the lab; every namespace, link and process it makes starts with it.
	Name     string    `yaml:"name" json:"name" doc:"lab name: a prefix of everything the lab creates (1-10 lowercase letters, digits, '-')"`
	Defaults Defaults  `yaml:"defaults,omitempty" json:"defaults,omitempty" doc:"cluster-wide settings"`
	Networks []Network `yaml:"networks" json:"networks" doc:"L2 segments (a bridge each)"`
	Nodes    []Node    `yaml:"nodes" json:"nodes" doc:"hosts: the control plane, workers, routers, clients"`
	Links    []Link    `yaml:"links,omitempty" json:"links,omitempty" doc:"point-to-point links between two hosts"`
	// LoadBalancerRanges are the addresses the lab leaves free for load-balancer pools.
	LoadBalancerRanges []string `yaml:"loadBalancerRanges,omitempty" json:"loadBalancerRanges,omitempty" doc:"address ranges left free for IPAddressPools (a range or CIDR inside a network)"`
	// Images maps container images to local binaries: pods with such an image run it as a process.
	Images []Image `yaml:"images,omitempty" json:"images,omitempty" doc:"container images run as local binaries (process pods); other images get the echo server"`
}

// Image maps a container image to the local binary that stands in for its entrypoint.
type Image struct {
	Image     string `yaml:"image" json:"image" doc:"image reference, e.g. quay.io/metallb/controller:v0.15.2; without a tag it matches every tag"`
	Path      string `yaml:"path,omitempty" json:"path,omitempty" doc:"a binary on this host (relative to the topology file)"`
	GoInstall string `yaml:"goinstall,omitempty" json:"goinstall,omitempty" doc:"a Go command at a version, MODULE/PATH@VERSION, built once into the lab cache with go install"`
	// Build names a program built from a wrapper module of this repository (make lab-bins), for
	// commands that go install cannot build (Traefik: its go.mod has replace directives).
	Build string `yaml:"build,omitempty" json:"build,omitempty" doc:"a program make lab-bins builds into the lab cache from a wrapper module of this repository: traefik, coredns, agnhost"`
	// OCI names an OCI image layout: the container runs the image itself (its root file system,
	// entrypoint, environment and user) with the pod's securityContext, as on a node.
	OCI string `yaml:"oci,omitempty" json:"oci,omitempty" doc:"an OCI image layout directory (make images writes bin/images/NAME; relative to the topology file): containers run the image's own files, entrypoint and user, with the pod's securityContext (user, capabilities, read-only root)"`
	// Unpacked is set by the lab in its image map for an oci entry: where the image for this
	// host's platform was unpacked, and its configuration. Topology files do not set it.
	Unpacked *Unpacked `yaml:"-" json:"unpacked,omitempty"`
}

// Unpacked is an OCI image unpacked for this host: its root file system and what its
// configuration says a container runs.
type Unpacked struct {
	Digest     string   `json:"digest"` // the platform image's manifest digest
	Rootfs     string   `json:"rootfs"` // the unpacked root file system (shared, never written)
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`
	User       string   `json:"user,omitempty"` // uid[:gid] or a name in the image's /etc/passwd
	WorkingDir string   `json:"workingDir,omitempty"`
}

// Defaults are cluster-wide settings.
type Defaults struct {
	PodCIDR       string `yaml:"podCIDR,omitempty" json:"podCIDR,omitempty" doc:"cluster pod range; each Kubernetes node gets a /24 of it (default 10.244.0.0/16)"`
	PodCIDR6      string `yaml:"podCIDR6,omitempty" json:"podCIDR6,omitempty" doc:"IPv6 pod range; each node gets a /64 of it (default fd00:10:244::/56 when a network has IPv6)"`
	ServiceCIDR   string `yaml:"serviceCIDR,omitempty" json:"serviceCIDR,omitempty" doc:"ClusterIP range (default 10.96.0.0/16)"`
	ServiceCIDR6  string `yaml:"serviceCIDR6,omitempty" json:"serviceCIDR6,omitempty" doc:"IPv6 ClusterIP range (default fd00:10:96::/112 when a network has IPv6)"`
	KubeProxyMode string `yaml:"kubeProxyMode,omitempty" json:"kubeProxyMode,omitempty" doc:"nftables (default) or iptables"`
	// ClusterDNS runs CoreDNS (kube-dns at the tenth address of serviceCIDR) and gives pods a
	// resolv.conf that points at it, as kubeadm and Kind do.
	ClusterDNS bool `yaml:"clusterDNS,omitempty" json:"clusterDNS,omitempty" doc:"run CoreDNS as kube-dns and point pods' resolv.conf at it (needs make lab-bins: coredns)"`
}

// Network is an L2 segment.
type Network struct {
	Name    string `yaml:"name" json:"name" doc:"network name"`
	Subnet  string `yaml:"subnet" json:"subnet" doc:"IPv4 subnet, e.g. 172.18.0.0/16"`
	Subnet6 string `yaml:"subnet6,omitempty" json:"subnet6,omitempty" doc:"IPv6 subnet, e.g. fc00:f853:ccd:e793::/64"`
}

// Node is a host of the lab.
type Node struct {
	Name     string            `yaml:"name" json:"name" doc:"host name (and Kubernetes node name)"`
	Kind     string            `yaml:"kind" json:"kind" doc:"control-plane, worker, router or client"`
	Networks []Attachment      `yaml:"networks,omitempty" json:"networks,omitempty" doc:"networks the host is on (default: the first network)"`
	PodCIDR  string            `yaml:"podCIDR,omitempty" json:"podCIDR,omitempty" doc:"Kubernetes nodes: pod range (default: the next /24 of defaults.podCIDR)"`
	PodCIDR6 string            `yaml:"podCIDR6,omitempty" json:"podCIDR6,omitempty" doc:"Kubernetes nodes: IPv6 pod range"`
	Labels   map[string]string `yaml:"labels,omitempty" json:"labels,omitempty" doc:"Kubernetes nodes: node labels"`
	Router   *Router           `yaml:"router,omitempty" json:"router,omitempty" doc:"routers: BGP settings"`
}

// Attachment puts a host on a network.
type Attachment struct {
	Network   string `yaml:"network" json:"network" doc:"network name"`
	Address   string `yaml:"address,omitempty" json:"address,omitempty" doc:"IPv4 address (default: the next free one from .2)"`
	Address6  string `yaml:"address6,omitempty" json:"address6,omitempty" doc:"IPv6 address (default: the next free one, when the network has IPv6)"`
	Interface string `yaml:"interface,omitempty" json:"interface,omitempty" doc:"interface name in the host (default eth0, eth1, ...)"`
}

// Router configures a router host.
type Router struct {
	Type string `yaml:"type,omitempty" json:"type,omitempty" doc:"gobgp (default) or frr"`
	ASN  uint32 `yaml:"asn" json:"asn" doc:"the router's AS number"`
	// NodeASN is the AS the cluster's speakers use towards this router (default 64512).
	NodeASN uint32 `yaml:"nodeASN,omitempty" json:"nodeASN,omitempty" doc:"AS number of the cluster's speakers (default 64512)"`
	// BFD is the router's side of BFD with each established neighbour.
	BFDInterval   string `yaml:"bfdInterval,omitempty" json:"bfdInterval,omitempty" doc:"BFD transmit and receive interval towards the nodes (default 100ms; 0s: no BFD)"`
	BFDMultiplier uint8  `yaml:"bfdMultiplier,omitempty" json:"bfdMultiplier,omitempty" doc:"BFD detect multiplier (default 3)"`
}

// Link is a point-to-point link between two hosts.
type Link struct {
	Endpoints []string `yaml:"endpoints" json:"endpoints" doc:"the two ends, HOST or HOST:INTERFACE"`
	Subnet    string   `yaml:"subnet" json:"subnet" doc:"IPv4 subnet of the link; the ends get its first two addresses"`
}

// NodeNetworks is the set of networks some Kubernetes node (control plane or worker) is on.
func (t *Topology) NodeNetworks() map[string]bool {
	out := map[string]bool{}
	for _, n := range t.Nodes {
		if IsKubernetes(n.Kind) {
			for _, a := range n.Networks {
				out[a.Network] = true
			}
		}
	}
	return out
}

// Node returns the host of that name, or nil.
func (t *Topology) Node(name string) *Node {
	for i := range t.Nodes {
		if t.Nodes[i].Name == name {
			return &t.Nodes[i]
		}
	}
	return nil
}
