package kind

import (
	"strings"
	"testing"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

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
	p, err := PlanFor(load(t, l2), "l2-iro")
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
	if len(p.Clients) != 1 || p.Clients[0].Name != "client" || p.Subnet != "172.18.0.0/16" || p.Subnet6 != "fc00:f853:ccd:e793::/64" {
		t.Fatalf("clients %v, subnets %s %s", p.Clients, p.Subnet, p.Subnet6)
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

// What Kind cannot be made to do is refused, naming the host or the network.
func TestPlanForRefuses(t *testing.T) {
	base := func() *topology.Topology { return load(t, l2) }
	twoNets := base()
	twoNets.Networks = append(twoNets.Networks, topology.Network{Name: "other", Subnet: "10.9.0.0/24"})
	router := base()
	router.Nodes = append(router.Nodes, topology.Node{Name: "tor", Kind: topology.KindRouter})
	twoCPs := base()
	twoCPs.Nodes = append(twoCPs.Nodes, topology.Node{Name: "cp2", Kind: topology.KindControlPlane})
	noCP := base()
	noCP.Nodes = noCP.Nodes[1:]
	for _, tc := range []struct {
		name string
		top  *topology.Topology
		want string
	}{
		{"two networks", twoNets, "one network"},
		{"a router", router, `host "tor" (router)`},
		{"two control planes", twoCPs, `host "cp2"`},
		{"no control plane", noCP, "no control-plane host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := PlanFor(tc.top, "x"); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("PlanFor: %v, want an error with %q", err, tc.want)
			}
		})
	}
}
