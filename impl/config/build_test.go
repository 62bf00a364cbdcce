package config

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func pool(name string, addrs ...string) PoolSpec { return PoolSpec{Name: name, Addresses: addrs} }

func peer(name, addr string) PeerSpec {
	return PeerSpec{Name: name, MyASN: 64500, ASN: 64501, Address: addr}
}

// base is a small valid configuration that each case below breaks in one place.
func base() Input {
	return Input{
		Pools:             []PoolSpec{pool("default", "172.18.255.200-172.18.255.250", "fc00:f853:ccd:e799::/124")},
		L2Advertisements:  []L2AdvertisementSpec{{Name: "l2"}},
		BGPAdvertisements: []BGPAdvertisementSpec{{Name: "bgp", Communities: []string{"65535:65281", "no-advertise"}}},
		Peers:             []PeerSpec{peer("router", "172.18.0.5")},
		BFDProfiles:       []BFDProfileSpec{{Name: "fast", ReceiveInterval: ptr(uint32(100)), TransmitInterval: ptr(uint32(100))}},
		Communities:       []CommunitySpec{{Name: "aliases", Aliases: []CommunityAliasSpec{{Name: "no-advertise", Value: "65535:65282"}}}},
		Secrets:           map[string]Secret{"bgp-pass": {Type: SecretTypeBasicAuth, Data: map[string][]byte{"password": []byte("s3cret")}}},
	}
}

func TestBuildValid(t *testing.T) {
	in := base()
	in.BGPAdvertisements[0].Communities = []string{"65535:65281", "no-advertise", "large:64512:1:2"}
	in.Peers = append(in.Peers, PeerSpec{Name: "dyn", MyASN: 64500, DynamicASN: "internal", Address: "fc00::5",
		HoldTime: "9s", KeepaliveTime: "3s", ConnectTime: "5s", RouterID: "10.0.0.1", PasswordSecret: "bgp-pass", BFDProfile: "fast"})
	cfg, err := Build(in)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	p := cfg.Pools["default"]
	if p == nil || !p.AutoAssign || len(p.Ranges) != 2 || !p.Ranges[0].Is4() {
		t.Fatalf("pool default = %+v", p)
	}
	if len(p.L2Advertisements) != 1 || len(p.BGPAdvertisements) != 1 {
		t.Fatalf("an advertisement without pools must cover every pool: %+v", p)
	}
	adv := p.BGPAdvertisements[0]
	if adv.AggregationLength != 32 || adv.AggregationLengthV6 != 128 {
		t.Errorf("aggregation defaults = %d, %d", adv.AggregationLength, adv.AggregationLengthV6)
	}
	var comms []string
	for _, c := range adv.Communities {
		comms = append(comms, c.String())
	}
	if want := []string{"65535:65281", "65535:65282", "large:64512:1:2"}; !slices.Equal(comms, want) {
		t.Errorf("communities = %v, want %v (alias resolved)", comms, want)
	}
	d := cfg.Peers["dyn"]
	if d.Password != "s3cret" || *d.HoldTime != 9*time.Second || d.Port != 179 || d.RouterID != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("peer dyn = %+v", d)
	}
	if f := cfg.BFDProfiles["fast"]; f.ReceiveInterval != 100 || f.DetectMultiplier != DefaultBFDMultiplier {
		t.Errorf("bfd defaults not applied: %+v", f)
	}
	if got := cfg.PoolByAddress(netip.MustParseAddr("172.18.255.210")); got != p {
		t.Errorf("PoolByAddress = %v", got)
	}
	if got := cfg.PoolByAddress(netip.MustParseAddr("172.18.255.251")); got != nil {
		t.Errorf("PoolByAddress outside the pool = %v", got)
	}
}

