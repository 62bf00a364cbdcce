package kindnet

import (
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// Proto marks the routes this daemon makes ("ironlab", in the unassigned range of
// rtnetlink's protocols), so that it lists and removes its own only.
const Proto = netlink.RouteProtocol(0x49)

// Netlink is Routes in the node's own routing table.
type Netlink struct{}

func (Netlink) List() ([]Route, error) {
	rs, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Protocol: Proto}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return nil, err
	}
	var out []Route
	for _, r := range rs {
		if r.Dst == nil || r.Gw == nil {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		dst, ok1 := netip.AddrFromSlice(r.Dst.IP)
		via, ok2 := netip.AddrFromSlice(r.Gw)
		if ok1 && ok2 {
			out = append(out, Route{Dst: netip.PrefixFrom(dst.Unmap(), ones), Via: via.Unmap()})
		}
	}
	return out, nil
}

func (Netlink) Replace(r Route) error { return netlink.RouteReplace(nl(r)) }
func (Netlink) Delete(r Route) error  { return netlink.RouteDel(nl(r)) }

func nl(r Route) *netlink.Route {
	bits := 32
	if r.Dst.Addr().Is6() {
		bits = 128
	}
	return &netlink.Route{
		Dst:      &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), bits)},
		Gw:       r.Via.AsSlice(),
		Protocol: Proto,
	}
}
