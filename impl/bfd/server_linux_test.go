//go:build linux

package bfd

import (
	"context"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/ipv4"
)

// twoHosts makes two network namespaces joined by a veth pair: a (10.77.0.1, fd77::1) and b
// (10.77.0.2, fd77::2). They are removed when the test ends.
func twoHosts(t *testing.T) (a, b netns.NsHandle) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("BFD over real sockets between namespaces needs root: run `sudo make test`")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer netns.Set(orig)
	mk := func() netns.NsHandle {
		h, err := netns.New()
		if err != nil {
			t.Fatal(err)
		}
		lo, _ := netlink.LinkByName("lo")
		_ = netlink.LinkSetUp(lo)
		return h
	}
	a, b = mk(), mk()
	t.Cleanup(func() { a.Close(); b.Close() })
	if err := netns.Set(a); err != nil {
		t.Fatal(err)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "bfda"}, PeerName: "bfdb"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	peer, _ := netlink.LinkByName("bfdb")
	if err := netlink.LinkSetNsFd(peer, int(b)); err != nil {
		t.Fatal(err)
	}
	setup := func(name, v4, v6 string) {
		l, err := netlink.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{v4, v6} {
			addr, _ := netlink.ParseAddr(s)
			addr.Flags = 0x02 // IFA_F_NODAD: usable at once
			if err := netlink.AddrAdd(l, addr); err != nil {
				t.Fatal(err)
			}
		}
		if err := netlink.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	setup("bfda", "10.77.0.1/30", "fd77::1/64")
	if err := netns.Set(b); err != nil {
		t.Fatal(err)
	}
	setup("bfdb", "10.77.0.2/30", "fd77::2/64")
	return a, b
}

// in runs f on a thread inside ns (sockets made there belong to ns).
func in(t *testing.T, ns netns.NsHandle, f func()) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := netns.Set(ns); err != nil {
			t.Error(err)
			return
		}
		f()
	}()
	wg.Wait()
}

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
