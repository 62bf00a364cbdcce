package allocator

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/ironlb/ironlb/impl/config"
)

// FuzzNeverDoubleAssigns drives an allocator with random operations on small pools and checks
// after each one that no address is held by two services unless they legally share it, and that
// the pool counters add up.
func FuzzNeverDoubleAssigns(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 3, 1, 1, 1, 4, 2, 2, 2})
	// Zoned and IPv4-mapped forms of held addresses, requested, preferred and restored.
	f.Add([]byte{0, 0, 1, 0, 2, 1, 0, 30, 3, 1, 0, 0, 0, 2, 1, 0, 0, 3, 1, 0})          // fc00::%eth0 while s0 holds fc00::
	f.Add([]byte{0, 0, 0, 0, 2, 1, 0, 45, 3, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0})          // ::ffff:10.0.0.0 while s0 holds 10.0.0.0
	f.Add([]byte{0, 0, 1, 0, 6, 1, 0, 30, 6, 2, 0, 60, 3, 1, 0, 0, 0, 4, 17, 15, 5, 4}) // restored and preferred forms
	f.Fuzz(func(t *testing.T, ops []byte) {
		big := pools(t, spec("a", "10.0.0.0/30", "fc00::/126"), config.PoolSpec{Name: "b", Addresses: []string{"10.0.1.254-10.0.2.1"}, AvoidBuggyIPs: true})
		small := pools(t, spec("a", "10.0.0.0/31"), spec("b", "10.0.2.0/30"))
		a := New()
		a.SetPools(big)
		cur := big
		reqs := map[string]Request{}
		for len(ops) >= 4 {
			op, svc, arg, arg2 := ops[0]%7, fmt.Sprint("ns/s", ops[1]%6), ops[2], ops[3]
			ops = ops[4:]
			switch op {
			case 0, 1, 2: // assign, with or without sharing, requested address, families
				r := Request{Service: svc, Pools: []*config.Pool{cur["a"], cur["b"]}}
				switch arg % 3 {
				case 0:
					r.Families = []Family{IPv4}
				case 1:
					r.Families = []Family{IPv6, IPv4}
				case 2:
					r.Families = []Family{IPv4, IPv6}
					r.RequireAll = true
				}
				if arg&4 != 0 {
					r.SharingKey = fmt.Sprint("k", arg2%2)
				}
				if arg&8 != 0 {
					r.BackendKey = "sel"
				}
				r.Ports = []Port{{"TCP", int32(arg2 % 3)}}
				if op == 2 {
					r.Requested = []netip.Addr{fuzzAddr(arg2)}
				}
				if arg&16 != 0 {
					r.Prefer = []netip.Addr{fuzzAddr(arg2 / 2)}
				}
				if asg, err := a.Assign(r); err == nil {
					reqs[svc] = r
					if len(asg.IPs) == 0 {
						t.Fatalf("assign %s: no address and no error", svc)
					}
				}
			case 3:
				a.Release(svc)
				delete(reqs, svc)
			case 4: // pools shrink or grow back
				if arg%2 == 0 {
					cur = small
				} else {
					cur = big
				}
				for _, lost := range a.SetPools(cur) {
					delete(reqs, lost)
				}
			case 5: // restore what a service holds, as a restart would
				if asg, ok := a.Assigned(svc); ok {
					if _, err := a.Restore(reqs[svc], asg.IPs); err != nil {
						t.Fatalf("restoring %s's own %v failed: %v", svc, asg.IPs, err)
					}
				}
			case 6: // restore an address that may be zoned or mapped, as a status could say
				r := Request{Service: svc, Families: []Family{IPv4}, Pools: []*config.Pool{cur["a"], cur["b"]}}
				if _, err := a.Restore(r, []netip.Addr{fuzzAddr(arg2)}); err == nil {
					reqs[svc] = r
				} else if _, ok := a.Assigned(svc); !ok {
					delete(reqs, svc)
				}
			}
			checkInvariants(t, a, reqs)
		}
	})
}

// fuzzAddr picks an address near the fuzz pools: IPv4, IPv6, and the zoned and IPv4-mapped
// forms of both (which name the same address as a different netip.Addr).
func fuzzAddr(b byte) netip.Addr {
	v4 := netip.AddrFrom4([4]byte{10, 0, b % 3, b % 5})
	v6 := netip.AddrFrom16([16]byte{0: 0xfc, 15: b % 5})
	switch (b / 15) % 5 {
	case 1:
		return v6
	case 2:
		return v6.WithZone("eth0")
	case 3:
		return netip.AddrFrom16(v4.As16()) // ::ffff:10.0.x.y
	case 4:
		return netip.AddrFrom16(v4.As16()).WithZone("1")
	}
	return v4
}

func checkInvariants(t *testing.T, a *Allocator, reqs map[string]Request) {
	t.Helper()
	for ip, use := range a.ips {
		if ip.Zone() != "" || ip.Is4In6() {
			t.Fatalf("%s (held by %v) is zoned or IPv4-mapped", ip, keys(use.services))
		}
		ps := a.pools[use.pool]
		f := familyOf(ip)
		if c, ok := ps.spaces[f].toCoord(ip); !ok {
			t.Fatalf("%s held from pool %q has no place in it", ip, use.pool)
		} else if _, free := ps.free[f].containing(c); free {
			t.Fatalf("%s is held by %v and free in pool %q", ip, keys(use.services), use.pool)
		}
	}
	holders := map[netip.Addr][]string{}
	for svc := range a.services {
		asg, _ := a.Assigned(svc)
		for _, ip := range asg.IPs {
			holders[ip] = append(holders[ip], svc)
		}
		if ps, ok := a.pools[asg.Pool]; !ok {
			t.Fatalf("%s holds addresses of missing pool %q", svc, asg.Pool)
		} else {
			for _, ip := range asg.IPs {
				if !ps.contains(ip) {
					t.Fatalf("%s holds %s outside pool %q", svc, ip, asg.Pool)
				}
			}
		}
	}
	for ip, svcs := range holders {
		for i, s1 := range svcs {
			for _, s2 := range svcs[i+1:] {
				r1, r2 := a.services[s1].req, a.services[s2].req
				if r1.SharingKey == "" || r1.SharingKey != r2.SharingKey || r1.BackendKey != r2.BackendKey {
					t.Fatalf("%s held by %s and %s, which may not share (%q/%q, %q/%q)", ip, s1, s2, r1.SharingKey, r2.SharingKey, r1.BackendKey, r2.BackendKey)
				}
				for _, p := range r1.Ports {
					if slices.Contains(r2.Ports, p) {
						t.Fatalf("%s held by %s and %s, both on %v", ip, s1, s2, p)
					}
				}
			}
		}
	}
	for name, ps := range a.pools {
		for f, fs := range ps.free {
			if got := fs.free.Add64(uint64(ps.used[f])); got != ps.size[f] {
				t.Fatalf("pool %s IPv%d: free %v + used %d != size %v", name, f, fs.free, ps.used[f], ps.size[f])
			}
		}
	}
}
