package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		in          string
		first, last string
		err         bool
	}{
		{in: "192.168.10.0/24", first: "192.168.10.0", last: "192.168.10.255"},
		{in: "192.168.10.5/24", first: "192.168.10.0", last: "192.168.10.255"}, // host bits masked, as MetalLB
		{in: "172.18.255.200-172.18.255.250", first: "172.18.255.200", last: "172.18.255.250"},
		{in: " 10.0.0.1 - 10.0.0.1 ", first: "10.0.0.1", last: "10.0.0.1"},
		{in: "fc00:f853:ccd:e799::/124", first: "fc00:f853:ccd:e799::", last: "fc00:f853:ccd:e799::f"},
		{in: "2001:db8::1-2001:db8::ff", first: "2001:db8::1", last: "2001:db8::ff"},
		{in: "10.0.0.1/32", first: "10.0.0.1", last: "10.0.0.1"},
		{in: "::/0", first: "::", last: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{in: "not-an-ip", err: true},
		{in: "10.0.0.1", err: true},
		{in: "10.0.0.0/33", err: true},
		{in: "10.0.0.9-10.0.0.1", err: true},
		{in: "10.0.0.1-fc00::1", err: true},
		{in: "10.0.0.1-10.0.0.2-10.0.0.3", err: true},
		{in: "fe80::1%eth0-fe80::2", err: true},
		{in: "fe80::%eth0/64", err: true},
		{in: "", err: true},
	}
	for _, tt := range tests {
		r, err := ParseRange(tt.in)
		if tt.err {
			if !errors.Is(err, ErrBadAddress) {
				t.Errorf("ParseRange(%q) = %v, %v; want ErrBadAddress", tt.in, r, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRange(%q): %v", tt.in, err)
			continue
		}
		if r.First != netip.MustParseAddr(tt.first) || r.Last != netip.MustParseAddr(tt.last) {
			t.Errorf("ParseRange(%q) = %s..%s, want %s..%s", tt.in, r.First, r.Last, tt.first, tt.last)
		}
	}
}

func TestParseCommunity(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  bool
	}{
		{in: "65535:65282", want: "65535:65282"},
		{in: "0:0", want: "0:0"},
		{in: "large:64512:1:2", want: "large:64512:1:2"},
		{in: "large:4294967295:4294967295:4294967295", want: "large:4294967295:4294967295:4294967295"},
		{in: "65536:1", err: true},
		{in: "1:65536", err: true},
		{in: "1:2:3", err: true},
		{in: "large:1:2", err: true},
		{in: "large:4294967296:1:1", err: true},
		{in: "no-export", err: true},
		{in: "-1:5", err: true},
		{in: "", err: true},
	}
	for _, tt := range tests {
		c, err := ParseCommunity(tt.in)
		if tt.err {
			if !errors.Is(err, ErrBadCommunity) {
				t.Errorf("ParseCommunity(%q) = %v, %v; want ErrBadCommunity", tt.in, c, err)
			}
			continue
		}
		if err != nil || c.String() != tt.want {
			t.Errorf("ParseCommunity(%q) = %v, %v; want %s", tt.in, c, err, tt.want)
		}
	}
}

func TestSelectorMatches(t *testing.T) {
	labels := map[string]string{"zone": "a", "role": "edge"}
	tests := []struct {
		name string
		sel  Selector
		want bool
	}{
		{"empty matches all", Selector{}, true},
		{"matchLabels", Selector{MatchLabels: map[string]string{"zone": "a"}}, true},
		{"matchLabels miss", Selector{MatchLabels: map[string]string{"zone": "b"}}, false},
		{"In", Selector{MatchExpressions: []Requirement{{Key: "zone", Operator: "In", Values: []string{"a", "b"}}}}, true},
		{"NotIn", Selector{MatchExpressions: []Requirement{{Key: "zone", Operator: "NotIn", Values: []string{"a"}}}}, false},
		{"NotIn absent key", Selector{MatchExpressions: []Requirement{{Key: "x", Operator: "NotIn", Values: []string{"a"}}}}, true},
		{"Exists", Selector{MatchExpressions: []Requirement{{Key: "role", Operator: "Exists"}}}, true},
		{"DoesNotExist", Selector{MatchExpressions: []Requirement{{Key: "role", Operator: "DoesNotExist"}}}, false},
		{"unknown operator never matches", Selector{MatchExpressions: []Requirement{{Key: "role", Operator: "Gt"}}}, false},
	}
	for _, tt := range tests {
		if got := tt.sel.Matches(labels); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
	if !MatchesAny(nil, labels) {
		t.Error("an empty selector list must match every object")
	}
}

// FuzzParseRange checks that the pool address parser never panics and that what it accepts is a
// well-formed range whose printed form parses back to the same range.
func FuzzParseRange(f *testing.F) {
	for _, s := range append([]string{"192.168.10.0/24", "172.18.255.200-172.18.255.250", "fc00::/64", "::1-::2", "1.2.3.4/0", "a-b", "-", "/"},
		zonedOrMappedRanges...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRange(s)
		if err != nil {
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("ParseRange(%q): error %v does not match ErrBadAddress", s, err)
			}
			return
		}
		if !r.First.IsValid() || !r.Last.IsValid() || r.First.Is4() != r.Last.Is4() || r.Last.Less(r.First) {
			t.Fatalf("ParseRange(%q) = %v: not a well-formed range", s, r)
		}
		// A written bound is never zoned or IPv4-mapped; a CIDR such as ::/80 may end in the mapped
		// block, which Build rejects for a pool.
		if r.First.Zone() != "" || r.Last.Zone() != "" || r.First.Is4In6() || (r.Last.Is4In6() && !strings.Contains(s, "/")) {
			t.Fatalf("ParseRange(%q) = %v: accepted a zone or an IPv4-mapped bound", s, r)
		}
		back, err := ParseRange(r.String())
		if err != nil || back != r {
			t.Fatalf("ParseRange(%q) = %v, printed %q parses to %v, %v", s, r, r.String(), back, err)
		}
	})
}

