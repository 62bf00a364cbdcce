package speaker

import (
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/impl/config"
	"github.com/ironlb/ironlb/impl/election"
)

func TestPlanBGP(t *testing.T) {
	r4, _ := config.ParseRange("10.200.0.0/24")
	r6, _ := config.ParseRange("fd00:200::/120")
	comm, _ := config.ParseCommunity("65535:65282")
	rack1 := []config.Selector{{MatchLabels: map[string]string{"rack": "1"}}}
	cfg := &config.Config{
		Pools: map[string]*config.Pool{"p": {Name: "p", Ranges: []config.Range{r4, r6}, BGPAdvertisements: []*config.BGPAdvertisement{
			{Name: "all", AggregationLength: 32, AggregationLengthV6: 128},
			{Name: "agg", AggregationLength: 24, AggregationLengthV6: 124, LocalPref: 200, Communities: []config.Community{comm},
				Peers: []string{"r2"}, NodeSelectors: rack1},
		}}},
		Peers: map[string]*config.Peer{
			"r1": {Name: "r1", MyASN: 64512, ASN: 64601, Address: netip.MustParseAddr("172.19.0.250")},
			"r2": {Name: "r2", MyASN: 64512, ASN: 64512, Address: netip.MustParseAddr("172.19.0.251")},
			"r3": {Name: "r3", MyASN: 64512, ASN: 64603, Address: netip.MustParseAddr("172.19.0.252"), NodeSelectors: rack1},
		},
	}
	svcs := []corev1.Service{lbService("web", false, "10.200.0.7", "fd00:200::7"), lbService("local", true, "10.200.0.8"),
		lbService("elsewhere", false, "192.0.2.1")}
	eps := []discoveryv1.EndpointSlice{endpointsOn("local", "a")}
	show := func(p bgpPlan) string {
		var peers []string
		for _, x := range p.peers {
			peers = append(peers, x.Name)
		}
		return fmt.Sprintf("peers %v routes %v services %v", peers, p.routes, p.services)
	}
	for _, tc := range []struct {
		name string
		node corev1.Node
		want string
	}{
		{"rack 1 node with the Local endpoint: every peer, the aggregate to r2 only",
			node("a", true, map[string]string{"rack": "1"}),
			"peers [r1 r2 r3] routes map[r1:[10.200.0.7/32 fd00:200::7/128 10.200.0.8/32] " +
				"r2:[10.200.0.7/32 10.200.0.0/24 (localpref 200, 65535:65282) fd00:200::7/128 fd00:200::/124 (localpref 200, 65535:65282) 10.200.0.8/32 10.200.0.0/24 (localpref 200, 65535:65282)] " +
				"r3:[10.200.0.7/32 fd00:200::7/128 10.200.0.8/32]] services map[default/local:[r1 r2 r3] default/web:[r1 r2 r3]]"},
		{"another rack, no Local endpoint: no r3, no aggregate, no local",
			node("b", true, map[string]string{"rack": "2"}),
			"peers [r1 r2] routes map[r1:[10.200.0.7/32 fd00:200::7/128] r2:[10.200.0.7/32 fd00:200::7/128]] services map[default/web:[r1 r2]]"},
		{"excluded from load balancers: nothing",
			node("c", true, map[string]string{election.ExcludeLabel: ""}),
			"peers [] routes map[] services map[]"},
	} {
		got := show(planBGP(&tc.node, cfg, "", svcs, eps))
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	// The Service's status names its peers.
	p := planBGP(&corev1.Node{}, nil, "", svcs, eps)
	if len(p.peers) != 0 || len(p.services[types.NamespacedName{Namespace: "default", Name: "web"}]) != 0 {
		t.Error("no configuration, no plan")
	}
}
