package speaker

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/impl/config"
	"github.com/ironlb/ironlb/impl/controller"
	"github.com/ironlb/ironlb/impl/election"
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
	endpoints := readyEndpointNodes(slices_)
	for _, svc := range svcs {
		if !controller.WantsAddress(&svc, lbClass) {
			continue
		}
		key := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
		// One owner per Service, for all its addresses (both families of a dual-stack Service),
		// chosen by its first address: Services sharing addresses share the owner.
		electionKey := firstIngressIP(&svc)
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
				EndpointNodes: endpoints[key]}
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
			plan.owners[ip] = owner
			if owner != me {
				continue
			}
			if allIfaces {
				ifaces = nil
			}
			slices.Sort(ifaces)
			ifaces = slices.Compact(ifaces)
			plan.owned[ip] = ifaces
			plan.services[key] = ifaces
		}
	}
	return plan
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
