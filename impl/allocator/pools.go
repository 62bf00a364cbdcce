package allocator

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/ironlb/ironlb/impl/config"
)

// ServiceInfo is what pool selection needs to know of a Service.
type ServiceInfo struct {
	Namespace       string
	NamespaceLabels map[string]string
	Labels          map[string]string
	// Pool is the pool the service names (metallb.io/address-pool), or empty.
	Pool string
	// Explicit is true when the service requests addresses (loadBalancerIPs): then pools that do
	// not assign automatically are candidates too.
	Explicit bool
}

// CandidatePools returns the pools that may serve a service, best first: a named pool alone;
// otherwise the pools whose serviceAllocation matches the service, by priority (lower first, no
// priority last), then the pools without serviceAllocation; ties by name. Pools with autoAssign
// false take part only when named or when addresses are requested.
func CandidatePools(pools map[string]*config.Pool, s ServiceInfo) ([]*config.Pool, error) {
	if s.Pool != "" {
		p, ok := pools[s.Pool]
		if !ok {
			return nil, fmt.Errorf("pool %q: %w", s.Pool, ErrUnknownPool)
		}
		return []*config.Pool{p}, nil
	}
	var restricted, open []*config.Pool
	for _, p := range pools {
		if !p.AutoAssign && !s.Explicit {
			continue
		}
		switch {
		case p.Allocation == nil:
			open = append(open, p)
		case allocationMatches(p.Allocation, s):
			restricted = append(restricted, p)
		}
	}
	slices.SortFunc(restricted, func(a, b *config.Pool) int {
		pa, pb := a.Allocation.Priority, b.Allocation.Priority
		if (pa == 0) != (pb == 0) {
			if pa == 0 {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(pa, pb), cmp.Compare(a.Name, b.Name))
	})
	slices.SortFunc(open, func(a, b *config.Pool) int { return cmp.Compare(a.Name, b.Name) })
	out := append(restricted, open...)
	if len(out) == 0 {
		return nil, ErrNoPool
	}
	return out, nil
}

// allocationMatches applies a pool's namespace and service restrictions: every kind of
// restriction that is set must match.
func allocationMatches(a *config.Allocation, s ServiceInfo) bool {
	if len(a.Namespaces) > 0 || len(a.NamespaceSelectors) > 0 {
		inList := slices.Contains(a.Namespaces, s.Namespace)
		bySelector := len(a.NamespaceSelectors) > 0 && config.MatchesAny(a.NamespaceSelectors, s.NamespaceLabels)
		if !inList && !bySelector {
			return false
		}
	}
	if len(a.ServiceSelectors) > 0 && !config.MatchesAny(a.ServiceSelectors, s.Labels) {
		return false
	}
	return true
}
