package layer2

import (
	"bytes"
	"net"
	"net/netip"
)

// dropReason says why a received packet is not answered; "" means it is.
type dropReason string

const (
	answer              dropReason = ""
	dropNotRequest      dropReason = "not a request"
	dropEthDestination  dropReason = "Ethernet destination neither broadcast nor this interface"
	dropIPDestination   dropReason = "IP destination neither the target's solicited-node group nor unicast"
	dropNotOwned        dropReason = "address not owned here or not announced on this interface"
	dropMalformed       dropReason = "malformed"
	dropReadError       dropReason = "read error"
	dropReplyError      dropReason = "reply not sent"
	dropGratuitousError dropReason = "gratuitous announcement not sent"
)

var broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// arpVerdict decides on an ARP packet received on an interface with hardware address mac:
// only requests sent to broadcast or to mac, for an address owned (owns), are answered. A request
// unicast to another host's MAC address reaches us on a shared medium, through a hub-like
// virtual switch or in promiscuous mode: answering it would fight the host it was meant for.
func arpVerdict(request bool, ethDst, mac net.HardwareAddr, target netip.Addr, owns func(netip.Addr) bool) dropReason {
	switch {
	case !request:
		return dropNotRequest
	case !bytes.Equal(ethDst, broadcast) && !bytes.Equal(ethDst, mac):
		return dropEthDestination
	case !target.Is4() || !owns(target):
		return dropNotOwned
	}
	return answer
}

// ndpVerdict decides on a neighbour solicitation for target received with IP destination dst
// (invalid when the kernel did not say): only solicitations sent to the target's solicited-node
// multicast group (address resolution) or unicast (the kernel takes unicast IPv6 only in frames
// sent to this interface's MAC address), for an address owned, are answered. A solicitation for
// an owned address sent to another multicast group (all nodes, or another address's
// solicited-node group) is dropped.
func ndpVerdict(dst, target netip.Addr, owns func(netip.Addr) bool) dropReason {
	if dst.IsValid() && dst.IsMulticast() && dst != solicitedNode(target) {
		return dropIPDestination
	}
	if !target.Is6() || target.Is4In6() || !owns(target) {
		return dropNotOwned
	}
	return answer
}

// solicitedNode is ip's solicited-node multicast address, ff02::1:ffXX:XXXX (RFC 4291).
func solicitedNode(ip netip.Addr) netip.Addr {
	if !ip.Is6() {
		return netip.Addr{}
	}
	b := ip.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 10: 0, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}
