//go:build linux

package layer2

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netns"

	"github.com/ironlb/ironlb/impl/internal/testnet"
)

// segment makes two network namespaces joined by a veth pair: the speaker's side "l2a"
// (10.78.0.1, fd78::1) and a client's "l2b" (10.78.0.2, fd78::2), without duplicate address
// detection so that link-local addresses are usable at once. Removed when the test ends.
func segment(t *testing.T) (a, b netns.NsHandle) {
	t.Helper()
	return testnet.Pair(t, "ARP/NDP over a veth between namespaces",
		testnet.Host{Link: "l2a", V4: "10.78.0.1/24", V6: "fd78::1/64"}, testnet.Host{Link: "l2b", V4: "10.78.0.2/24", V6: "fd78::2/64"})
}

// in runs f on a thread inside ns.
func in(t *testing.T, ns netns.NsHandle, f func()) { t.Helper(); testnet.In(t, ns, f) }

// client is the other host on the segment: it sees every ARP packet and ICMPv6 message.
type client struct {
	ifi *net.Interface
	arp *arp.Client
	ndp *ndp.Conn
	got chan any // *arp.Packet with its Ethernet destination, or *ndp.NeighborAdvertisement
}

type arpSeen struct {
	pkt *arp.Packet
	dst net.HardwareAddr
}

func newClient(t *testing.T, ns netns.NsHandle) *client {
	c := &client{got: make(chan any, 256)}
	var err error
	in(t, ns, func() {
		if c.ifi, err = net.InterfaceByName("l2b"); err != nil {
			return
		}
		if c.arp, err = arp.Dial(c.ifi); err != nil {
			return
		}
		c.ndp, _, err = ndp.Listen(c.ifi, ndp.LinkLocal)
	})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	t.Cleanup(func() { c.arp.Close(); c.ndp.Close() })
	go func() {
		for {
			p, eth, err := c.arp.Read()
			if err != nil {
				if _, ok := err.(net.Error); ok {
					return
				}
				continue
			}
			c.got <- arpSeen{p, eth.Destination}
		}
	}()
	go func() {
		for {
			m, _, _, err := c.ndp.ReadFrom()
			if err != nil {
				if _, ok := err.(net.Error); ok {
					return
				}
				continue
			}
			if na, ok := m.(*ndp.NeighborAdvertisement); ok {
				c.got <- na
			}
		}
	}()
	return c
}

// collect returns what the client saw within d.
func (c *client) collect(d time.Duration) (garp, replies map[netip.Addr]int, na, solicited map[netip.Addr]int) {
	garp, replies, na, solicited = map[netip.Addr]int{}, map[netip.Addr]int{}, map[netip.Addr]int{}, map[netip.Addr]int{}
	end := time.After(d)
	for {
		select {
		case <-end:
			return
		case v := <-c.got:
			switch v := v.(type) {
			case arpSeen:
				switch {
				case v.pkt.SenderIP == v.pkt.TargetIP && v.dst.String() == ethernet.Broadcast.String():
					garp[v.pkt.SenderIP]++
				case v.pkt.Operation == arp.OperationReply:
					replies[v.pkt.SenderIP]++
				}
			case *ndp.NeighborAdvertisement:
				if v.Solicited {
					solicited[v.TargetAddress]++
				} else {
					na[v.TargetAddress]++
				}
			}
		}
	}
}

// speaker runs an Announcer with one responder, on l2a, sending each announcement once.
func speaker(t *testing.T, ns netns.NsHandle) (*Announcer, net.HardwareAddr, context.Context) {
	a, err := New(Options{Log: testr.New(t), Gratuitous: []time.Duration{0}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); a.wg.Wait() })
	var r *responder
	in(t, ns, func() {
		var ifi *net.Interface
		if ifi, err = net.InterfaceByName("l2a"); err == nil {
			r, err = newResponder(ctx, a, *ifi)
		}
	})
	if err != nil {
		t.Fatalf("responder: %v", err)
	}
	if r.arp == nil || r.ndp == nil {
		t.Fatalf("responder without ARP (%v) or NDP (%v)", r.arp != nil, r.ndp != nil)
	}
	a.responders[r.ifi.Name] = r
	return a, r.ifi.HardwareAddr, ctx
}

