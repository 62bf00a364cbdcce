package allocator

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ironlb/ironlb/impl/config"
)

// TestZonedAndMappedNeverEnter: an IPv6 zone or an IPv4-mapped IPv6 address is a different
// netip.Addr for the same address, so it must never get into the allocator's books, by any door.
// The story is the one seen end to end: a victim holds fd00:5::5; a Service asks for
// "fd00:5::5%eth0"; three automatic Services follow; nobody may share the victim's address.
func TestZonedAndMappedNeverEnter(t *testing.T) {
	p := pools(t, spec("pool", "fd00:5::5-fd00:5::8", "10.5.0.5-10.5.0.8"))
	pool := p["pool"]
	tests := []struct {
		name string
		do   func(a *Allocator) error
	}{
		{"requested, zoned IPv6", func(a *Allocator) error {
			_, err := a.Assign(Request{Service: "ns/zoned", Requested: ips("fd00:5::5%eth0"), Pools: []*config.Pool{pool}})
			return err
		}},
		{"requested, numeric zone", func(a *Allocator) error {
			_, err := a.Assign(Request{Service: "ns/zoned", Requested: ips("fd00:5::5%1"), Pools: []*config.Pool{pool}})
			return err
		}},
		{"requested, IPv4-mapped", func(a *Allocator) error {
			_, err := a.Assign(Request{Service: "ns/mapped", Requested: ips("::ffff:10.5.0.5"), Pools: []*config.Pool{pool}})
			return err
		}},
		{"requested pair, one zoned", func(a *Allocator) error {
			_, err := a.Assign(Request{Service: "ns/pair", Requested: ips("10.5.0.6", "fd00:5::5%eth0"), Pools: []*config.Pool{pool}})
			return err
		}},
		{"restored, zoned IPv6", func(a *Allocator) error {
			_, err := a.Restore(Request{Service: "ns/zoned", Families: []Family{IPv6}, Pools: []*config.Pool{pool}}, ips("fd00:5::5%eth0"))
			return err
		}},
		{"restored, IPv4-mapped", func(a *Allocator) error {
			_, err := a.Restore(Request{Service: "ns/mapped", Families: []Family{IPv6}, Pools: []*config.Pool{pool}}, ips("::ffff:10.5.0.5"))
			return err
		}},
		{"preferred, zoned IPv6", func(a *Allocator) error {
			_, err := a.Assign(Request{Service: "ns/zoned", Families: []Family{IPv6}, Prefer: ips("fd00:5::5%eth0"), Pools: []*config.Pool{pool}})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New()
			a.SetPools(p)
			for _, r := range []Request{
				{Service: "ns/victim6", Requested: ips("fd00:5::5"), Pools: []*config.Pool{pool}},
				{Service: "ns/victim4", Requested: ips("10.5.0.5"), Pools: []*config.Pool{pool}},
			} {
				if _, err := a.Assign(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := tt.do(a); !errors.Is(err, ErrBadRequest) {
				t.Fatalf("got %v, want %v", err, ErrBadRequest)
			}
			// Whatever came in leaves again; then three automatic services of each family.
			a.Release("ns/zoned")
			a.Release("ns/mapped")
			a.Release("ns/pair")
			for i := range 3 {
				for _, f := range []Family{IPv6, IPv4} {
					svc := fmt.Sprintf("ns/auto%d-v%d", i, f)
					asg, err := a.Assign(Request{Service: svc, Families: []Family{f}, Pools: []*config.Pool{pool}})
					if err != nil {
						t.Fatalf("%s: %v", svc, err)
					}
					if asg.IPs[0] == ip("fd00:5::5") || asg.IPs[0] == ip("10.5.0.5") {
						t.Fatalf("%s got the victim's %s", svc, asg.IPs[0])
					}
				}
			}
			checkInvariants(t, a, nil)
			if st, _ := a.Stats("pool"); st.AssignedIPv6 != 4 || st.AssignedIPv4 != 4 || st.AvailableIPv6 != 0 || st.AvailableIPv4 != 0 {
				t.Errorf("stats = %+v, want 4 assigned and none available per family", st)
			}
		})
	}
}

// TestFreePickCheckedAgainstInUse: should the free set ever offer an address a service holds
// (a bug elsewhere), the allocator refuses to hand it out, mends its books and says so.
func TestFreePickCheckedAgainstInUse(t *testing.T) {
	p := pools(t, spec("pool", "10.0.0.0/30"))
	a := New()
	a.SetPools(p)
	if _, err := a.Assign(v4("ns/s1", p["pool"])); err != nil {
		t.Fatal(err)
	}
	// Corrupt the free set: s1's 10.0.0.0 is offered again.
	ps := a.pools["pool"]
	c, _ := ps.spaces[IPv4].toCoord(ip("10.0.0.0"))
	ps.free[IPv4].add(c, c)

	if asg, err := a.Assign(v4("ns/s2", p["pool"])); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("s2 got %v, %v; want %v (10.0.0.0 is s1's)", asg, err, ErrInconsistent)
	}
	asg, err := a.Assign(v4("ns/s2", p["pool"]))
	if err != nil || asg.IPs[0] != ip("10.0.0.1") {
		t.Fatalf("after the books were mended s2 got %v, %v; want 10.0.0.1", asg, err)
	}
	checkInvariants(t, a, nil)
}

// TestCommitRefusesAddressNotFree: an address that is neither free nor held (a bug elsewhere
// took it out of the free set) is not committed and not counted as used: the assignment fails
// loudly instead.
func TestCommitRefusesAddressNotFree(t *testing.T) {
	p := pools(t, spec("pool", "10.0.0.0/30"))
	a := New()
	a.SetPools(p)
	ps := a.pools["pool"]
	c, _ := ps.spaces[IPv4].toCoord(ip("10.0.0.2"))
	ps.free[IPv4].take(c) // leaked: neither free nor held
	before, _ := a.Stats("pool")

	r := v4("ns/s1", p["pool"])
	r.Requested = ips("10.0.0.2")
	if asg, err := a.Assign(r); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("got %v, %v; want %v", asg, err, ErrInconsistent)
	}
	if asg, ok := a.Assigned("ns/s1"); ok {
		t.Errorf("s1 holds %v after a failed commit", asg)
	}
	if after, _ := a.Stats("pool"); after != before {
		t.Errorf("stats changed by a failed commit: %+v -> %+v", before, after)
	}
	// A restore of that address fails the same way; the service keeps nothing.
	if _, err := a.Restore(v4("ns/s1", p["pool"]), ips("10.0.0.2")); !errors.Is(err, ErrInconsistent) && !errors.Is(err, ErrNotInPool) {
		t.Errorf("restore: %v", err)
	}
	if _, ok := a.Assigned("ns/s1"); ok {
		t.Error("s1 holds an address after a failed restore")
	}
}

