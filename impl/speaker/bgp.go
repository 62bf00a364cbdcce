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
	"github.com/ironlb/ironlb/impl/election"
	"github.com/ironlb/ironlb/impl/lbclass"
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
	var peerNames []string
	plan.peers, peerNames = bgpPeers(me, cfg)
	if len(plan.peers) == 0 {
		return plan
	}
	endpoints := readyEndpointNodes(eps)
	for i := range svcs {
		key := types.NamespacedName{Namespace: svcs[i].Namespace, Name: svcs[i].Name}
		d := planBGPService(me, cfg, lbClass, peerNames, &svcs[i], endpoints[key])
		for p, routes := range d.routes {
			plan.routes[p] = append(plan.routes[p], routes...)
		}
		if len(d.peers) > 0 {
			plan.services[key] = d.peers
		}
	}
	return plan
}

// bgpPeers are the peers this node has sessions with (none when it takes no part), sorted by
// name, and their names.
func bgpPeers(me *corev1.Node, cfg *config.Config) ([]*config.Peer, []string) {
	if me == nil || cfg == nil {
		return nil, nil
	}
	if _, excluded := me.Labels[election.ExcludeLabel]; excluded {
		return nil, nil
	}
	for _, c := range me.Status.Conditions {
		if c.Type == corev1.NodeNetworkUnavailable && c.Status == corev1.ConditionTrue {
			return nil, nil
		}
	}
	var peers []*config.Peer
	var names []string
	for name, p := range cfg.Peers {
		if len(p.NodeSelectors) == 0 || config.MatchesAny(p.NodeSelectors, me.Labels) {
			peers = append(peers, p)
			names = append(names, name)
		}
	}
	slices.SortFunc(peers, func(a, b *config.Peer) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(names)
	return peers, names
}

// bgpService is what one Service asks of this node over BGP.
type bgpService struct {
	routes map[string][]bgp.Route // by peer name
	peers  []string               // the peers it is advertised to, sorted
}

// planBGPService decides the routes of one Service (the one place that decides them, for the
// pass over every Service and for the pass over one): peerNames are this node's peers (bgpPeers),
// endpointNodes the nodes with a ready endpoint of the Service.
func planBGPService(me *corev1.Node, cfg *config.Config, lbClass string, peerNames []string, svc *corev1.Service,
	endpointNodes map[string]bool) bgpService {
	var d bgpService
	if len(peerNames) == 0 || !lbclass.WantsAddress(svc, lbClass) {
		return d
	}
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal && !endpointNodes[me.Name] {
		return d
	}
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
				if d.routes == nil {
					d.routes = map[string][]bgp.Route{}
				}
				if !slices.Contains(d.peers, p) {
					d.peers = append(d.peers, p)
				}
				d.routes[p] = append(d.routes[p], route)
			}
		}
	}
	slices.Sort(d.peers)
	return d
}
