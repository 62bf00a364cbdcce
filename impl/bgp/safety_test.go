package bgp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/server"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/ironlb/ironlb/impl/config"
)

// settled waits for the goroutines to wind down to atMost (a baseline: atMost < 0, a short
// pause) and returns their number and the live heap.
func settled(t *testing.T, atMost int) (int, uint64) {
	t.Helper()
	if atMost < 0 {
		time.Sleep(500 * time.Millisecond)
		atMost = 1 << 20
	}
	deadline := time.Now().Add(10 * time.Second)
	n := runtime.NumGoroutine()
	for n > atMost && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return n, ms.HeapAlloc
}

func speakerPeer(name string, port uint16) *config.Peer {
	connect := time.Second
	return &config.Peer{Name: name, MyASN: 64513, ASN: 64512, Address: netip.MustParseAddr("127.0.0.2"), Port: port,
		SourceAddress: netip.MustParseAddr("127.0.0.3"), ConnectTime: &connect}
}

// TestSessionStartStopDoesNotLeak: starting and stopping a session 100 times (an established
// one now and then) leaves the goroutines and the heap where they were: GoBGP servers are reused,
// not abandoned with their Serve loop.
func TestSessionStartStopDoesNotLeak(t *testing.T) {
	router(t, 64512, 64513, 11794, "")
	m := NewManager(nil, NewMetrics(nil), nil, nil)
	defer m.Shutdown(0)
	ctx := context.Background()
	spec := PeerSpec{Peer: speakerPeer("r1", 11794), NodeV4: netip.MustParseAddr("127.0.0.3")}
	routes := map[string][]Route{"r1": {{Prefix: netip.MustParsePrefix("10.200.0.1/32")}}}
	cycle := func(i int) {
		if err := m.Set(ctx, []PeerSpec{spec}, routes); err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			waitFor(t, "the session", func() bool { return m.Established()["r1"] })
		}
		if err := m.Set(ctx, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	cycle(0) // the first server, kept for the next session
	baseG, baseHeap := settled(t, -1)
	for i := 1; i <= 100; i++ {
		cycle(i)
	}
	g, heap := settled(t, baseG+10)
	t.Logf("goroutines %d -> %d, heap %d KiB -> %d KiB", baseG, g, baseHeap/1024, heap/1024)
	if g > baseG+10 {
		t.Errorf("100 session starts and stops left %d goroutines more", g-baseG)
	}
	if heap > baseHeap+8<<20 {
		t.Errorf("100 session starts and stops left %d KiB more heap", (heap-baseHeap)/1024)
	}
	if len(m.idle) != 1 {
		t.Errorf("%d idle servers for one session at a time", len(m.idle))
	}
}

// TestUnrunnablePeerNeitherLeaksNorStorms: a peer that cannot start is not started again on every
// Set: an unsupported one never, one that failed after its back-off (doubling, capped). Neither
// counts as established, both say why, and 100 Sets leak nothing.
func TestUnrunnablePeerNeitherLeaksNorStorms(t *testing.T) {
	now := time.Unix(1000, 0)
	m := NewManager(nil, NewMetrics(nil), nil, nil)
	m.now = func() time.Time { return now }
	defer m.Shutdown(0)
	ctx := context.Background()
	unnumbered := &config.Peer{Name: "unnumbered", MyASN: 64513, ASN: 64512, Interface: "eth1"}
	vrf := speakerPeer("vrf", 11795)
	vrf.VRF = "red"
	noID := speakerPeer("no-router-id", 11795) // the node has no IPv4 address and the peer no routerID
	set := func() {
		t.Helper()
		err := m.Set(ctx, []PeerSpec{{Peer: unnumbered, NodeV4: netip.MustParseAddr("127.0.0.3")},
			{Peer: vrf, NodeV4: netip.MustParseAddr("127.0.0.3")}, {Peer: noID}}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	attempts := func(name string) int {
		if f := m.failed[name]; f != nil {
			return f.attempts
		}
		return 0
	}
	set()
	baseG, _ := settled(t, -1)
	for range 100 {
		set()
	}
	if g, _ := settled(t, baseG+5); g > baseG+5 {
		t.Errorf("100 Sets of peers that cannot run left %d goroutines more", g-baseG)
	}
	if n := len(m.idle) + len(m.sessions); n != 0 {
		t.Errorf("%d GoBGP servers for peers that never ran", n)
	}
	nr := m.NotRunning()
	for _, name := range []string{"unnumbered", "vrf"} {
		if !errors.Is(nr[name], ErrUnsupported) || attempts(name) != 1 {
			t.Errorf("%s: %v after %d attempts, want unsupported after 1", name, nr[name], attempts(name))
		}
	}
	if nr["no-router-id"] == nil || attempts("no-router-id") != 1 {
		t.Fatalf("no-router-id: %v after %d attempts, want a failure after 1 (back-off)", nr["no-router-id"], attempts("no-router-id"))
	}
	if len(m.Established()) != 0 {
		t.Errorf("established: %v", m.Established())
	}
	// Back-off: 1 s, 2 s, 4 s, ... at most maxBackoff.
	for i, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		now = now.Add(wait - time.Millisecond)
		set()
		if a := attempts("no-router-id"); a != i+1 {
			t.Fatalf("retried before the back-off of %s: %d attempts", wait, a)
		}
		now = now.Add(time.Millisecond)
		set()
		if a := attempts("no-router-id"); a != i+2 {
			t.Fatalf("not retried after the back-off of %s: %d attempts", wait, a)
		}
	}
	now = now.Add(time.Hour)
	for range 20 {
		set()
		now = now.Add(time.Hour)
	}
	if f := m.failed["no-router-id"]; f == nil || f.backoff != maxBackoff {
		t.Errorf("back-off %+v, want capped at %s", f, maxBackoff)
	}
	if attempts("vrf") != 1 {
		t.Errorf("an unsupported peer was tried %d times", attempts("vrf"))
	}
	// A changed peer is tried at once; a gone one is forgotten.
	fixed := *noID
	fixed.RouterID = netip.MustParseAddr("127.0.0.3")
	if err := m.Set(ctx, []PeerSpec{{Peer: &fixed}}, nil); err != nil {
		t.Fatal(err)
	}
	if len(m.NotRunning()) != 0 || m.sessions["no-router-id"] == nil {
		t.Errorf("after the fix: not running %v, sessions %v", m.NotRunning(), m.Established())
	}
}

// TestShutdownClosesForGood: once Shutdown has begun, a Set during the withdraw wait announces
// nothing again, and one after it starts no session.
func TestShutdownClosesForGood(t *testing.T) {
	r := router(t, 64512, 64513, 11796, "")
	m := NewManager(nil, NewMetrics(nil), nil, nil)
	ctx := context.Background()
	spec := PeerSpec{Peer: speakerPeer("r1", 11796), NodeV4: netip.MustParseAddr("127.0.0.3")}
	routes := map[string][]Route{"r1": {{Prefix: netip.MustParsePrefix("10.200.0.1/32")}, {Prefix: netip.MustParsePrefix("10.200.0.2/32")}}}
	if err := m.Set(ctx, []PeerSpec{spec}, routes); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the routes at the router", func() bool { return len(rib(t, r)) == 2 })
	done := make(chan struct{})
	go func() { m.Shutdown(3 * time.Second); close(done) }()
	waitFor(t, "the withdrawal", func() bool { return len(rib(t, r)) == 0 })
	if err := m.Set(ctx, []PeerSpec{spec}, routes); !errors.Is(err, ErrClosing) {
		t.Errorf("Set during the withdraw wait: %v, want ErrClosing", err)
	}
	for range 10 {
		time.Sleep(100 * time.Millisecond)
		if got := rib(t, r); len(got) != 0 {
			t.Fatalf("a Set during the withdraw wait announced again: %v", got)
		}
	}
	<-done
	if err := m.Set(ctx, []PeerSpec{spec}, routes); !errors.Is(err, ErrClosing) {
		t.Errorf("Set after Shutdown: %v, want ErrClosing", err)
	}
	time.Sleep(2 * time.Second)
	if len(m.Established()) != 0 || len(rib(t, r)) != 0 {
		t.Errorf("a Set after Shutdown started a session: %v, router %v", m.Established(), rib(t, r))
	}
}

// count lists how many paths a speaker's server holds in a table (adj-in: neighbor given).
func count(t *testing.T, srv *server.BgpServer, table api.TableType, neighbor string) int {
	t.Helper()
	n := 0
	err := srv.ListPath(context.Background(), &api.ListPathRequest{TableType: table, Name: neighbor,
		Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}}, func(d *api.Destination) { n += len(d.Paths) })
	if err != nil {
		t.Logf("list %s: %v", table, err)
	}
	return n
}

func announce(t *testing.T, r *server.BgpServer, from, to int) {
	t.Helper()
	origin, _ := anypb.New(&api.OriginAttribute{Origin: 0})
	nh, _ := anypb.New(&api.NextHopAttribute{NextHop: "127.0.0.2"})
	for i := from; i < to; i++ {
		nlri, _ := anypb.New(&api.IPAddressPrefix{Prefix: fmt.Sprintf("10.%d.%d.0", 100+i/256, i%256), PrefixLen: 24})
		if _, err := r.AddPath(context.Background(), &api.AddPathRequest{Path: &api.Path{
			Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}, Nlri: nlri, Pattrs: []*anypb.Any{origin, nh}}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHostilePeerLearnsNothing: whatever a peer sends never reaches the speaker's RIB (its own
// route stays the only one), and a peer that sends more than MaxReceivedPrefixes loses its session
// instead of the speaker's memory.
func TestHostilePeerLearnsNothing(t *testing.T) {
	r := router(t, 64512, 64513, 11797, "")
	m := NewManager(nil, NewMetrics(nil), nil, nil)
	defer m.Shutdown(0)
	ctx := context.Background()
	spec := PeerSpec{Peer: speakerPeer("h", 11797), NodeV4: netip.MustParseAddr("127.0.0.3")}
	if err := m.Set(ctx, []PeerSpec{spec}, map[string][]Route{"h": {{Prefix: netip.MustParsePrefix("10.200.0.1/32")}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the session", func() bool { return m.Established()["h"] })
	m.mu.Lock()
	srv := m.sessions["h"].srv
	m.mu.Unlock()

	// Under the limit: received (Adj-RIB-In), rejected by import policy, the session stays.
	announce(t, r, 0, 50)
	waitFor(t, "the 50 routes in the Adj-RIB-In", func() bool { return count(t, srv, api.TableType_ADJ_IN, "127.0.0.2") == 50 })
	if n := count(t, srv, api.TableType_GLOBAL, ""); n != 1 {
		t.Errorf("the speaker's RIB holds %d paths, want its own route only", n)
	}
	if !m.Established()["h"] {
		t.Error("the session went down under the prefix limit")
	}

	// Far over the limit: the session is closed; nothing is learnt; the Adj-RIB-In stays bounded.
	_, baseHeap := settled(t, -1)
	announce(t, r, 50, 5000)
	down := false
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if n := count(t, srv, api.TableType_ADJ_IN, "127.0.0.2"); n > 2*MaxReceivedPrefixes {
			t.Fatalf("the Adj-RIB-In holds %d paths", n)
		}
		if n := count(t, srv, api.TableType_GLOBAL, ""); n > 1 {
			t.Fatalf("the speaker's RIB holds %d paths", n)
		}
		if !m.Established()["h"] {
			down = true
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !down {
		t.Error("a peer that sent 5000 prefixes kept its session")
	}
	if _, heap := settled(t, -1); heap > baseHeap+16<<20 {
		t.Errorf("the hostile peer cost %d KiB of heap", (heap-baseHeap)/1024)
	}
}

// TestGoBGPWarningsRateLimited: the warning GoBGP logs for every UPDATE of a peer over its prefix
// limit is logged once a second, not once per message.
func TestGoBGPWarningsRateLimited(t *testing.T) {
	var buf bytes.Buffer
	l := Logger(slog.New(slog.NewTextHandler(&buf, nil)))
	for range 500 {
		l.Warn("prefix limit reached", gobgplog.Fields{"Key": "127.0.0.2"})
	}
	l.Error("another", nil)
	if n := strings.Count(buf.String(), "prefix limit reached"); n != 1 {
		t.Errorf("%d lines for 500 warnings within a second:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "another") {
		t.Error("another message was held back")
	}
}

// TestFailedStartRetriedWithoutSet: a peer whose start failed is tried again when its back-off is
// over, without waiting for another Set (on a quiet cluster the next one may be hours away).
func TestFailedStartRetriedWithoutSet(t *testing.T) {
	m := NewManager(nil, NewMetrics(nil), nil, nil)
	defer m.Shutdown(0)
	noID := speakerPeer("no-router-id", 11796) // no IPv4 address on the node, no routerID: start fails
	if err := m.Set(context.Background(), []PeerSpec{{Peer: noID}}, nil); err != nil {
		t.Fatal(err)
	}
	attempts := func() int {
		m.mu.Lock()
		defer m.mu.Unlock()
		if f := m.failed["no-router-id"]; f != nil {
			return f.attempts
		}
		return 0
	}
	if a := attempts(); a != 1 {
		t.Fatalf("%d attempts after the first Set, want 1", a)
	}
	deadline := time.Now().Add(startBackoff + 2*time.Second)
	for attempts() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if a := attempts(); a != 2 {
		t.Fatalf("%d attempts %s after the failure with no Set, want 2 (retried after the %s back-off)", a, startBackoff+2*time.Second, startBackoff)
	}
	m.Shutdown(0)
	time.Sleep(2*startBackoff + 100*time.Millisecond)
	if a := attempts(); a != 2 {
		t.Errorf("%d attempts after Shutdown, want no more retries", a)
	}
}

// TestBFDDownIsAHoldDownNotForever: BFD going down closes the session at once, and the session
// connects again when the hold-down is over even if BFD never came back: a router that runs BFD
// only with established neighbours (as dynamic neighbours do) would otherwise never see this node
// again (found by the chaos soak: a node's routes stayed withdrawn after a link flap).
func TestBFDDownIsAHoldDownNotForever(t *testing.T) {
	r := router(t, 64512, 64513, 11797, "")
	m := NewManager(nil, NewMetrics(nil), nil, nil)
	defer m.Shutdown(0)
	spec := PeerSpec{Peer: speakerPeer("r1", 11797), NodeV4: netip.MustParseAddr("127.0.0.3")}
	routes := map[string][]Route{"r1": {{Prefix: netip.MustParsePrefix("10.200.0.9/32")}}}
	if err := m.Set(context.Background(), []PeerSpec{spec}, routes); err != nil {
		t.Fatal(err)
	}
	learnt := func() bool { _, ok := rib(t, r)["10.200.0.9/32"]; return ok }
	waitFor := func(what string, within time.Duration, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > within {
				t.Fatalf("%s: not within %s", what, within)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitFor("route learnt", 15*time.Second, learnt)
	m.BFDChanged(netip.MustParseAddr("127.0.0.2"), false)
	waitFor("route withdrawn after BFD down", 5*time.Second, func() bool { return !learnt() })
	// BFD stays down; the session comes back after the 1 s hold-down (plus the connect retry).
	back := waitFor("session back after the hold-down without BFD", 15*time.Second, learnt)
	if back < bfdHoldMin/2 {
		t.Errorf("back after %s: the hold-down of %s was not kept", back, bfdHoldMin)
	}
	// A second failure doubles the hold-down.
	m.BFDChanged(netip.MustParseAddr("127.0.0.2"), false)
	m.mu.Lock()
	hold := m.sessions["r1"].bfdHold
	m.mu.Unlock()
	if hold != 2*bfdHoldMin {
		t.Errorf("second hold-down = %s, want %s", hold, 2*bfdHoldMin)
	}
	waitFor("route withdrawn after the second BFD down", 5*time.Second, func() bool { return !learnt() })
	waitFor("back after the second hold-down", 20*time.Second, learnt)
}