func TestBuildRejects(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Input)
		want   []string // "Kind/name/field" of every expected error, in order
	}{
		{"malformed CIDR", func(in *Input) { in.Pools[0].Addresses = []string{"10.0.0.0/33"} },
			[]string{"IPAddressPool/default/spec.addresses[0]"}},
		{"not an address", func(in *Input) { in.Pools[0].Addresses = []string{"not-an-ip"} },
			[]string{"IPAddressPool/default/spec.addresses[0]"}},
		{"start after end", func(in *Input) { in.Pools[0].Addresses = []string{"10.0.0.9-10.0.0.1"} },
			[]string{"IPAddressPool/default/spec.addresses[0]"}},
		{"range mixing families", func(in *Input) { in.Pools[0].Addresses = []string{"10.0.0.1-fc00::1"} },
			[]string{"IPAddressPool/default/spec.addresses[0]"}},
		{"zoned address in a range", func(in *Input) { in.Pools[0].Addresses = []string{"fe80::1%eth0-fe80::9"} },
			[]string{"IPAddressPool/default/spec.addresses[0]"}},
		{"zoned range end", func(in *Input) { in.Pools[0].Addresses = []string{"fe80::1-fe80::9%2"} },
			[]string{"IPAddressPool/default/spec.addresses[0]"}},
		{"IPv4-mapped range", func(in *Input) { in.Pools[0].Addresses = []string{"::ffff:10.0.0.1-::ffff:10.0.0.9"} },
			[]string{"IPAddressPool/default/spec.addresses[0]"}},
		{"IPv4-mapped CIDR", func(in *Input) { in.Pools[0].Addresses = []string{"::ffff:10.0.0.0/120"} },
			[]string{"IPAddressPool/default/spec.addresses[0]"}},
		{"IPv6 range spanning the IPv4-mapped block", func(in *Input) { in.Pools[0].Addresses = []string{"::fffe:0:0-::1:0:0:0"} },
			[]string{"IPAddressPool/default/spec.addresses[0]"}},
		{"IPv6 CIDR holding the IPv4-mapped block", func(in *Input) { in.Pools[0].Addresses = []string{"::/64"} },
			[]string{"IPAddressPool/default/spec.addresses[0]"}},
		{"no addresses", func(in *Input) { in.Pools[0].Addresses = nil },
			[]string{"IPAddressPool/default/spec.addresses"}},
		{"overlap within a pool", func(in *Input) { in.Pools[0].Addresses = []string{"10.0.0.0/24", "10.0.0.128-10.0.1.5"} },
			[]string{"IPAddressPool/default/spec.addresses[1]"}},
		{"overlapping pools", func(in *Input) { in.Pools = append(in.Pools, pool("other", "172.18.255.250/31")) },
			[]string{"IPAddressPool/default/spec.addresses[0]", "IPAddressPool/other/spec.addresses[0]"}},
		{"IPv6 overlap across pools", func(in *Input) {
			in.Pools = append(in.Pools, pool("v6", "fc00:f853:ccd:e799::8-fc00:f853:ccd:e799::20"))
		},
			[]string{"IPAddressPool/default/spec.addresses[1]", "IPAddressPool/v6/spec.addresses[0]"}},
		{"bad selector operator", func(in *Input) {
			in.Pools[0].Allocation = &AllocationSpec{ServiceSelectors: []Selector{{MatchExpressions: []Requirement{{Key: "app", Operator: "Like"}}}}}
		}, []string{"IPAddressPool/default/spec.serviceAllocation.serviceSelectors[0].matchExpressions[0].operator"}},
		{"In without values", func(in *Input) {
			in.L2Advertisements[0].NodeSelectors = []Selector{{MatchExpressions: []Requirement{{Key: "zone", Operator: "In"}}}}
		}, []string{"L2Advertisement/l2/spec.nodeSelectors[0].matchExpressions[0].values"}},
		{"bad label key", func(in *Input) {
			in.L2Advertisements[0].NodeSelectors = []Selector{{MatchLabels: map[string]string{"-bad": "x"}}}
		},
			[]string{"L2Advertisement/l2/spec.nodeSelectors[0].matchLabels"}},
		{"aggregationLength shorter than the pool", func(in *Input) { in.BGPAdvertisements[0].AggregationLength = ptr(int32(24)) },
			[]string{"BGPAdvertisement/bgp/spec.aggregationLength"}},
		{"aggregationLengthV6 shorter than the pool", func(in *Input) { in.BGPAdvertisements[0].AggregationLengthV6 = ptr(int32(120)) },
			[]string{"BGPAdvertisement/bgp/spec.aggregationLengthV6"}},
		{"aggregationLength out of range", func(in *Input) { in.BGPAdvertisements[0].AggregationLength = ptr(int32(33)) },
			[]string{"BGPAdvertisement/bgp/spec.aggregationLength"}},
		{"bad community", func(in *Input) { in.BGPAdvertisements[0].Communities = []string{"65536:1"} },
			[]string{"BGPAdvertisement/bgp/spec.communities[0]"}},
		{"community listed twice", func(in *Input) { in.BGPAdvertisements[0].Communities = []string{"65535:1", "no-advertise", "65535:1"} },
			[]string{"BGPAdvertisement/bgp/spec.communities[2]"}},
		{"bad community value in alias", func(in *Input) { in.Communities[0].Aliases[0].Value = "large:1:2" },
			[]string{"Community/aliases/spec.communities[0].value"}},
		{"duplicate alias", func(in *Input) {
			in.Communities = append(in.Communities, CommunitySpec{Name: "more", Aliases: []CommunityAliasSpec{{Name: "no-advertise", Value: "1:1"}}})
		}, []string{"Community/more/spec.communities[0].name"}},
		{"holdTime below 3s", func(in *Input) { in.Peers[0].HoldTime = "2s" },
			[]string{"BGPPeer/router/spec.holdTime"}},
		{"keepalive longer than hold", func(in *Input) { in.Peers[0].HoldTime = "10s"; in.Peers[0].KeepaliveTime = "20s" },
			[]string{"BGPPeer/router/spec.keepaliveTime"}},
		{"bad duration", func(in *Input) { in.Peers[0].HoldTime = "ten seconds" },
			[]string{"BGPPeer/router/spec.holdTime"}},
		{"connectTime not whole seconds", func(in *Input) { in.Peers[0].ConnectTime = "1500ms" },
			[]string{"BGPPeer/router/spec.connectTime"}},
		{"peerASN and dynamicASN", func(in *Input) { in.Peers[0].DynamicASN = "internal" },
			[]string{"BGPPeer/router/spec.dynamicASN"}},
		{"neither peerASN nor dynamicASN", func(in *Input) { in.Peers[0].ASN = 0 },
			[]string{"BGPPeer/router/spec.peerASN"}},
		{"bad dynamicASN", func(in *Input) { in.Peers[0].ASN = 0; in.Peers[0].DynamicASN = "sometimes" },
			[]string{"BGPPeer/router/spec.dynamicASN"}},
		{"no myASN", func(in *Input) { in.Peers[0].MyASN = 0 },
			[]string{"BGPPeer/router/spec.myASN"}},
		{"bad peer address", func(in *Input) { in.Peers[0].Address = "router.example" },
			[]string{"BGPPeer/router/spec.peerAddress"}},
		{"address and interface", func(in *Input) { in.Peers[0].Interface = "eth0" },
			[]string{"BGPPeer/router/spec.interface"}},
		{"zoned peer address", func(in *Input) { in.Peers[0].Address = "fe80::1%eth0" },
			[]string{"BGPPeer/router/spec.peerAddress"}},
		{"IPv4-mapped peer address", func(in *Input) { in.Peers[0].Address = "::ffff:172.18.0.5" },
			[]string{"BGPPeer/router/spec.peerAddress"}},
		{"zoned source address", func(in *Input) { in.Peers[0].Address = "fc00::5"; in.Peers[0].SourceAddress = "fc00::1%eth0" },
			[]string{"BGPPeer/router/spec.sourceAddress"}},
		{"IPv4-mapped source address", func(in *Input) { in.Peers[0].SourceAddress = "::ffff:172.18.0.1" },
			[]string{"BGPPeer/router/spec.sourceAddress"}},
		{"IPv4-mapped router ID", func(in *Input) { in.Peers[0].RouterID = "::ffff:10.0.0.1" },
			[]string{"BGPPeer/router/spec.routerID"}},
		{"port out of range", func(in *Input) { in.Peers[0].Port = 20000 },
			[]string{"BGPPeer/router/spec.peerPort"}},
		{"password and passwordSecret", func(in *Input) { in.Peers[0].Password = "x"; in.Peers[0].PasswordSecret = "bgp-pass" },
			[]string{"BGPPeer/router/spec.password"}},
		{"BFD interval too small", func(in *Input) { in.BFDProfiles[0].ReceiveInterval = ptr(uint32(5)) },
			[]string{"BFDProfile/fast/spec.receiveInterval"}},
		{"BFD multiplier too large", func(in *Input) { in.BFDProfiles[0].DetectMultiplier = ptr(uint32(256)) },
			[]string{"BFDProfile/fast/spec.detectMultiplier"}},
		{"BFD minimum TTL zero", func(in *Input) { in.BFDProfiles[0].MinimumTTL = ptr(uint32(0)) },
			[]string{"BFDProfile/fast/spec.minimumTtl"}},
		{"every problem at once", func(in *Input) {
			in.Pools[0].Addresses = []string{"bad", "10.0.0.5-10.0.0.1"}
			in.Peers[0].HoldTime = "1s"
			in.BFDProfiles[0].TransmitInterval = ptr(uint32(70000))
		}, []string{"IPAddressPool/default/spec.addresses[0]", "IPAddressPool/default/spec.addresses[1]",
			"BFDProfile/fast/spec.transmitInterval", "BGPPeer/router/spec.holdTime"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			tt.change(&in)
			cfg, err := Build(in)
			if err == nil {
				t.Fatalf("Build accepted it: %+v", cfg)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T is not Errors", err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Kind+"/"+e.Name+"/"+e.Field)
				if e.Detail == "" || !strings.Contains(e.Error(), e.Field) || !strings.Contains(e.Error(), e.Name) {
					t.Errorf("message %q must name the object and field and say what is wrong", e.Error())
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n got  %v\n want %v\n (%v)", got, tt.want, err)
			}
		})
	}
}