// zonedOrMappedRanges are pool addresses with an IPv6 zone or an IPv4-mapped IPv6 address, which
// ParseRange must reject (issue #13); they seed FuzzParseRange.
var zonedOrMappedRanges = []string{
	"fe80::1%eth0-fe80::2", "fe80::1-fe80::2%eth0", "fe80::%eth0/64", "fe80::1%1/128",
	"::ffff:10.0.0.0/104", "::ffff:10.0.0.1/128", "::ffff:0:0/96", "::ffff:10.0.0.1-::ffff:10.0.0.9",
	"10.0.0.1-::ffff:10.0.0.9", "::ffff:c0a8:1-::ffff:c0a8:ff", " ::ffff:10.0.0.1 - ::ffff:10.0.0.2 ",
}

func TestParseRangeRejectsZonesAndMapped(t *testing.T) {
	for _, s := range zonedOrMappedRanges {
		if r, err := ParseRange(s); !errors.Is(err, ErrBadAddress) {
			t.Errorf("ParseRange(%q) = %v, %v; want ErrBadAddress", s, r, err)
		}
	}
}

// FuzzParseAddr checks that ParseAddr never panics, never accepts a zone or an IPv4-mapped
// address, and that what it accepts prints back to itself.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "2001:db8::1", "fe80::1%eth0", "fe80::1%", "::ffff:192.0.2.1", "::ffff:c000:201",
		"::ffff:192.0.2.1%eth0", "::192.0.2.1", "1.2.3.4%eth0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddr(s)
		if err != nil {
			if !errors.Is(err, ErrNotAddress) && !errors.Is(err, ErrAddrZone) && !errors.Is(err, ErrAddrMapped) {
				t.Fatalf("ParseAddr(%q): error %v matches none of the sentinels", s, err)
			}
			return
		}
		if a.Zone() != "" || a.Is4In6() {
			t.Fatalf("ParseAddr(%q) = %v: accepted a zone or an IPv4-mapped address", s, a)
		}
		if back, err := ParseAddr(a.String()); err != nil || back != a {
			t.Fatalf("ParseAddr(%q) = %v, printed %q parses to %v, %v", s, a, a.String(), back, err)
		}
	})
}

// FuzzParseCommunity checks that the community parser never panics and round-trips what it accepts.
func FuzzParseCommunity(f *testing.F) {
	for _, s := range []string{"65535:65282", "large:64512:1:2", "large:::", ":", "1:2:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCommunity(s)
		if err != nil {
			if !errors.Is(err, ErrBadCommunity) {
				t.Fatalf("ParseCommunity(%q): error %v does not match ErrBadCommunity", s, err)
			}
			return
		}
		back, err := ParseCommunity(c.String())
		if err != nil || back != c {
			t.Fatalf("ParseCommunity(%q) = %v, printed %q parses to %v, %v", s, c, c.String(), back, err)
		}
	})
}
