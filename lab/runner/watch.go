//go:build linux

package runner

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/lab/report"
)

// watchAddresses records every change of a Service's load-balancer addresses as an event: the
// timeline shows when addresses were given, moved or taken away (also across API restarts).
func (r *run) watchAddresses(ctx context.Context) {
	r.watchers.Add(1)
	go func() {
		defer r.watchers.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			if list, err := r.e.cs.CoreV1().Services("").List(ctx, metav1.ListOptions{}); err == nil {
				for _, s := range list.Items {
					var ips []string
					for _, in := range s.Status.LoadBalancer.Ingress {
						ips = append(ips, in.IP)
					}
					key, now := s.Namespace+"/"+s.Name, strings.Join(ips, ",")
					r.mu.Lock()
					prev, known := r.addresses[key]
					r.addresses[key] = now
					r.mu.Unlock()
					if (known && prev != now) || (!known && now != "") {
						r.event(report.EventAddress, key, now)
						if r.watchOwnersFrom != "" {
							for _, ip := range ips {
								if a, err := netip.ParseAddr(ip); err == nil {
									r.watchOwner(a, r.watchOwnersFrom)
								}
							}
						}
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// watchOwner asks, from a client, every 250 ms who answers ARP/NDP for an address, and records
// each change (the probe is what a client sees, independent of what the speakers report).
func (r *run) watchOwner(ip netip.Addr, from string) {
	iface := r.e.ifaceToward(from)
	r.mu.Lock()
	if iface == "" || r.owners[ip] {
		r.mu.Unlock()
		return
	}
	r.owners[ip] = true
	r.mu.Unlock()
	ctx := r.stopCtx()
	r.watchers.Add(1)
	go func() {
		defer r.watchers.Done()
		last := "?"
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			if nodes, err := r.ownersOf(from, iface, ip); err == nil {
				now := strings.Join(nodes, ",")
				if now == "" {
					now = "none"
				}
				if now != last {
					r.event(report.EventOwner, ip.String(), now)
					last = now
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// stopCtx is a context that ends when the scenario's watchers stop.
func (r *run) stopCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	prev := r.stopAll
	r.stopAll = func() { prev(); cancel() }
	r.mu.Unlock()
	return ctx
}

// watchRoutes records, for every router, each change of the next hops of the routes a routing
// daemon installed.
func (r *run) watchRoutes(ctx context.Context) {
	for _, router := range r.e.routers() {
		r.watchers.Add(1)
		go func() {
			defer r.watchers.Done()
			last := map[string]string{}
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				if routes, err := r.routesAt(router, false); err == nil {
					seen := map[string]bool{}
					prefixes := make([]string, 0, len(routes))
					for p := range routes {
						prefixes = append(prefixes, p)
					}
					sort.Strings(prefixes)
					for _, p := range prefixes {
						seen[p] = true
						now := strings.Join(routes[p], ",")
						if prev, ok := last[p]; !ok || prev != now {
							r.event(report.EventRoute, router+" "+p, "via "+now)
							last[p] = now
						}
					}
					for _, p := range slices.Sorted(maps.Keys(last)) {
						if !seen[p] {
							r.event(report.EventRoute, router+" "+p, "withdrawn")
							delete(last, p)
						}
					}
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}
}