func TestBuildSelectsPoolsByLabel(t *testing.T) {
	in := Input{
		Pools: []PoolSpec{
			{Name: "a", Addresses: []string{"10.0.0.0/24"}, Labels: map[string]string{"tier": "gold"}},
			{Name: "b", Addresses: []string{"10.0.1.0/24"}},
		},
		L2Advertisements: []L2AdvertisementSpec{{Name: "gold", PoolSelectors: []Selector{{MatchLabels: map[string]string{"tier": "gold"}}}}},
	}
	cfg, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Pools["a"].L2Advertisements) != 1 || len(cfg.Pools["b"].L2Advertisements) != 0 {
		t.Errorf("selector picked the wrong pools: a=%v b=%v", cfg.Pools["a"].L2Advertisements, cfg.Pools["b"].L2Advertisements)
	}
}

func TestBuildIsOrderIndependent(t *testing.T) {
	in := base()
	in.Pools = append(in.Pools, pool("b", "10.0.0.0/24"), pool("a", "10.0.0.128/25"))
	_, err1 := Build(in)
	slices.Reverse(in.Pools)
	_, err2 := Build(in)
	if err1 == nil || err1.Error() != err2.Error() {
		t.Errorf("errors depend on input order:\n%v\n%v", err1, err2)
	}
}

