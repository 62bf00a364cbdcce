package allocator

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/ironlb/ironlb/impl/config"
)

// pools builds validated pools from name -> addresses.
func pools(t testing.TB, specs ...config.PoolSpec) map[string]*config.Pool {
	t.Helper()
	cfg, err := config.Build(config.Input{Pools: specs})
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Pools
}

func spec(name string, addrs ...string) config.PoolSpec {
	return config.PoolSpec{Name: name, Addresses: addrs}
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func v4(svc string, ps ...*config.Pool) Request {
	return Request{Service: svc, Families: []Family{IPv4}, Pools: ps}
}

func ips(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, ip(s))
	}
	return out
}

// TestLifeStory follows one allocator through pools changing and services coming and going.
func TestLifeStory(t *testing.T) {
	a := New()
	p := pools(t, spec("seed", "172.18.255.200-172.18.255.202"), spec("extra", "10.0.0.0/31"))
	a.SetPools(p)
	seed, extra := p["seed"], p["extra"]

	type step struct {
		what    string
		do      func() (Assignment, error)
		wantIPs []string
		wantErr error
	}
	steps := []step{
		{"s1 gets the first address", func() (Assignment, error) { return a.Assign(v4("ns/s1", seed)) }, []string{"172.18.255.200"}, nil},
		{"s2 gets the next one", func() (Assignment, error) { return a.Assign(v4("ns/s2", seed)) }, []string{"172.18.255.201"}, nil},
		{"s1 asking again keeps its address", func() (Assignment, error) { return a.Assign(v4("ns/s1", seed)) }, []string{"172.18.255.200"}, nil},
		{"s3 can't grab s1's address", func() (Assignment, error) {
			r := v4("ns/s3", seed)
			r.Requested = ips("172.18.255.200")
			return a.Assign(r)
		}, nil, ErrIPInUse},
		{"s3 asks for one outside every pool", func() (Assignment, error) {
			r := v4("ns/s3", seed)
			r.Requested = ips("192.168.0.1")
			return a.Assign(r)
		}, nil, ErrNotInPool},
		{"s3 takes the last address", func() (Assignment, error) { return a.Assign(v4("ns/s3", seed)) }, []string{"172.18.255.202"}, nil},
		{"s4 finds the pool exhausted", func() (Assignment, error) { return a.Assign(v4("ns/s4", seed)) }, nil, ErrPoolExhausted},
		{"s4 falls through to the next pool", func() (Assignment, error) { return a.Assign(v4("ns/s4", seed, extra)) }, []string{"10.0.0.0"}, nil},
		{"s2 leaves; s5 gets its address", func() (Assignment, error) {
			a.Release("ns/s2")
			return a.Assign(v4("ns/s5", seed))
		}, []string{"172.18.255.201"}, nil},
		{"s1 moves to a requested address of another pool", func() (Assignment, error) {
			r := v4("ns/s1", seed, extra)
			r.Requested = ips("10.0.0.1")
			return a.Assign(r)
		}, []string{"10.0.0.1"}, nil},
		{"s1's old address is free again", func() (Assignment, error) { return a.Assign(v4("ns/s6", seed)) }, []string{"172.18.255.200"}, nil},
	}
	for _, s := range steps {
		asg, err := s.do()
		if s.wantErr != nil {
			if !errors.Is(err, s.wantErr) {
				t.Fatalf("%s: got %v, %v; want error %v", s.what, asg, err, s.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		if got := fmt.Sprint(asg.IPs); got != fmt.Sprint(ips(s.wantIPs...)) {
			t.Fatalf("%s: got %s, want %v", s.what, got, s.wantIPs)
		}
	}
	if st, _ := a.Stats("seed"); st.AssignedIPv4 != 3 || st.AvailableIPv4 != 0 {
		t.Errorf("seed stats = %+v", st)
	}

	// The pool shrinks: the services whose addresses left it lose them, the others keep them.
	p2 := pools(t, spec("seed", "172.18.255.200-172.18.255.201"), spec("extra", "10.0.0.0/31"))
	lost := a.SetPools(p2)
	if !slices.Equal(lost, []string{"ns/s3"}) {
		t.Errorf("lost = %v, want [ns/s3]", lost)
	}
	for svc, want := range map[string]string{"ns/s6": "172.18.255.200", "ns/s5": "172.18.255.201", "ns/s1": "10.0.0.1", "ns/s4": "10.0.0.0"} {
		if asg, ok := a.Assigned(svc); !ok || asg.IPs[0] != ip(want) {
			t.Errorf("%s after the pool shrank: %v, %v; want %s", svc, asg, ok, want)
		}
	}
	if _, err := a.Assign(v4("ns/s3", p2["seed"])); !errors.Is(err, ErrPoolExhausted) {
		t.Errorf("s3 in the shrunk pool: %v", err)
	}
	// The pool is removed: everyone in it is returned.
	lost = a.SetPools(pools(t, spec("extra", "10.0.0.0/31")))
	if !slices.Equal(lost, []string{"ns/s5", "ns/s6"}) {
		t.Errorf("lost = %v", lost)
	}
}

func TestSharing(t *testing.T) {
	a := New()
	p := pools(t, spec("pool", "10.0.0.1-10.0.0.2"))
	a.SetPools(p)
	web := func(svc, key, backend string, port int32) Request {
		r := v4(svc, p["pool"])
		r.SharingKey, r.BackendKey, r.Ports = key, backend, []Port{{"TCP", port}}
		return r
	}
	a1, err := a.Assign(web("ns/http", "k", "", 80))
	if err != nil {
		t.Fatal(err)
	}
	a2, err := a.Assign(web("ns/https", "k", "", 443))
	if err != nil || a2.IPs[0] != a1.IPs[0] {
		t.Fatalf("same key, other port must share %s: got %v, %v", a1.IPs[0], a2, err)
	}
	// Same port and protocol: a different address, never the shared one.
	a3, err := a.Assign(web("ns/http2", "k", "", 80))
	if err != nil || a3.IPs[0] == a1.IPs[0] {
		t.Fatalf("port clash must not share: %v, %v", a3, err)
	}
	// Requesting the shared address with a clashing port is refused with the reason.
	r := web("ns/http3", "k", "", 80)
	r.Requested = a1.IPs
	if _, err := a.Assign(r); !errors.Is(err, ErrIncompatibleSharing) {
		t.Errorf("port clash: %v", err)
	}
	// Another backend (externalTrafficPolicy Local with another selector) cannot share.
	r = web("ns/local", "k", "app=other", 8080)
	r.Requested = a1.IPs
	if _, err := a.Assign(r); !errors.Is(err, ErrIncompatibleSharing) {
		t.Errorf("backend mismatch: %v", err)
	}
	// Without the key: in use.
	r = web("ns/nokey", "", "", 8081)
	r.Requested = a1.IPs
	if _, err := a.Assign(r); !errors.Is(err, ErrIPInUse) {
		t.Errorf("no key: %v", err)
	}
	// The address stays while one sharer holds it.
	a.Release("ns/http")
	if st, _ := a.Stats("pool"); st.AssignedIPv4 != 2 {
		t.Errorf("stats after one sharer left: %+v", st)
	}
	a.Release("ns/https")
	if st, _ := a.Stats("pool"); st.AssignedIPv4 != 1 || st.AvailableIPv4 != 1 {
		t.Errorf("stats after both left: %+v", st)
	}
}

func TestDualStack(t *testing.T) {
	a := New()
	p := pools(t, spec("v4only", "10.0.0.0/30"), spec("dual", "10.1.0.0/30", "fc00::/126"))
	a.SetPools(p)
	both := []Family{IPv6, IPv4}
	got, err := a.Assign(Request{Service: "ns/d", Families: both, RequireAll: true, Pools: []*config.Pool{p["v4only"], p["dual"]}})
	if err != nil || got.Pool != "dual" || fmt.Sprint(got.IPs) != "[fc00:: 10.1.0.0]" {
		t.Fatalf("RequireDualStack: %v, %v", got, err)
	}
	if _, err := a.Assign(Request{Service: "ns/r", Families: both, RequireAll: true, Pools: []*config.Pool{p["v4only"]}}); !errors.Is(err, ErrFamilyUnavailable) {
		t.Errorf("RequireDualStack from a v4 pool: %v", err)
	}
	got, err = a.Assign(Request{Service: "ns/p", Families: both, Pools: []*config.Pool{p["v4only"]}})
	if err != nil || fmt.Sprint(got.IPs) != "[10.0.0.0]" {
		t.Errorf("PreferDualStack falls back to one family: %v, %v", got, err)
	}
	got, err = a.Assign(Request{Service: "ns/req", Requested: ips("fc00::3", "10.1.0.3"), Pools: []*config.Pool{p["dual"]}})
	if err != nil || fmt.Sprint(got.IPs) != "[fc00::3 10.1.0.3]" {
		t.Errorf("requested pair: %v, %v", got, err)
	}
	if _, err := a.Assign(Request{Service: "ns/bad", Requested: ips("10.1.0.1", "10.1.0.2"), Pools: []*config.Pool{p["dual"]}}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("two IPv4 requested: %v", err)
	}
}

func TestAvoidBuggyIPs(t *testing.T) {
	a := New()
	p := pools(t, config.PoolSpec{Name: "p", Addresses: []string{"10.0.0.254-10.0.1.1"}, AvoidBuggyIPs: true})
	a.SetPools(p)
	var got []string
	for i := range 3 {
		asg, err := a.Assign(v4(fmt.Sprint("ns/s", i), p["p"]))
		if err != nil {
			got = append(got, "exhausted")
			break
		}
		got = append(got, asg.IPs[0].String())
	}
	if want := []string{"10.0.0.254", "10.0.1.1", "exhausted"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v (.255 and .0 skipped)", got, want)
	}
	r := v4("ns/x", p["p"])
	r.Requested = ips("10.0.1.0")
	if _, err := a.Assign(r); !errors.Is(err, ErrNotInPool) {
		t.Errorf("requesting a .0 address: %v", err)
	}
	if st, _ := a.Stats("p"); st.AvailableIPv4 != 0 || st.AssignedIPv4 != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestAutoAssignFalse(t *testing.T) {
	p := pools(t, config.PoolSpec{Name: "expensive", Addresses: []string{"42.176.25.64/30"}, AutoAssign: new(bool)})
	a := New()
	a.SetPools(p)
	if _, err := CandidatePools(p, ServiceInfo{Namespace: "ns"}); !errors.Is(err, ErrNoPool) {
		t.Errorf("an autoAssign=false pool must not be a candidate: %v", err)
	}
	cands, err := CandidatePools(p, ServiceInfo{Namespace: "ns", Pool: "expensive"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Assign(Request{Service: "ns/s", Families: []Family{IPv4}, Pools: cands}); err == nil {
		t.Error("a pool without autoAssign handed out an address nobody named it for")
	}
	asg, err := a.Assign(Request{Service: "ns/s", Families: []Family{IPv4}, Pools: cands, PoolRequested: true})
	if err != nil || asg.IPs[0] != ip("42.176.25.64") {
		t.Errorf("named pool: %v, %v", asg, err)
	}
}

func TestCandidatePools(t *testing.T) {
	p := pools(t,
		config.PoolSpec{Name: "open", Addresses: []string{"10.0.0.0/24"}},
		config.PoolSpec{Name: "team-a", Addresses: []string{"10.0.1.0/24"}, Allocation: &config.AllocationSpec{Priority: 20, Namespaces: []string{"a"}}},
		config.PoolSpec{Name: "gold", Addresses: []string{"10.0.2.0/24"}, Allocation: &config.AllocationSpec{Priority: 10,
			ServiceSelectors: []config.Selector{{MatchLabels: map[string]string{"tier": "gold"}}}}},
		config.PoolSpec{Name: "labelled-ns", Addresses: []string{"10.0.3.0/24"}, Allocation: &config.AllocationSpec{
			NamespaceSelectors: []config.Selector{{MatchLabels: map[string]string{"env": "prod"}}}}},
	)
	names := func(s ServiceInfo) string {
		ps, err := CandidatePools(p, s)
		if err != nil {
			return err.Error()
		}
		var out []string
		for _, x := range ps {
			out = append(out, x.Name)
		}
		return fmt.Sprint(out)
	}
	tests := []struct {
		svc  ServiceInfo
		want string
	}{
		{ServiceInfo{Namespace: "b"}, "[open]"},
		{ServiceInfo{Namespace: "a"}, "[team-a open]"},
		{ServiceInfo{Namespace: "a", Labels: map[string]string{"tier": "gold"}}, "[gold team-a open]"},
		{ServiceInfo{Namespace: "c", NamespaceLabels: map[string]string{"env": "prod"}}, "[labelled-ns open]"},
		{ServiceInfo{Namespace: "b", Pool: "gold"}, "[gold]"},
		{ServiceInfo{Namespace: "b", Pool: "nope"}, `pool "nope": requested IPAddressPool does not exist`},
	}
	for _, tt := range tests {
		if got := names(tt.svc); got != tt.want {
			t.Errorf("%+v: got %s, want %s", tt.svc, got, tt.want)
		}
	}
}

func TestRestore(t *testing.T) {
	p := pools(t, spec("pool", "10.0.0.0/29"))
	a := New()
	a.SetPools(p)
	// A restarted controller reads the statuses first: the addresses stay as they were.
	if _, err := a.Restore(v4("ns/b", p["pool"]), ips("10.0.0.5")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Restore(v4("ns/c", p["pool"]), ips("10.0.0.5")); err == nil {
		t.Error("restoring an address already held by another service must fail")
	}
	if _, err := a.Restore(v4("ns/d", p["pool"]), ips("10.9.9.9")); err == nil {
		t.Error("restoring an address outside the pools must fail")
	}
	asg, err := a.Assign(v4("ns/b", p["pool"]))
	if err != nil || asg.IPs[0] != ip("10.0.0.5") {
		t.Errorf("reconciling a restored service changed its address: %v, %v", asg, err)
	}
	asg, _ = a.Assign(v4("ns/new", p["pool"]))
	if asg.IPs[0] != ip("10.0.0.0") {
		t.Errorf("a new service got %v", asg.IPs)
	}
}

func TestFailedAssignKeepsPrevious(t *testing.T) {
	p := pools(t, spec("pool", "10.0.0.0/30"))
	a := New()
	a.SetPools(p)
	a.Assign(v4("ns/a", p["pool"]))
	a.Assign(v4("ns/b", p["pool"]))
	r := v4("ns/a", p["pool"])
	r.Requested = ips("10.0.0.1") // b's
	if _, err := a.Assign(r); !errors.Is(err, ErrIPInUse) {
		t.Fatalf("got %v", err)
	}
	if asg, ok := a.Assigned("ns/a"); !ok || asg.IPs[0] != ip("10.0.0.0") {
		t.Errorf("a lost its address after a failed change: %v %v", asg, ok)
	}
}

func TestLargePools(t *testing.T) {
	p := pools(t, spec("v6", "fc00::/64"), spec("v4", "0.0.0.0/0"))
	a := New()
	a.SetPools(p)
	for i := range 1000 {
		if _, err := a.Assign(Request{Service: fmt.Sprint("ns/", i), Families: []Family{IPv6}, Pools: []*config.Pool{p["v6"]}}); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := a.Stats("v6")
	if st.AssignedIPv6 != 1000 || st.AvailableIPv6 != 1<<63-1 {
		t.Errorf("stats = %+v", st)
	}
	asg, err := a.Assign(Request{Service: "ns/last", Requested: ips("255.255.255.255"), Pools: []*config.Pool{p["v4"]}})
	if err != nil || len(asg.IPs) != 1 {
		t.Errorf("top of the space: %v %v", asg, err)
	}
	a.Release("ns/last")
	if st, _ := a.Stats("v4"); st.AvailableIPv4 != 1<<32 {
		t.Errorf("whole IPv4 space after release: %+v", st)
	}
	// Both ends of the IPv6 space (::/0 itself is refused: it holds the IPv4-mapped addresses).
	all := pools(t, spec("all", "::/81", "8000::/1"))
	b := New()
	b.SetPools(all)
	if asg, err := b.Assign(Request{Service: "ns/top", Requested: ips("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Pools: []*config.Pool{all["all"]}}); err != nil || len(asg.IPs) != 1 {
		t.Errorf("top of the IPv6 space: %v %v", asg, err)
	}
	b.Release("ns/top")
	if asg, err := b.Assign(Request{Service: "ns/first", Families: []Family{IPv6}, Pools: []*config.Pool{all["all"]}}); err != nil || asg.IPs[0] != ip("::") {
		t.Errorf("first of the IPv6 space: %v %v", asg, err)
	}
}
