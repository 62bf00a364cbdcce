package speaker

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/impl/config"
	"github.com/ironlb/ironlb/impl/election"
)

func node(name string, ready bool, labels map[string]string) corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}}}
}

func lbService(name string, local bool, ips ...string) corev1.Service {
	s := corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	if local {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	for _, ip := range ips {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	return s
}

func endpointsOn(svc string, nodes ...string) discoveryv1.EndpointSlice {
	s := discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: svc + "-x",
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}}}
	ready := true
	for _, n := range nodes {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{NodeName: &n, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
	return s
}

func mustConfig(t *testing.T, in config.Input) *config.Config {
	t.Helper()
	cfg, err := config.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// owners returns, for each address, the node that announces it, asking every node's plan: exactly
// one node must claim each address.
func owners(t *testing.T, cfg *config.Config, svcs []corev1.Service, nodes []corev1.Node, eps []discoveryv1.EndpointSlice, alive map[string]bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range nodes {
		p := planL2(n.Name, cfg, "", svcs, nodes, eps, alive)
		for ip := range p.owned {
			if prev, dup := out[ip.String()]; dup {
				t.Fatalf("%s announced by %s and %s", ip, prev, n.Name)
			}
			out[ip.String()] = n.Name
		}
	}
	return out
}

func TestPlanL2(t *testing.T) {
	in := config.Input{
		Pools: []config.PoolSpec{{Name: "l2", Addresses: []string{"172.18.255.200-172.18.255.250", "fc00::c8-fc00::fa"}},
			{Name: "bgp-only", Addresses: []string{"10.10.0.0/24"}}},
		L2Advertisements: []config.L2AdvertisementSpec{{Name: "all", Pools: []string{"l2"}}},
	}
	cfg := mustConfig(t, in)
	nodes := []corev1.Node{node("a", true, nil), node("b", true, nil), node("c", true, nil), node("down", false, nil)}
	svcs := []corev1.Service{lbService("dual", false, "172.18.255.200", "fc00::c8"), lbService("other", false, "172.18.255.201"),
		lbService("not-l2", false, "10.10.0.1"), lbService("local", true, "172.18.255.202")}
	eps := []discoveryv1.EndpointSlice{endpointsOn("local", "c", "down")}

	got := owners(t, cfg, svcs, nodes, eps, nil)
	if got["172.18.255.200"] == "" || got["172.18.255.200"] != got["fc00::c8"] {
		t.Errorf("a dual-stack Service has one owner for both families: %v", got)
	}
	if _, ok := got["10.10.0.1"]; ok {
		t.Error("an address of a pool without L2Advertisement is announced")
	}
	if got["172.18.255.202"] != "c" {
		t.Errorf("externalTrafficPolicy Local: owner %q, want c (the only ready node with an endpoint)", got["172.18.255.202"])
	}
	for ip, n := range got {
		if n == "down" {
			t.Errorf("%s owned by a NotReady node", ip)
		}
	}

	// The owner of "dual" dies (gossip): only its addresses move.
	dead := got["172.18.255.200"]
	alive := map[string]bool{"a": true, "b": true, "c": true, "down": true}
	delete(alive, dead)
	after := owners(t, cfg, svcs, nodes, eps, alive)
	for ip, n := range got {
		if n != dead && after[ip] != n {
			t.Errorf("%s moved from %s to %s though its owner lives", ip, n, after[ip])
		}
		if n == dead && (after[ip] == dead || after[ip] == "") && ip != "172.18.255.202" {
			t.Errorf("%s not taken over after %s died: %v", ip, dead, after)
		}
	}

	// nodeSelectors and interfaces come from the advertisements.
	in.L2Advertisements = []config.L2AdvertisementSpec{{Name: "zone", Pools: []string{"l2"}, Interfaces: []string{"eth1"},
		NodeSelectors: []config.Selector{{MatchLabels: map[string]string{"zone": "x"}}}}}
	cfg = mustConfig(t, in)
	nodes = []corev1.Node{node("a", true, nil), node("b", true, map[string]string{"zone": "x"})}
	p := planL2("b", cfg, "", svcs[:2], nodes, nil, nil)
	if ips := slices.SortedFunc(maps.Keys(p.owned), netip.Addr.Compare); len(ips) != 3 {
		t.Fatalf("b should own all 3 addresses of dual and other, owns %v", ips)
	}
	for ip, ifaces := range p.owned {
		if !slices.Equal(ifaces, []string{"eth1"}) {
			t.Errorf("%s announced on %v, want [eth1]", ip, ifaces)
		}
	}
	if p := planL2("a", cfg, "", svcs[:2], nodes, nil, nil); len(p.owned) != 0 {
		t.Errorf("a does not match the nodeSelector but owns %v", p.owned)
	}
	// Another class is not ours.
	class := "other"
	svcs[0].Spec.LoadBalancerClass = &class
	if p := planL2("b", cfg, "", svcs[:1], nodes, nil, nil); len(p.owned) != 0 {
		t.Errorf("a Service of another loadBalancerClass is announced: %v", p.owned)
	}
}

// A node labelled node.kubernetes.io/exclude-from-external-load-balancers (kubeadm puts it on
// control-plane nodes) never announces in layer 2 mode, whatever selects it, as with MetalLB.
func TestPlanL2NodeExcludedFromLoadBalancers(t *testing.T) {
	kubeadmCP := map[string]string{"node-role.kubernetes.io/control-plane": "", election.ExcludeLabel: ""}
	roleOnly := map[string]string{"node-role.kubernetes.io/control-plane": ""}
	var svcs []corev1.Service
	for i := range 40 {
		svcs = append(svcs, lbService(fmt.Sprintf("s%d", i), false, fmt.Sprintf("172.18.255.%d", 200+i)))
	}
	local := lbService("local", true, "172.18.255.250")
	onlyCP := []discoveryv1.EndpointSlice{endpointsOn("local", "control-plane")}
	cpSelector := []config.Selector{{MatchLabels: map[string]string{"node-role.kubernetes.io/control-plane": ""}}}
	for _, tc := range []struct {
		name      string
		cpLabels  map[string]string
		selectors []config.Selector
		svcs      []corev1.Service
		eps       []discoveryv1.EndpointSlice
		wantCP    bool // the control plane owns at least one address
	}{
		{name: "without the label the control plane is a candidate like any node", cpLabels: roleOnly, svcs: svcs, wantCP: true},
		{name: "kubeadm's labels: never the owner", cpLabels: kubeadmCP, svcs: svcs},
		{name: "an L2Advertisement selecting the control plane: nobody", cpLabels: kubeadmCP, selectors: cpSelector, svcs: svcs},
		{name: "Local with its only endpoint on the control plane: nobody", cpLabels: kubeadmCP, svcs: []corev1.Service{local}, eps: onlyCP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustConfig(t, config.Input{
				Pools:            []config.PoolSpec{{Name: "l2", Addresses: []string{"172.18.255.200-172.18.255.250"}}},
				L2Advertisements: []config.L2AdvertisementSpec{{Name: "adv", Pools: []string{"l2"}, NodeSelectors: tc.selectors}},
			})
			nodes := []corev1.Node{node("control-plane", true, tc.cpLabels), node("worker", true, nil), node("worker2", true, nil)}
			got := owners(t, cfg, tc.svcs, nodes, tc.eps, nil)
			cpOwns := slices.Contains(slices.Collect(maps.Values(got)), "control-plane")
			if cpOwns != tc.wantCP {
				t.Errorf("control plane owns an address: %v, want %v (owners %v)", cpOwns, tc.wantCP, got)
			}
			if !tc.wantCP && (len(tc.selectors) > 0 || tc.eps != nil) && len(got) != 0 {
				t.Errorf("owners %v, want none", got)
			}
		})
	}
}