// benchInput is 1,000 pools (a /24 and an IPv6 /120 each) and 100 peers with advertisements.
func benchInput() Input {
	var in Input
	for i := range 1000 {
		in.Pools = append(in.Pools, PoolSpec{Name: fmt.Sprintf("pool-%04d", i), Addresses: []string{
			fmt.Sprintf("10.%d.%d.0/24", i/256, i%256), fmt.Sprintf("fc00::%x:0/120", i)},
			Labels: map[string]string{"group": fmt.Sprint(i % 10)}})
	}
	for i := range 100 {
		in.Peers = append(in.Peers, PeerSpec{Name: fmt.Sprintf("peer-%03d", i), MyASN: 64500, ASN: uint32(65000 + i),
			Address: fmt.Sprintf("192.168.%d.%d", i/200, i%200+1), HoldTime: "90s", KeepaliveTime: "30s"})
	}
	for i := range 10 {
		in.BGPAdvertisements = append(in.BGPAdvertisements, BGPAdvertisementSpec{Name: fmt.Sprintf("adv-%d", i),
			PoolSelectors: []Selector{{MatchLabels: map[string]string{"group": fmt.Sprint(i)}}},
			Communities:   []string{"65535:65282"}, AggregationLength: ptr(int32(32))})
	}
	in.L2Advertisements = []L2AdvertisementSpec{{Name: "all"}}
	return in
}

func TestBenchInputIsValid(t *testing.T) {
	if _, err := Build(benchInput()); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkBuild1000Pools100Peers(b *testing.B) {
	in := benchInput()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(in); err != nil {
			b.Fatal(err)
		}
	}
}
