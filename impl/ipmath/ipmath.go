// Package ipmath does arithmetic on IP addresses as 128-bit unsigned numbers, so that ranges of
// IPv6 addresses can be sized, split and stepped through without materialising them.
package ipmath

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// U128 is an unsigned 128-bit number.
type U128 struct{ Hi, Lo uint64 }

// FromAddr returns the number of an address: its 32 bits for IPv4, its 128 for IPv6.
func FromAddr(a netip.Addr) U128 {
	if a.Is4() {
		b := a.As4()
		return U128{Lo: uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return U128{Hi: binary.BigEndian.Uint64(b[:8]), Lo: binary.BigEndian.Uint64(b[8:])}
}

// ToAddr returns the address of a number, IPv4 when v4 is set (the number must fit in 32 bits).
func ToAddr(n U128, v4 bool) netip.Addr {
	if v4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(n.Lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], n.Hi)
	binary.BigEndian.PutUint64(b[8:], n.Lo)
	return netip.AddrFrom16(b)
}

// Cmp compares two numbers: -1, 0 or +1.
func (n U128) Cmp(m U128) int {
	switch {
	case n.Hi < m.Hi:
		return -1
	case n.Hi > m.Hi:
		return 1
	case n.Lo < m.Lo:
		return -1
	case n.Lo > m.Lo:
		return 1
	}
	return 0
}

// Add returns n+m, wrapping at 2^128.
func (n U128) Add(m U128) U128 {
	lo, c := bits.Add64(n.Lo, m.Lo, 0)
	hi, _ := bits.Add64(n.Hi, m.Hi, c)
	return U128{Hi: hi, Lo: lo}
}

// Sub returns n-m, wrapping below 0.
func (n U128) Sub(m U128) U128 {
	lo, b := bits.Sub64(n.Lo, m.Lo, 0)
	hi, _ := bits.Sub64(n.Hi, m.Hi, b)
	return U128{Hi: hi, Lo: lo}
}

// Add64 returns n+k.
func (n U128) Add64(k uint64) U128 { return n.Add(U128{Lo: k}) }

// IsZero reports whether n is 0.
func (n U128) IsZero() bool { return n.Hi == 0 && n.Lo == 0 }

// Uint64 returns n capped at the largest uint64.
func (n U128) Uint64() uint64 {
	if n.Hi != 0 {
		return ^uint64(0)
	}
	return n.Lo
}

// Int64 returns n capped at the largest int64, for counters.
func (n U128) Int64() int64 {
	if n.Hi != 0 || n.Lo > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(n.Lo)
}

// TrailingZeros returns the number of low zero bits of n (128 for 0).
func (n U128) TrailingZeros() int {
	if n.Lo != 0 {
		return bits.TrailingZeros64(n.Lo)
	}
	if n.Hi != 0 {
		return 64 + bits.TrailingZeros64(n.Hi)
	}
	return 128
}

// BitLen returns the number of bits needed to hold n.
func (n U128) BitLen() int {
	if n.Hi != 0 {
		return 64 + bits.Len64(n.Hi)
	}
	return bits.Len64(n.Lo)
}

// Pow2 returns 2^k for k in [0,127].
func Pow2(k int) U128 {
	if k >= 64 {
		return U128{Hi: 1 << (k - 64)}
	}
	return U128{Lo: 1 << k}
}

// RangeSize returns the number of addresses from first to last inclusive; a full IPv6 space
// (2^128) saturates at 2^128-1.
func RangeSize(first, last netip.Addr) U128 {
	d := FromAddr(last).Sub(FromAddr(first))
	if d.Hi == ^uint64(0) && d.Lo == ^uint64(0) {
		return d
	}
	return d.Add64(1)
}

// Prefixes returns the shortest list of CIDR prefixes that exactly covers first..last
// (inclusive, one family, first <= last). It holds at most 2*bits prefixes.
func Prefixes(first, last netip.Addr) []netip.Prefix {
	v4 := first.Is4()
	width := 128
	if v4 {
		width = 32
	}
	var out []netip.Prefix
	lo, hi := FromAddr(first), FromAddr(last)
	for lo.Cmp(hi) <= 0 {
		// The largest block that starts at lo (aligned) and does not pass hi.
		size := lo.TrailingZeros()
		if size > width {
			size = width
		}
		for size > 0 {
			end := lo.Add(Pow2(size).Sub(U128{Lo: 1}))
			if end.Cmp(hi) <= 0 && end.Cmp(lo) >= 0 {
				break
			}
			size--
		}
		out = append(out, netip.PrefixFrom(ToAddr(lo, v4), width-size))
		if size == width {
			break // the whole space
		}
		next := lo.Add(Pow2(size))
		if next.IsZero() {
			break // wrapped past the top of the space
		}
		lo = next
	}
	return out
}
