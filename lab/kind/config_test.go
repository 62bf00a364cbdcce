package kind

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/lab/kind/engine"
	"github.com/ironlb/ironlb/lab/topology"
)

func load(t *testing.T, src string) *topology.Topology {
	t.Helper()
	top, err := topology.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return top
}

const l2 = `apiVersion: lab.ironlb.io/v1alpha1
kind: Topology
name: l2
networks:
- {name: kind, subnet: 172.18.0.0/16, subnet6: "fc00:f853:ccd:e793::/64"}
nodes:
- {name: control-plane, kind: control-plane}
- {name: worker, kind: worker}
- {name: worker2, kind: worker, labels: {zone: b}}
- {name: worker3, kind: worker}
- {name: client, kind: client}
`

func TestPlanFor(t *testing.T) {
	p, err := PlanFor(load(t, l2), "l2-iro", false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"control-plane": "l2-iro-control-plane", "worker": "l2-iro-worker", "worker2": "l2-iro-worker2", "worker3": "l2-iro-worker3"}
	if len(p.Nodes) != len(want) {
		t.Fatalf("nodes %v, want %v", p.Nodes, want)
	}
	for h, n := range want {
		if p.Nodes[h] != n {
			t.Errorf("host %s is Kind node %q, want %q", h, p.Nodes[h], n)
		}
	}
	wantNet := DockerNetwork{Name: "kind", Topology: "kind", Subnet: "172.18.0.0/16", Subnet6: "fc00:f853:ccd:e793::/64", Gateway: "172.18.0.1"}
	if len(p.Others) != 1 || p.Others[0].Name != "client" || len(p.Networks) != 1 || p.Networks[0] != wantNet {
		t.Fatalf("others %v, networks %+v", p.Others, p.Networks)
	}
	// Kind's own type, strictly: a field Kind does not know fails.
	var cfg v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(p.Config, &cfg); err != nil {
		t.Fatalf("%v\n%s", err, p.Config)
	}
	n := cfg.Networking
	if cfg.Kind != "Cluster" || cfg.APIVersion != "kind.x-k8s.io/v1alpha4" || cfg.Name != "l2-iro" || !n.DisableDefaultCNI || n.KubeProxyMode != "nftables" || n.IPFamily != "dual" ||
		n.PodSubnet != "10.244.0.0/16,fd00:10:244::/56" || n.ServiceSubnet != "10.96.0.0/16,fd00:10:96::/112" {
		t.Fatalf("config:\n%s", p.Config)
	}
	if len(cfg.Nodes) != 4 || cfg.Nodes[0].Role != "control-plane" || cfg.Nodes[2].Role != "worker" || cfg.Nodes[2].Labels["zone"] != "b" {
		t.Fatalf("nodes: %+v", cfg.Nodes)
	}
	if len(cfg.KubeadmConfigPatches) != 1 || !strings.Contains(cfg.KubeadmConfigPatches[0], "failCgroupV1: false") {
		t.Fatalf("patches: %q", cfg.KubeadmConfigPatches)
	}
}

