package layer2

import (
	"net"
	"net/netip"
	"testing"
)

func TestARPVerdict(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	other := net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
	owned := netip.MustParseAddr("192.0.2.10")
	owns := func(ip netip.Addr) bool { return ip == owned }
	for _, tc := range []struct {
		name    string
		request bool
		dst     net.HardwareAddr
		target  netip.Addr
		want    dropReason
	}{
		{"broadcast request for an owned address", true, broadcast, owned, answer},
		{"request unicast to us (a cache refresh)", true, mac, owned, answer},
		{"request unicast to another host", true, other, owned, dropEthDestination},
		{"request to a multicast MAC", true, net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 1}, owned, dropEthDestination},
		{"a reply", false, broadcast, owned, dropNotRequest},
		{"request for another address", true, broadcast, netip.MustParseAddr("192.0.2.11"), dropNotOwned},
		{"request for an IPv6 address", true, broadcast, netip.MustParseAddr("2001:db8::1"), dropNotOwned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := arpVerdict(tc.request, tc.dst, mac, tc.target, owns); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNDPVerdict(t *testing.T) {
	owned := netip.MustParseAddr("2001:db8::a:bcde")
	owns := func(ip netip.Addr) bool { return ip == owned }
	for _, tc := range []struct {
		name        string
		dst, target string
		want        dropReason
	}{
		{"to the target's solicited-node group", "ff02::1:ff0a:bcde", owned.String(), answer},
		{"unicast (neighbour unreachability detection)", owned.String(), owned.String(), answer},
		{"unicast to our link-local address", "fe80::1", owned.String(), answer},
		{"destination unknown", "", owned.String(), answer},
		{"to all nodes", "ff02::1", owned.String(), dropIPDestination},
		{"to another address's solicited-node group", "ff02::1:ff00:1", owned.String(), dropIPDestination},
		{"for another address", "ff02::1:ff00:1", "2001:db8::1", dropNotOwned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dst netip.Addr
			if tc.dst != "" {
				dst = netip.MustParseAddr(tc.dst)
			}
			if got := ndpVerdict(dst, netip.MustParseAddr(tc.target), owns); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if got := solicitedNode(netip.MustParseAddr("fe80::2aa:ff:fe28:9c5a")); got != netip.MustParseAddr("ff02::1:ff28:9c5a") {
		t.Errorf("solicitedNode = %s (RFC 4291's example: ff02::1:ff28:9c5a)", got)
	}
}