// TestPreferStatus: a service the allocator does not know yet (a new leader) keeps the
// addresses its status shows when they are still allowed; otherwise it gets a free one.
func TestPreferStatus(t *testing.T) {
	p := pools(t, spec("pool", "10.0.0.0/29", "fc00::/125"), spec("other", "10.1.0.0/30"))
	pool := p["pool"]
	a := New()
	a.SetPools(p)
	prefer := func(svc string, fams []Family, addrs ...string) Request {
		return Request{Service: svc, Families: fams, Prefer: ips(addrs...), Pools: []*config.Pool{pool}}
	}
	v4only, dual := []Family{IPv4}, []Family{IPv6, IPv4}
	steps := []struct {
		what string
		r    Request
		want string
	}{
		{"s1 keeps 10.0.0.5 from its status", prefer("ns/s1", v4only, "10.0.0.5"), "[10.0.0.5]"},
		{"s2 shows s1's address: a free one instead", prefer("ns/s2", v4only, "10.0.0.5"), "[10.0.0.0]"},
		{"s3 shows an address of no candidate pool: a free one", prefer("ns/s3", v4only, "10.1.0.1"), "[10.0.0.1]"},
		{"s1, known, keeps what it holds, not a new preference", prefer("ns/s1", v4only, "10.0.0.7"), "[10.0.0.5]"},
		{"dual stack keeps both addresses", prefer("ns/d", dual, "fc00::6", "10.0.0.6"), "[fc00::6 10.0.0.6]"},
		{"families that differ from the status: ignored", prefer("ns/e", dual, "10.0.0.7"), "[fc00:: 10.0.0.2]"},
		{"an explicit request wins over the status", Request{Service: "ns/x", Requested: ips("10.0.0.4"), Prefer: ips("10.0.0.7"), Pools: []*config.Pool{pool}}, "[10.0.0.4]"},
	}
	for _, s := range steps {
		asg, err := a.Assign(s.r)
		if err != nil || fmt.Sprint(asg.IPs) != s.want {
			t.Fatalf("%s: got %v, %v; want %s", s.what, asg.IPs, err, s.want)
		}
	}
	checkInvariants(t, a, nil)
	// Two preferred addresses of one family are a bad request, like two requested ones.
	if _, err := a.Assign(prefer("ns/bad", v4only, "10.0.0.3", "10.0.0.4")); !errors.Is(err, ErrBadRequest) {
		t.Errorf("two preferred IPv4: %v", err)
	}
}

// TestCommitChecksSharing: a commit of an address another Service holds succeeds only when the two
// may share it; a caller that asks for more (a bug) gets ErrInconsistent, never a silent share.
func TestCommitChecksSharing(t *testing.T) {
	p := pools(t, spec("pool", "10.0.0.0/30"))
	a := New()
	a.SetPools(p)
	r1 := v4("ns/s1", p["pool"])
	r1.Requested = ips("10.0.0.1")
	if _, err := a.Assign(r1); err != nil {
		t.Fatal(err)
	}
	r2 := v4("ns/s2", p["pool"]) // no sharing key
	err := a.commit(r2, Assignment{Pool: "pool", IPs: ips("10.0.0.1")})
	if !errors.Is(err, ErrInconsistent) {
		t.Fatalf("commit of s1's address for s2 (no sharing key): %v, want %v", err, ErrInconsistent)
	}
	if _, ok := a.Assigned("ns/s2"); ok {
		t.Error("s2 holds an address after a refused commit")
	}
	// The holder itself re-committing its own address is fine.
	if err := a.commit(r1, Assignment{Pool: "pool", IPs: ips("10.0.0.1")}); err != nil {
		t.Errorf("s1 re-committing its own address: %v", err)
	}
}