// A node image that holds kindnetd (any kindest/node) keeps Kind's pod network; the one built
// here does not, and the lab brings its own.
func TestPlanForCNI(t *testing.T) {
	for _, kindCNI := range []bool{true, false} {
		p, err := PlanFor(load(t, l2), "l2", kindCNI)
		if err != nil {
			t.Fatal(err)
		}
		var cfg v1alpha4.Cluster
		if err := yaml.UnmarshalStrict(p.Config, &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.Networking.DisableDefaultCNI == kindCNI || p.LabCNI == kindCNI {
			t.Errorf("Kind's CNI %v: disableDefaultCNI %v, the lab's CNI %v", kindCNI, cfg.Networking.DisableDefaultCNI, p.LabCNI)
		}
	}
}

const bgp = `apiVersion: lab.ironlb.io/v1alpha1
kind: Topology
name: bgp
networks:
- {name: fabric, subnet: 172.19.0.0/16}
- {name: outside, subnet: 192.168.100.0/24}
nodes:
- {name: control-plane, kind: control-plane}
- {name: worker, kind: worker}
- name: router1
  kind: router
  router: {type: gobgp, asn: 64601}
  networks: [{network: fabric, address: 172.19.0.250}, {network: outside, address: 192.168.100.1}]
- name: client
  kind: client
  networks: [{network: outside, address: 192.168.100.10}]
loadBalancerRanges: [10.200.0.0/24]
`

// Routers and clients are containers on their networks; the nodes' network comes first (Kind's);
// Docker's gateway keeps out of the hosts' addresses.
func TestPlanForRouters(t *testing.T) {
	p, err := PlanFor(load(t, bgp), "bgp-iro", false)
	if err != nil {
		t.Fatal(err)
	}
	want := []DockerNetwork{
		{Name: "bgp-iro-fabric", Topology: "fabric", Subnet: "172.19.0.0/16", Gateway: "172.19.0.1"},
		{Name: "bgp-iro-outside", Topology: "outside", Subnet: "192.168.100.0/24", Gateway: "192.168.100.254"},
	}
	if len(p.Networks) != 2 || p.Networks[0] != want[0] || p.Networks[1] != want[1] {
		t.Fatalf("networks %+v, want %+v", p.Networks, want)
	}
	if len(p.Others) != 2 || p.Others[0].Name != "router1" || p.Others[1].Name != "client" || len(p.Nodes) != 2 {
		t.Fatalf("others %v, nodes %v", p.Others, p.Nodes)
	}
}

func TestGateway(t *testing.T) {
	top := load(t, bgp)
	top.Nodes = append(top.Nodes, topology.Node{Name: "c2", Kind: topology.KindClient, Networks: []topology.Attachment{{Network: "outside", Address: "192.168.100.254"}}})
	if gw, err := gateway(top, top.Networks[1]); err != nil || gw != "192.168.100.253" {
		t.Fatalf("gateway with .1 and .254 taken: %q %v", gw, err)
	}
	full := &topology.Topology{Networks: []topology.Network{{Name: "tiny", Subnet: "10.0.0.0/30"}},
		Nodes: []topology.Node{{Name: "a", Networks: []topology.Attachment{{Network: "tiny", Address: "10.0.0.1"}}}, {Name: "b", Networks: []topology.Attachment{{Network: "tiny", Address: "10.0.0.2"}}}}}
	if gw, err := gateway(full, full.Networks[0]); err == nil {
		t.Fatalf("a full network got gateway %s", gw)
	}
}

// What Kind cannot be made to do is refused, naming the host or the topology.
func TestPlanForRefuses(t *testing.T) {
	base := func() *topology.Topology { return load(t, l2) }
	twoNets := base()
	twoNets.Networks = append(twoNets.Networks, topology.Network{Name: "other", Subnet: "10.9.0.0/24"})
	twoNets.Nodes[1].Networks = append(twoNets.Nodes[1].Networks, topology.Attachment{Network: "other", Address: "10.9.0.2"})
	links := base()
	links.Links = []topology.Link{{Subnet: "10.8.0.0/30"}}
	twoCPs := base()
	twoCPs.Nodes = append(twoCPs.Nodes, topology.Node{Name: "cp2", Kind: topology.KindControlPlane, Networks: twoCPs.Nodes[0].Networks})
	noCP := base()
	noCP.Nodes = noCP.Nodes[1:]
	for _, tc := range []struct {
		name string
		top  *topology.Topology
		want string
	}{
		{"a node on two networks", twoNets, `host "worker": Kind puts every node on one network`},
		{"point-to-point links", links, "point-to-point links"},
		{"two control planes", twoCPs, `host "cp2"`},
		{"no control plane", noCP, "no control-plane host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := PlanFor(tc.top, "x", false); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("PlanFor: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// A Kind node holds its pods' veths too: only its links on the lab's networks are its ports.
func TestBridgePorts(t *testing.T) {
	links := []Link{{Name: "lo", Type: "device"}, {Name: "eth0", Type: "veth", Peer: 41}, {Name: "veth1a2b", Type: "veth", Peer: 3}, {Name: "eth1", Type: "veth", Peer: 57}}
	for _, tc := range []struct {
		ifaces []string
		iface  string
		want   []int
		err    string
	}{
		{[]string{"eth0"}, "", []int{41}, ""},
		{[]string{"eth0", "eth1"}, "", []int{41, 57}, ""},
		{[]string{"eth0", "eth1"}, "eth1", []int{57}, ""},
		{[]string{"eth0"}, "veth1a2b", nil, "not one of its interfaces"},
		{[]string{"eth2"}, "", nil, `no veth "eth2"`},
		{[]string{"lo"}, "", nil, `no veth "lo"`},
	} {
		got, err := BridgePorts(links, tc.ifaces, tc.iface)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("BridgePorts(%v, %q): %v, want an error with %q", tc.ifaces, tc.iface, err, tc.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("BridgePorts(%v, %q) = %v, %v; want %v", tc.ifaces, tc.iface, got, err, tc.want)
		}
	}
}

// Docker's gateway keeps out of load-balancer ranges too (a range, or a CIDR).
func TestGatewayOutOfRanges(t *testing.T) {
	top := &topology.Topology{Networks: []topology.Network{{Name: "n", Subnet: "10.1.0.0/24"}},
		LoadBalancerRanges: []string{"10.1.0.1-10.1.0.3", "10.1.0.252/30"}}
	if gw, err := gateway(top, top.Networks[0]); err != nil || gw != "10.1.0.251" {
		t.Fatalf("gateway = %q, %v; want 10.1.0.251", gw, err)
	}
}

func TestKindNodeNames(t *testing.T) {
	for name, want := range map[string]bool{"worker": true, "worker2": true, "worker12": true, "control-plane": true, "control-plane2": true,
		"workers": false, "worker-a": false, "client": false, "router1": false, "": false} {
		if got := isKindNodeName(name); got != want {
			t.Errorf("isKindNodeName(%q) = %v, want %v", name, got, want)
		}
	}
	top := load(t, l2)
	top.Nodes[4].Name = "worker4"
	if _, err := PlanFor(top, "x", false); err == nil || !strings.Contains(err.Error(), `host "worker4" (client)`) {
		t.Fatalf("a client named worker4: %v", err)
	}
}

// down of a lab in an engine that does not answer says its containers are left, and starts no
// engine of the lab's own for it.
func TestDeleteWithExternalEngineAway(t *testing.T) {
	old := engine.Dir
	engine.Dir = t.TempDir()
	defer func() { engine.Dir = old; engine.Use("") }()
	engine.Use(filepath.Join(t.TempDir(), "gone.sock"))
	err := Delete("l2", filepath.Join(t.TempDir(), "kubeconfig"), func(string) {})
	if err == nil || !strings.Contains(err.Error(), "does not answer: lab l2's containers and networks there are left") {
		t.Fatalf("Delete: %v", err)
	}
	if engine.Own() || engine.PID() != 0 {
		t.Errorf("an engine runs: own %v, pid %d", engine.Own(), engine.PID())
	}
	if entries, _ := os.ReadDir(engine.Dir); len(entries) > 1 {
		t.Errorf("the own engine's directory got more than its lock: %v", entries)
	}
}
