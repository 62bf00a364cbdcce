//go:build linux

package traffic

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"

	"github.com/ironlb/ironlb/lab/netns"
)

// Owners asks, from a lab host's interface, who has ip (an ARP request for IPv4, a neighbour
// solicitation to the solicited-node group for IPv6) and returns the MAC addresses that answered
// within wait, sorted. It is what a client on the segment sees, not what any speaker says.
func Owners(lab netns.Lab, from, iface string, ip netip.Addr, wait time.Duration) ([]string, error) {
	var macs []string
	err := lab.Do(from, func() error {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		if ip.Is4() {
			macs, err = arpOwners(ifi, ip, wait)
		} else {
			macs, err = ndpOwners(ifi, ip, wait)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("who has %s, from %s/%s: %w", ip, from, iface, err)
	}
	slices.Sort(macs)
	return slices.Compact(macs), nil
}

func arpOwners(ifi *net.Interface, ip netip.Addr, wait time.Duration) ([]string, error) {
	c, err := arp.Dial(ifi)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Request(ip); err != nil {
		return nil, fmt.Errorf("ARP request: %w", err)
	}
	var out []string
	deadline := time.Now().Add(wait)
	_ = c.SetReadDeadline(deadline)
	for time.Now().Before(deadline) {
		p, _, err := c.Read()
		if err != nil {
			break // deadline
		}
		if p.Operation == arp.OperationReply && p.SenderIP == ip {
			out = append(out, p.SenderHardwareAddr.String())
		}
	}
	return out, nil
}

func ndpOwners(ifi *net.Interface, ip netip.Addr, wait time.Duration) ([]string, error) {
	c, _, err := ndp.Listen(ifi, ndp.LinkLocal)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	group, err := ndp.SolicitedNodeMulticast(ip)
	if err != nil {
		return nil, err
	}
	ns := &ndp.NeighborSolicitation{TargetAddress: ip, Options: []ndp.Option{
		&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: ifi.HardwareAddr},
	}}
	if err := c.WriteTo(ns, nil, group); err != nil {
		return nil, fmt.Errorf("neighbour solicitation: %w", err)
	}
	var out []string
	deadline := time.Now().Add(wait)
	_ = c.SetReadDeadline(deadline)
	for time.Now().Before(deadline) {
		m, _, _, err := c.ReadFrom()
		if err != nil {
			break
		}
		na, ok := m.(*ndp.NeighborAdvertisement)
		if !ok || na.TargetAddress != ip {
			continue
		}
		for _, o := range na.Options {
			if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target {
				out = append(out, lla.Addr.String())
			}
		}
	}
	return out, nil
}
