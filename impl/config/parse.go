package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ironlb/ironlb/impl/ipmath"
)

// Range is an inclusive range of addresses of one family.
type Range struct {
	First, Last netip.Addr
}

// Is4 reports whether the range is IPv4.
func (r Range) Is4() bool { return r.First.Is4() }

// Contains reports whether a is in the range.
func (r Range) Contains(a netip.Addr) bool {
	return a.Is4() == r.First.Is4() && r.First.Compare(a) <= 0 && a.Compare(r.Last) <= 0
}

// Overlaps reports whether two ranges share an address.
func (r Range) Overlaps(o Range) bool {
	return r.Is4() == o.Is4() && r.First.Compare(o.Last) <= 0 && o.First.Compare(r.Last) <= 0
}

// Size is the number of addresses in the range.
func (r Range) Size() ipmath.U128 { return ipmath.RangeSize(r.First, r.Last) }

// Prefixes is the shortest list of CIDRs that covers exactly the range.
func (r Range) Prefixes() []netip.Prefix { return ipmath.Prefixes(r.First, r.Last) }

func (r Range) String() string {
	if p := r.Prefixes(); len(p) == 1 {
		return p[0].String()
	}
	return r.First.String() + "-" + r.Last.String()
}

// Sentinel errors of the address and community parsers.
var (
	ErrBadAddress   = errors.New("not a CIDR or an address range")
	ErrBadCommunity = errors.New("not a BGP community")
)

// ParseRange parses a pool address: a CIDR ("192.168.1.0/24", host bits are ignored as MetalLB
// does) or an inclusive range "first-last" of one family, with optional spaces around the dash.
func ParseRange(s string) (Range, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return Range{}, fmt.Errorf("%w: %q: %v", ErrBadAddress, s, err)
		}
		if err := checkAddr(s, p.Addr()); err != nil {
			return Range{}, fmt.Errorf("%w: %w", ErrBadAddress, err)
		}
		p = p.Masked()
		return Range{First: p.Addr(), Last: lastOf(p)}, nil
	}
	first, last, ok := strings.Cut(s, "-")
	if !ok {
		return Range{}, fmt.Errorf("%w: %q: write a CIDR such as 192.168.10.0/24 or a range such as 192.168.10.10-192.168.10.20", ErrBadAddress, s)
	}
	a, err := parseAddr(first)
	if err != nil {
		return Range{}, fmt.Errorf("%w: %q: start: %v", ErrBadAddress, s, err)
	}
	b, err := parseAddr(last)
	if err != nil {
		return Range{}, fmt.Errorf("%w: %q: end: %v", ErrBadAddress, s, err)
	}
	if a.Is4() != b.Is4() {
		return Range{}, fmt.Errorf("%w: %q mixes IPv4 and IPv6", ErrBadAddress, s)
	}
	if b.Less(a) {
		return Range{}, fmt.Errorf("%w: %q: start %s is after end %s", ErrBadAddress, s, a, b)
	}
	return Range{First: a, Last: b}, nil
}

func parseAddr(s string) (netip.Addr, error) {
	return ParseAddr(strings.TrimSpace(s))
}

// lastOf returns the last address of a masked prefix.
func lastOf(p netip.Prefix) netip.Addr {
	width := p.Addr().BitLen()
	hostBits := width - p.Bits()
	if hostBits == 0 {
		return p.Addr()
	}
	n := ipmath.FromAddr(p.Addr())
	if hostBits == 128 {
		return ipmath.ToAddr(ipmath.U128{Hi: ^uint64(0), Lo: ^uint64(0)}, false)
	}
	return ipmath.ToAddr(n.Add(ipmath.Pow2(hostBits).Sub(ipmath.U128{Lo: 1})), p.Addr().Is4())
}

// Community is a BGP community: standard (RFC 1997, two 16-bit halves) or large (RFC 8092, three
// 32-bit parts).
type Community struct {
	Large bool
	// Standard holds the 32-bit value of a standard community (high half : low half).
	Standard uint32
	// LargeParts holds global administrator, local data 1 and local data 2 of a large community.
	LargeParts [3]uint32
}

func (c Community) String() string {
	if c.Large {
		return fmt.Sprintf("large:%d:%d:%d", c.LargeParts[0], c.LargeParts[1], c.LargeParts[2])
	}
	return fmt.Sprintf("%d:%d", c.Standard>>16, c.Standard&0xffff)
}

// ParseCommunity parses "65535:65282" or "large:64512:1:2".
func ParseCommunity(s string) (Community, error) {
	if rest, ok := strings.CutPrefix(s, "large:"); ok {
		parts := strings.Split(rest, ":")
		if len(parts) != 3 {
			return Community{}, fmt.Errorf("%w: %q: a large community has three parts, as in large:64512:1:2", ErrBadCommunity, s)
		}
		var c Community
		c.Large = true
		for i, p := range parts {
			v, err := strconv.ParseUint(p, 10, 32)
			if err != nil {
				return Community{}, fmt.Errorf("%w: %q: part %d is not a number from 0 to 4294967295", ErrBadCommunity, s, i+1)
			}
			c.LargeParts[i] = uint32(v)
		}
		return c, nil
	}
	hi, lo, ok := strings.Cut(s, ":")
	if !ok || strings.Contains(lo, ":") {
		return Community{}, fmt.Errorf("%w: %q: write two numbers as in 65535:65282, or large:64512:1:2", ErrBadCommunity, s)
	}
	h, err1 := strconv.ParseUint(hi, 10, 16)
	l, err2 := strconv.ParseUint(lo, 10, 16)
	if err1 != nil || err2 != nil {
		return Community{}, fmt.Errorf("%w: %q: each half must be a number from 0 to 65535", ErrBadCommunity, s)
	}
	return Community{Standard: uint32(h)<<16 | uint32(l)}, nil
}
