//go:build linux

package bfd

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/ironlb/ironlb/impl/internal/testnet"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// twoHosts makes two network namespaces joined by a veth pair: a (10.77.0.1, fd77::1) and b
// (10.77.0.2, fd77::2). They are removed when the test ends.
func twoHosts(t *testing.T) (a, b netns.NsHandle) {
	t.Helper()
	return testnet.Pair(t, "BFD over real sockets between namespaces",
		testnet.Host{Link: "bfda", V4: "10.77.0.1/30", V6: "fd77::1/64"}, testnet.Host{Link: "bfdb", V4: "10.77.0.2/30", V6: "fd77::2/64"})
}

// in runs f on a thread inside ns.
func in(t *testing.T, ns netns.NsHandle, f func()) { t.Helper(); testnet.In(t, ns, f) }

type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) add(e Event) { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() }

func (r *recorder) wait(t *testing.T, peer netip.Addr, s State, within time.Duration) (time.Time, Event) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for i, e := range r.events {
			if e.Peer == peer && e.New == s { // the first one of this peer's in that state
				r.events = append(r.events[:i:i], r.events[i+1:]...) // the events of other peers stay
				r.mu.Unlock()
				return time.Now(), e
			}
		}
		r.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("session with %s not %s within %s", peer, s, within)
	return time.Time{}, Event{}
}

