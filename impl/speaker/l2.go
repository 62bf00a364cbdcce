package speaker

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/impl/config"
	"github.com/ironlb/ironlb/impl/election"
	"github.com/ironlb/ironlb/impl/lbclass"
)

// l2Plan is what this node announces in layer 2 mode.
type l2Plan struct {
	// owned addresses with the interfaces they may be announced on (empty: every suitable one)
	owned map[netip.Addr][]string
	// services this node announces, with their interfaces
	services map[types.NamespacedName][]string
	// owners of every announced address, for logs
	owners map[netip.Addr]string
}

// planL2 decides, for every LoadBalancer Service with an address in a pool that an
// L2Advertisement announces, which node owns each address, and keeps those this node owns.
// alive says which nodes' speakers are in the membership (nil: the Node conditions alone).
func planL2(me string, cfg *config.Config, lbClass string, svcs []corev1.Service, nodes []corev1.Node,
	slices_ []discoveryv1.EndpointSlice, alive map[string]bool) l2Plan {
	plan := l2Plan{owned: map[netip.Addr][]string{}, services: map[types.NamespacedName][]string{}, owners: map[netip.Addr]string{}}
	cands := l2Candidates(nodes, alive)
	endpoints := readyEndpointNodes(slices_)
	for i := range svcs {
		key := types.NamespacedName{Namespace: svcs[i].Namespace, Name: svcs[i].Name}
		d := planL2Service(me, cfg, lbClass, &svcs[i], cands, endpoints[key])
		for ip, owner := range d.owners {
			plan.owners[ip] = owner
		}
		for ip, ifaces := range d.owned {
			plan.owned[ip] = ifaces
		}
		if len(d.owned) > 0 {
			plan.services[key] = d.ifaces
		}
	}
	return plan
}

// l2Candidates are the nodes an owner is elected among, with their liveness.
func l2Candidates(nodes []corev1.Node, alive map[string]bool) []election.Node {
	cands := make([]election.Node, 0, len(nodes))
	for _, n := range nodes {
		en := election.Node{Name: n.Name, Labels: n.Labels, Live: nodeReady(n) && (alive == nil || alive[n.Name])}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeNetworkUnavailable && c.Status == corev1.ConditionTrue {
				en.NetworkUnavailable = true
			}
		}
		cands = append(cands, en)
	}
	return cands
}

// l2Service is what one Service asks of this node in layer 2 mode.
type l2Service struct {
	owned  map[netip.Addr][]string // the Service's addresses this node owns, with their interfaces
	ifaces []string                // the interfaces, as its ServiceL2Status names them
	owners map[netip.Addr]string   // the owner of each of its announced addresses
}

// planL2Service elects the owner of each address of one Service (the one place that decides it,
// for the pass over every Service and for the pass over one): endpointNodes are the nodes with a
// ready endpoint of it.
func planL2Service(me string, cfg *config.Config, lbClass string, svc *corev1.Service, cands []election.Node,
	endpointNodes map[string]bool) l2Service {
	var d l2Service
	if cfg == nil || !lbclass.WantsAddress(svc, lbClass) {
		return d
	}
	// One owner per Service, for all its addresses (both families of a dual-stack Service),
	// chosen by its first address: Services sharing addresses share the owner.
	electionKey := firstIngressIP(svc)
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		ip, err := netip.ParseAddr(ing.IP)
		if err != nil {
			continue
		}
		pool := cfg.PoolByAddress(ip)
		if pool == nil || len(pool.L2Advertisements) == 0 {
			continue
		}
		req := election.Request{Key: electionKey, LocalOnly: svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal,
			EndpointNodes: endpointNodes}
		var ifaces []string
		allIfaces := false
		for _, adv := range pool.L2Advertisements {
			if len(adv.NodeSelectors) == 0 {
				req.Unrestricted = true
			}
			req.Selectors = append(req.Selectors, adv.NodeSelectors...)
			if len(adv.Interfaces) == 0 {
				allIfaces = true
			}
			ifaces = append(ifaces, adv.Interfaces...)
		}
		owner, ok := election.Owner(req.Key, election.Eligible(cands, req))
		if !ok {
			continue
		}
		if d.owners == nil {
			d.owners = map[netip.Addr]string{}
		}
		d.owners[ip] = owner
		if owner != me {
			continue
		}
		if allIfaces {
			ifaces = nil
		}
		slices.Sort(ifaces)
		ifaces = slices.Compact(ifaces)
		if d.owned == nil {
			d.owned = map[netip.Addr][]string{}
		}
		d.owned[ip] = ifaces
		d.ifaces = ifaces
	}
	return d
}

// firstIngressIP is the lowest address of the Service's ingress (IPv4 before IPv6).
func firstIngressIP(svc *corev1.Service) string {
	var first netip.Addr
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		if ip, err := netip.ParseAddr(ing.IP); err == nil && (!first.IsValid() || ip.Less(first)) {
			first = ip
		}
	}
	return first.String()
}

func nodeReady(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readyEndpointNodes maps each Service to the nodes with a ready endpoint of it.
func readyEndpointNodes(eps []discoveryv1.EndpointSlice) map[types.NamespacedName]map[string]bool {
	out := map[types.NamespacedName]map[string]bool{}
	for _, s := range eps {
		name := s.Labels[discoveryv1.LabelServiceName]
		if name == "" {
			continue
		}
		key := types.NamespacedName{Namespace: s.Namespace, Name: name}
		for _, e := range s.Endpoints {
			if e.NodeName == nil || (e.Conditions.Ready != nil && !*e.Conditions.Ready) {
				continue
			}
			if out[key] == nil {
				out[key] = map[string]bool{}
			}
			out[key][*e.NodeName] = true
		}
	}
	return out
}
