package allocator

import (
	"net/netip"

	"github.com/google/btree"

	"github.com/ironlb/ironlb/impl/config"
	"github.com/ironlb/ironlb/impl/ipmath"
)

// space maps the addresses of one family of a pool onto dense numbers ("coordinates"), so that the
// free set never holds an address that may not be handed out. For IPv4 pools with avoidBuggyIPs,
// the .0 and .255 addresses have no coordinate at all: x.y.z.1..254 maps to z'*254 + (d-1).
type space struct {
	v4, skipBuggy bool
}

func (s space) toCoord(a netip.Addr) (ipmath.U128, bool) {
	n := ipmath.FromAddr(a)
	if !s.skipBuggy {
		return n, true
	}
	low := n.Lo & 0xff
	if low == 0 || low == 255 {
		return ipmath.U128{}, false
	}
	return ipmath.U128{Lo: (n.Lo>>8)*254 + low - 1}, true
}

func (s space) toAddr(c ipmath.U128) netip.Addr {
	if !s.skipBuggy {
		return ipmath.ToAddr(c, s.v4)
	}
	return ipmath.ToAddr(ipmath.U128{Lo: (c.Lo/254)<<8 | (c.Lo%254 + 1)}, true)
}

// rangeCoords returns the coordinates of the first and last usable address of r, or false when
// r holds no usable address.
func (s space) rangeCoords(r config.Range) (lo, hi ipmath.U128, ok bool) {
	if !s.skipBuggy {
		return ipmath.FromAddr(r.First), ipmath.FromAddr(r.Last), true
	}
	first, last := ipmath.FromAddr(r.First).Lo, ipmath.FromAddr(r.Last).Lo
	switch first & 0xff {
	case 0:
		first++
	case 255:
		first += 2
	}
	switch last & 0xff {
	case 0:
		last -= 2
	case 255:
		last--
	}
	if first > last || first > 0xffffffff {
		return ipmath.U128{}, ipmath.U128{}, false
	}
	a, _ := s.toCoord(ipmath.ToAddr(ipmath.U128{Lo: first}, true))
	b, _ := s.toCoord(ipmath.ToAddr(ipmath.U128{Lo: last}, true))
	return a, b, true
}

// interval is an inclusive run of free coordinates.
type interval struct{ lo, hi ipmath.U128 }

func lessInterval(a, b interval) bool { return a.lo.Cmp(b.lo) < 0 }

// freeSet is the set of free coordinates of one pool family, as disjoint, non-adjacent intervals
// in a B-tree ordered by start. Its memory grows with the number of holes that assignments made,
// not with the size of the pool; every operation is O(log intervals).
type freeSet struct {
	t    *btree.BTreeG[interval]
	free ipmath.U128 // number of free coordinates
}

func newFreeSet() *freeSet { return &freeSet{t: btree.NewG(8, lessInterval)} }

// containing returns the interval holding c.
func (f *freeSet) containing(c ipmath.U128) (interval, bool) {
	var found interval
	ok := false
	f.t.DescendLessOrEqual(interval{lo: c}, func(iv interval) bool {
		if c.Cmp(iv.hi) <= 0 {
			found, ok = iv, true
		}
		return false
	})
	return found, ok
}

// add marks lo..hi free; it must not overlap what is already free. Adjacent intervals merge.
func (f *freeSet) add(lo, hi ipmath.U128) {
	if n := hi.Sub(lo).Add64(1); n.IsZero() || f.free.Add(n).Cmp(f.free) < 0 {
		f.free = ipmath.U128{Hi: ^uint64(0), Lo: ^uint64(0)} // the whole IPv6 space: saturate
	} else {
		f.free = f.free.Add(n)
	}
	one := ipmath.U128{Lo: 1}
	f.t.DescendLessOrEqual(interval{lo: lo}, func(prev interval) bool {
		if !prev.hi.Add(one).IsZero() && prev.hi.Add(one) == lo {
			f.t.Delete(prev)
			lo = prev.lo
		}
		return false
	})
	if next := hi.Add(one); !next.IsZero() {
		if n, ok := f.t.Get(interval{lo: next}); ok {
			f.t.Delete(n)
			hi = n.hi
		}
	}
	f.t.ReplaceOrInsert(interval{lo: lo, hi: hi})
}

// take removes c from the free set; false when c is not free.
func (f *freeSet) take(c ipmath.U128) bool {
	iv, ok := f.containing(c)
	if !ok {
		return false
	}
	f.t.Delete(iv)
	one := ipmath.U128{Lo: 1}
	if iv.lo.Cmp(c) < 0 {
		f.t.ReplaceOrInsert(interval{lo: iv.lo, hi: c.Sub(one)})
	}
	if c.Cmp(iv.hi) < 0 {
		f.t.ReplaceOrInsert(interval{lo: c.Add(one), hi: iv.hi})
	}
	f.free = f.free.Sub(one)
	return true
}

// first returns the lowest free coordinate.
func (f *freeSet) first() (ipmath.U128, bool) {
	iv, ok := f.t.Min()
	return iv.lo, ok
}
