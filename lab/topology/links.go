package topology

import (
	"net/netip"
	"strconv"
)

// LinkInterface is the host and interface name of the end of link li: given as HOST:IFACE, or
// link<li>.
func LinkInterface(endpoint string, li int) (host, iface string) {
	host, iface = SplitEndpoint(endpoint)
	if iface == "" {
		iface = "link" + strconv.Itoa(li)
	}
	return host, iface
}

// LinkAddrs returns the two addresses of a link, those of its first and second end: the first two
// of its subnet.
func LinkAddrs(subnet string) (a, b netip.Addr, bits int, err error) {
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return a, b, 0, err
	}
	a = p.Masked().Addr().Next()
	return a, a.Next(), p.Bits(), nil
}