func TestSessionsOverRealSockets(t *testing.T) {
	nsA, nsB := twoHosts(t)
	ipA, ipB := netip.MustParseAddr("10.77.0.1"), netip.MustParseAddr("10.77.0.2")
	ip6A, ip6B := netip.MustParseAddr("fd77::1"), netip.MustParseAddr("fd77::2")
	fast := Config{DesiredMinTx: 50 * time.Millisecond, RequiredMinRx: 50 * time.Millisecond, DetectMult: 3}
	var recA, recB recorder
	regA := prometheus.NewRegistry()
	var a, b *Server
	in(t, nsA, func() {
		var err error
		if a, err = Listen(context.Background(), nil, NewMetrics(regA), recA.add); err != nil {
			t.Fatal(err)
		}
	})
	in(t, nsB, func() {
		var err error
		if b, err = Listen(context.Background(), nil, nil, recB.add); err != nil {
			t.Fatal(err)
		}
	})
	in(t, nsA, func() {
		if err := a.Add(ipA, ipB, fast); err != nil {
			t.Error(err)
		}
		if err := a.Add(ip6A, ip6B, fast); err != nil {
			t.Error(err)
		}
	})
	in(t, nsB, func() {
		if err := b.Add(ipB, ipA, fast); err != nil {
			t.Fatal(err)
		}
		if err := b.Add(ip6B, ip6A, Config{DesiredMinTx: 50 * time.Millisecond, RequiredMinRx: 50 * time.Millisecond, DetectMult: 3, Passive: true}); err != nil {
			t.Fatal(err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	defer b.Close()
	recA.wait(t, ipB, Up, 5*time.Second)
	recB.wait(t, ipA, Up, 5*time.Second)
	recA.wait(t, ip6B, Up, 5*time.Second)

	// Hostile packets: garbage, a valid packet for no session, a valid one from further than one
	// hop (TTL 64). None changes anything, each is counted.
	in(t, nsB, func() {
		c, err := net.Dial("udp4", "10.77.0.1:3784")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = ipv4.NewConn(c).SetTTL(255)
		_, _ = c.Write([]byte("garbage that is not a BFD packet at all"))
		_, _ = c.Write(Packet{Version: 1, State: Up, DetectMult: 3, MyDisc: 99, YourDisc: 12345, DesiredMinTx: time.Second}.Marshal())
		_ = ipv4.NewConn(c).SetTTL(64)
		_, _ = c.Write(Packet{Version: 1, State: AdminDown, DetectMult: 3, MyDisc: 99}.Marshal())
	})
	time.Sleep(200 * time.Millisecond)
	for reason, want := range map[string]float64{"parse": 1, "no session": 1, "ttl": 1} {
		got := testutil.ToFloat64(a.metrics.bad.WithLabelValues("10.77.0.2", reason))
		if got != want {
			t.Errorf("dropped packets (%s) = %v, want %v", reason, got, want)
		}
	}
	if a.State(ipB) != Up {
		t.Fatalf("hostile packets took the session %s", a.State(ipB))
	}
	if testutil.ToFloat64(a.metrics.up.WithLabelValues("10.77.0.2")) != 1 {
		t.Error("metallb_bfd_session_up is not 1")
	}

	// The path breaks: both ends notice within the detection time (3 x 50 ms).
	in(t, nsA, func() {
		l, _ := netlink.LinkByName("bfda")
		_ = netlink.LinkSetDown(l)
	})
	cut := time.Now()
	at, ev := recA.wait(t, ipB, Down, 2*time.Second)
	if d := at.Sub(cut); d > 250*time.Millisecond {
		t.Errorf("down %s after the cut; detection time is 150 ms", d)
	} else {
		t.Logf("down %s after the cut (detection time 150 ms)", d.Round(time.Millisecond))
	}
	if ev.Diag != DiagTimeExpired {
		t.Errorf("diag %s", ev.Diag)
	}
	in(t, nsA, func() {
		l, _ := netlink.LinkByName("bfda")
		_ = netlink.LinkSetUp(l)
	})
	recB.wait(t, ipA, Down, time.Second)
	recA.wait(t, ipB, Up, 5*time.Second)
	recB.wait(t, ipA, Up, 5*time.Second)

	// A's server closes: it tells B (AdminDown), which goes Down at once, saying why.
	a.Close()
	_, ev = recB.wait(t, ipA, Down, time.Second)
	if ev.Diag != DiagNeighborDown {
		t.Errorf("B's diag after A closed: %s", ev.Diag)
	}
}

// bindable reports whether port 3784 of addr is free (nobody listens on it or on the wildcard).
func bindable(t *testing.T, addr string) bool {
	t.Helper()
	c, err := net.ListenPacket("udp", net.JoinHostPort(addr, "3784"))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Port 3784 is open only while a session uses a local address, and only on that address: a node
// whose peers use no BFDProfile listens nowhere.
func TestListensOnlyOnSessionAddresses(t *testing.T) {
	nsA, _ := twoHosts(t)
	in(t, nsA, func() {
		s, err := Listen(context.Background(), nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if !bindable(t, "0.0.0.0") || !bindable(t, "::") {
			t.Error("port 3784 is open before any session")
		}
		if err := s.Add(netip.MustParseAddr("10.77.0.1"), netip.MustParseAddr("10.77.0.2"), Config{DesiredMinTx: time.Second, RequiredMinRx: time.Second}); err != nil {
			t.Fatal(err)
		}
		if bindable(t, "10.77.0.1") {
			t.Error("port 3784 of the session's local address is not open")
		}
		if !bindable(t, "fd77::1") || !bindable(t, "127.0.0.1") {
			t.Error("port 3784 is open on an address no session uses")
		}
		if got := s.Listening(); len(got) != 1 || got[0] != netip.MustParseAddr("10.77.0.1") {
			t.Errorf("listening on %v", got)
		}
		s.Remove(netip.MustParseAddr("10.77.0.2"))
		if !bindable(t, "10.77.0.1") {
			t.Error("port 3784 still open after the last session on it ended")
		}
	})
}

// A sender on the link (TTL 255, the peer's own source address) that knows neither
// discriminator cannot take an Up session down, nor can one further away that knows both; and
// packets from addresses with no session are counted under one label.
func TestForgedPacketsLeaveUpSessionUp(t *testing.T) {
	nsA, nsB := twoHosts(t)
	ipA, ipB := netip.MustParseAddr("10.77.0.1"), netip.MustParseAddr("10.77.0.2")
	fast := Config{DesiredMinTx: 50 * time.Millisecond, RequiredMinRx: 50 * time.Millisecond, DetectMult: 3}
	var recA recorder
	var a, b *Server
	in(t, nsA, func() {
		var err error
		if a, err = Listen(context.Background(), nil, NewMetrics(prometheus.NewRegistry()), recA.add); err != nil {
			t.Fatal(err)
		}
		if err := a.Add(ipA, ipB, fast); err != nil {
			t.Fatal(err)
		}
		if err := a.Add(netip.MustParseAddr("fd77::1"), netip.MustParseAddr("fd77::2"), fast); err != nil {
			t.Fatal(err)
		}
	})
	defer a.Close()
	in(t, nsB, func() {
		var err error
		if b, err = Listen(context.Background(), nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := b.Add(ipB, ipA, fast); err != nil {
			t.Fatal(err)
		}
		l, _ := netlink.LinkByName("bfdb")
		addr, _ := netlink.ParseAddr("fd77::3/64")
		addr.Flags = 0x02
		if err := netlink.AddrAdd(l, addr); err != nil {
			t.Fatal(err)
		}
	})
	defer b.Close()
	recA.wait(t, ipB, Up, 5*time.Second)
	recA.mu.Lock()
	recA.events = nil // the handshake's
	recA.mu.Unlock()
	a.mu.Lock()
	ours, theirs := a.sessions[ipB].Config().LocalDisc, a.sessions[ipB].RemoteDisc
	v6disc := a.sessions[netip.MustParseAddr("fd77::2")].Config().LocalDisc
	a.mu.Unlock()
	if ours == 0 || theirs == 0 || ours == v6disc {
		t.Fatalf("discriminators: ours %d, the peer's %d, the other session's %d", ours, theirs, v6disc)
	}

	in(t, nsB, func() {
		c, err := net.Dial("udp4", "10.77.0.1:3784")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		pc := ipv4.NewConn(c)
		_ = pc.SetTTL(255)
		for _, p := range []Packet{
			{Version: 1, State: AdminDown, DetectMult: 3, MyDisc: theirs + 1},                 // selected by address, unknown my disc
			{Version: 1, State: Down, DetectMult: 3, MyDisc: theirs ^ 0x8000},                 // the same, Down
			{Version: 1, State: AdminDown, DetectMult: 3, MyDisc: theirs, YourDisc: ours + 1}, // a guessed your disc
			{Version: 1, State: AdminDown, DetectMult: 3, MyDisc: theirs, YourDisc: v6disc},   // the other session's
		} {
			_, _ = c.Write(p.Marshal())
		}
		_ = pc.SetTTL(254) // both discriminators right, from two hops away
		_, _ = c.Write(Packet{Version: 1, State: AdminDown, DetectMult: 3, MyDisc: theirs, YourDisc: ours}.Marshal())

		s, err := net.DialUDP("udp6", &net.UDPAddr{IP: net.ParseIP("fd77::3")}, &net.UDPAddr{IP: net.ParseIP("fd77::1"), Port: Port})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_ = ipv6.NewConn(s).SetHopLimit(255)
		_, _ = s.Write(Packet{Version: 1, State: Down, DetectMult: 3, MyDisc: 5}.Marshal())
	})
	time.Sleep(300 * time.Millisecond)
	if st := a.State(ipB); st != Up {
		t.Fatalf("forged packets took the session %s", st)
	}
	recA.mu.Lock()
	for _, e := range recA.events {
		if e.Peer == ipB {
			t.Errorf("forged packets moved the session: %s -> %s (%s)", e.Old, e.New, e.Diag)
		}
	}
	recA.mu.Unlock()
	for _, tc := range []struct {
		peer, reason string
		want         float64
	}{{"10.77.0.2", "discriminator", 2}, {"10.77.0.2", "no session", 2}, {"10.77.0.2", "ttl", 1}, {UnknownPeer, "no session", 1}} {
		if got := testutil.ToFloat64(a.metrics.bad.WithLabelValues(tc.peer, tc.reason)); got != tc.want {
			t.Errorf("dropped packets {peer=%s, reason=%s} = %v, want %v", tc.peer, tc.reason, got, tc.want)
		}
	}
	if n := testutil.CollectAndCount(a.metrics.bad); n != 4 {
		t.Errorf("%d dropped-packet series, want 4 (no series for the forged source)", n)
	}
}

// Discriminators are random, nonzero and unique: a sender off the path cannot guess them from
// another session's.
func TestDiscriminatorsAreRandomAndUnique(t *testing.T) {
	s := &Server{byDisc: map[uint32]*peerSession{}}
	prev := uint32(0)
	near := 0
	for range 1000 {
		d := s.newDiscLocked()
		if d == 0 || s.byDisc[d] != nil {
			t.Fatalf("discriminator %d is zero or in use", d)
		}
		if d-prev < 1000 || prev-d < 1000 {
			near++
		}
		s.byDisc[d], prev = &peerSession{}, d
	}
	if near > 5 {
		t.Errorf("%d of 1000 discriminators within 1000 of the one before: not random", near)
	}
}
