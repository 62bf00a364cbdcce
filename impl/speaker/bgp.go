package speaker

import (
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/impl/bgp"
	"github.com/ironlb/ironlb/impl/config"
	"github.com/ironlb/ironlb/impl/controller"
	"github.com/ironlb/ironlb/impl/election"
)

// bgpPlan is what this node says over BGP: to which peers, which routes.
type bgpPlan struct {
	peers    []*config.Peer
	routes   map[string][]bgp.Route            // by peer name
	services map[types.NamespacedName][]string // the peers each Service is advertised to
}

// planBGP decides this node's BGP sessions and announcements. Every eligible node advertises
// (the routers spread traffic over them): a node takes part unless it is excluded from load
// balancers or its network is unavailable; a peer applies when its nodeSelectors match the node;
// an advertisement when its nodeSelectors do; with externalTrafficPolicy Local only nodes with a
// ready endpoint of the Service advertise it.
func planBGP(me *corev1.Node, cfg *config.Config, lbClass string, svcs []corev1.Service, eps []discoveryv1.EndpointSlice) bgpPlan {
	plan := bgpPlan{routes: map[string][]bgp.Route{}, services: map[types.NamespacedName][]string{}}
	if me == nil || cfg == nil {
		return plan
	}
	if _, excluded := me.Labels[election.ExcludeLabel]; excluded {
		return plan
	}
	for _, c := range me.Status.Conditions {
		if c.Type == corev1.NodeNetworkUnavailable && c.Status == corev1.ConditionTrue {
			return plan
		}
	}
	var peerNames []string
	for name, p := range cfg.Peers {
		if len(p.NodeSelectors) == 0 || config.MatchesAny(p.NodeSelectors, me.Labels) {
			plan.peers = append(plan.peers, p)
			peerNames = append(peerNames, name)
		}
	}
	slices.SortFunc(plan.peers, func(a, b *config.Peer) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(peerNames)
	if len(plan.peers) == 0 {
		return plan
	}
	endpoints := readyEndpointNodes(eps)
	for _, svc := range svcs {
		if !controller.WantsAddress(&svc, lbClass) {
			continue
		}
		key := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
		if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal && !endpoints[key][me.Name] {
			continue
		}
		to := map[string]bool{}
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			ip, err := netip.ParseAddr(ing.IP)
			if err != nil {
				continue
			}
			pool := cfg.PoolByAddress(ip)
			if pool == nil {
				continue
			}
			for _, adv := range pool.BGPAdvertisements {
				if len(adv.NodeSelectors) > 0 && !config.MatchesAny(adv.NodeSelectors, me.Labels) {
					continue
				}
				bits := adv.AggregationLength
				if ip.Is6() {
					bits = adv.AggregationLengthV6
				}
				if bits <= 0 || bits > ip.BitLen() {
					bits = ip.BitLen()
				}
				prefix, _ := ip.Prefix(bits)
				route := bgp.Route{Prefix: prefix, LocalPref: adv.LocalPref, Communities: slices.Clone(adv.Communities)}
				targets := adv.Peers
				if len(targets) == 0 {
					targets = peerNames
				}
				for _, p := range targets {
					if !slices.Contains(peerNames, p) {
						continue // a peer of another node
					}
					plan.routes[p] = append(plan.routes[p], route)
					to[p] = true
				}
			}
		}
		if len(to) > 0 {
			var names []string
			for p := range to {
				names = append(names, p)
			}
			slices.Sort(names)
			plan.services[key] = names
		}
	}
	return plan
}