var (
	v4 = netip.MustParseAddr("10.78.0.100")
	v6 = netip.MustParseAddr("fd78::100")
)

// Reannounce sends gratuitous ARP and an unsolicited NA again for every owned address (and
// only for those), although nothing changed: what a speaker does after the membership healed.
func TestReannounceSendsOwnedAddressesAgain(t *testing.T) {
	nsA, nsB := segment(t)
	c := newClient(t, nsB)
	a, _, ctx := speaker(t, nsA)

	a.SetOwned(ctx, map[netip.Addr]Announcement{v4: {}, v6: {}})
	garp, _, na, _ := c.collect(500 * time.Millisecond)
	if garp[v4] != 2 || na[v6] != 1 { // a broadcast reply and a request; one NA
		t.Fatalf("takeover: gratuitous ARP %v, NA %v", garp, na)
	}
	a.SetOwned(ctx, map[netip.Addr]Announcement{v4: {}, v6: {}}) // unchanged: nothing sent
	if garp, _, na, _ := c.collect(300 * time.Millisecond); len(garp)+len(na) != 0 {
		t.Fatalf("an unchanged set announced again: %v %v", garp, na)
	}

	a.Reannounce(ctx)
	garp, _, na, _ = c.collect(500 * time.Millisecond)
	if garp[v4] != 2 || na[v6] != 1 || len(garp) != 1 || len(na) != 1 {
		t.Errorf("reannounce: gratuitous ARP %v, NA %v; want 2 for %s and 1 for %s", garp, na, v4, v6)
	}

	a.SetOwned(ctx, map[netip.Addr]Announcement{v6: {}})
	c.collect(200 * time.Millisecond)
	a.Reannounce(ctx)
	garp, _, na, _ = c.collect(500 * time.Millisecond)
	if len(garp) != 0 || na[v6] != 1 {
		t.Errorf("reannounce after %s was given up: gratuitous ARP %v, NA %v", v4, garp, na)
	}
}

// ARP requests are answered when sent to broadcast or to the speaker's MAC address, never when
// sent to another host's; solicitations when sent to the target's solicited-node group, never
// to all nodes.
func TestAnswersOnlyRequestsMeantForIt(t *testing.T) {
	nsA, nsB := segment(t)
	c := newClient(t, nsB)
	a, mac, ctx := speaker(t, nsA)
	a.SetOwned(ctx, map[netip.Addr]Announcement{v4: {}, v6: {}})
	c.collect(300 * time.Millisecond)

	ask := func(dst net.HardwareAddr) int {
		t.Helper()
		p, err := arp.NewPacket(arp.OperationRequest, c.ifi.HardwareAddr, netip.MustParseAddr("10.78.0.2"), ethernet.Broadcast, v4)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.arp.WriteTo(p, dst); err != nil {
			t.Fatal(err)
		}
		_, replies, _, _ := c.collect(300 * time.Millisecond)
		return replies[v4]
	}
	if n := ask(ethernet.Broadcast); n != 1 {
		t.Errorf("broadcast request: %d replies, want 1", n)
	}
	if n := ask(mac); n != 1 {
		t.Errorf("request unicast to the speaker: %d replies, want 1", n)
	}
	if n := ask(net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}); n != 0 {
		t.Errorf("request unicast to another host: %d replies, want none", n)
	}

	solicit := func(dst netip.Addr) int {
		t.Helper()
		ns := &ndp.NeighborSolicitation{TargetAddress: v6,
			Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: c.ifi.HardwareAddr}}}
		if err := c.ndp.WriteTo(ns, nil, dst); err != nil {
			t.Fatal(err)
		}
		_, _, _, solicited := c.collect(300 * time.Millisecond)
		return solicited[v6]
	}
	sn, err := ndp.SolicitedNodeMulticast(v6)
	if err != nil {
		t.Fatal(err)
	}
	if n := solicit(sn); n != 1 {
		t.Errorf("solicitation to the solicited-node group: %d answers, want 1", n)
	}
	if n := solicit(netip.IPv6LinkLocalAllNodes()); n != 0 {
		t.Errorf("solicitation to all nodes: %d answers, want none", n)
	}
}
