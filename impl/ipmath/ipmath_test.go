package ipmath

import (
	"net/netip"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, s := range []string{"0.0.0.0", "10.1.2.3", "255.255.255.255", "::", "fc00::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::ffff:0:1"} {
		a := netip.MustParseAddr(s)
		if got := ToAddr(FromAddr(a), a.Is4()); got != a {
			t.Errorf("round trip of %s gave %s", s, got)
		}
	}
}

func TestArithmetic(t *testing.T) {
	max := U128{Hi: ^uint64(0), Lo: ^uint64(0)}
	if got := (U128{Lo: ^uint64(0)}).Add64(1); got != (U128{Hi: 1}) {
		t.Errorf("carry: got %+v", got)
	}
	if got := (U128{Hi: 1}).Sub(U128{Lo: 1}); got != (U128{Lo: ^uint64(0)}) {
		t.Errorf("borrow: got %+v", got)
	}
	if got := max.Add64(1); !got.IsZero() {
		t.Errorf("wrap: got %+v", got)
	}
	if got := (U128{Hi: 1}).Int64(); got != 1<<63-1 {
		t.Errorf("Int64 cap: got %d", got)
	}
	if got := Pow2(64); got != (U128{Hi: 1}) {
		t.Errorf("Pow2(64) = %+v", got)
	}
	if (U128{Hi: 1}).Cmp(U128{Lo: 5}) != 1 || (U128{Lo: 5}).Cmp(U128{Lo: 5}) != 0 || (U128{Lo: 4}).Cmp(U128{Lo: 5}) != -1 {
		t.Error("Cmp is wrong")
	}
}

func TestRangeSize(t *testing.T) {
	tests := []struct {
		first, last string
		want        U128
	}{
		{"172.18.255.200", "172.18.255.250", U128{Lo: 51}},
		{"10.0.0.0", "10.0.255.255", U128{Lo: 65536}},
		{"0.0.0.0", "255.255.255.255", U128{Lo: 1 << 32}},
		{"fc00::", "fc00::ffff:ffff:ffff:ffff", U128{Hi: 1}},
		{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", U128{Hi: ^uint64(0), Lo: ^uint64(0)}},
	}
	for _, tt := range tests {
		if got := RangeSize(netip.MustParseAddr(tt.first), netip.MustParseAddr(tt.last)); got != tt.want {
			t.Errorf("RangeSize(%s, %s) = %+v, want %+v", tt.first, tt.last, got, tt.want)
		}
	}
}

func TestPrefixes(t *testing.T) {
	tests := []struct {
		first, last string
		want        []string
	}{
		{"192.168.1.0", "192.168.1.255", []string{"192.168.1.0/24"}},
		{"192.168.1.10", "192.168.1.20", []string{"192.168.1.10/31", "192.168.1.12/30", "192.168.1.16/30", "192.168.1.20/32"}},
		{"10.0.0.5", "10.0.0.5", []string{"10.0.0.5/32"}},
		{"0.0.0.0", "255.255.255.255", []string{"0.0.0.0/0"}},
		{"255.255.255.254", "255.255.255.255", []string{"255.255.255.254/31"}},
		{"fc00::", "fc00::ffff:ffff:ffff:ffff", []string{"fc00::/64"}},
		{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", []string{"::/0"}},
	}
	for _, tt := range tests {
		got := Prefixes(netip.MustParseAddr(tt.first), netip.MustParseAddr(tt.last))
		if len(got) != len(tt.want) {
			t.Errorf("Prefixes(%s, %s) = %v, want %v", tt.first, tt.last, got, tt.want)
			continue
		}
		for i := range got {
			if got[i].String() != tt.want[i] {
				t.Errorf("Prefixes(%s, %s) = %v, want %v", tt.first, tt.last, got, tt.want)
				break
			}
		}
	}
}
