package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBuildWarns is every dangling reference and every peer the speaker cannot run: each costs
// only the object that holds it, with a warning naming that object and field, and the rest of the
// configuration stays valid (issue #13, items 3 and 7).
func TestBuildWarns(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Input)
		want    []string // "Kind/name/field" of every expected warning, in order
		skipped []string // peers not run
		check   func(t *testing.T, cfg *Config)
	}{
		{name: "L2Advertisement naming a pool that does not exist (yet)",
			change: func(in *Input) { in.L2Advertisements[0].Pools = []string{"later", "default"} },
			want:   []string{"L2Advertisement/l2/spec.ipAddressPools[0]"},
			check: func(t *testing.T, cfg *Config) {
				if len(cfg.Pools["default"].L2Advertisements) != 1 {
					t.Error("the pool that exists lost its L2Advertisement")
				}
			}},
		{name: "L2Advertisement naming only a pool that does not exist announces nothing",
			change: func(in *Input) { in.L2Advertisements[0].Pools = []string{"later"} },
			want:   []string{"L2Advertisement/l2/spec.ipAddressPools[0]"},
			check: func(t *testing.T, cfg *Config) {
				if len(cfg.Pools["default"].L2Advertisements) != 0 {
					t.Error("an advertisement naming only a missing pool must not fall back to every pool")
				}
			}},
		{name: "BGPAdvertisement naming a pool that does not exist (yet)",
			change: func(in *Input) { in.BGPAdvertisements[0].Pools = []string{"later"} },
			want:   []string{"BGPAdvertisement/bgp/spec.ipAddressPools[0]"},
			check: func(t *testing.T, cfg *Config) {
				if len(cfg.Pools["default"].BGPAdvertisements) != 0 {
					t.Error("an advertisement naming only a missing pool must not fall back to every pool")
				}
			}},
		{name: "community alias not defined (yet): the advertisement is not used",
			change: func(in *Input) { in.BGPAdvertisements[0].Communities = []string{"gold"} },
			want:   []string{"BGPAdvertisement/bgp/spec.communities[0]"},
			check: func(t *testing.T, cfg *Config) {
				if len(cfg.Pools["default"].BGPAdvertisements) != 0 {
					t.Error("an advertisement must not be announced without a community it names")
				}
				if len(cfg.Pools["default"].L2Advertisements) != 1 || len(cfg.Peers) != 1 {
					t.Error("the rest of the configuration must stay")
				}
			}},
		{name: "Community deleted: alias dangles",
			change: func(in *Input) { in.Communities = nil },
			want:   []string{"BGPAdvertisement/bgp/spec.communities[1]"}},
		{name: "BGPAdvertisement naming a peer that does not exist keeps the name (announces to none, not all)",
			change: func(in *Input) { in.BGPAdvertisements[0].Peers = []string{"later"} },
			want:   []string{"BGPAdvertisement/bgp/spec.peers[0]"},
			check: func(t *testing.T, cfg *Config) {
				adv := cfg.Pools["default"].BGPAdvertisements
				if len(adv) != 1 || !slices.Equal(adv[0].Peers, []string{"later"}) {
					t.Errorf("advertisement = %+v, want it kept with peers [later]", adv)
				}
			}},
		{name: "BFDProfile deleted: the peer is not run",
			change:  func(in *Input) { in.Peers[0].BFDProfile = "slow" },
			want:    []string{"BGPPeer/router/spec.bfdProfile"},
			skipped: []string{"router"}},
		{name: "password Secret deleted: only that peer is not run",
			change: func(in *Input) {
				in.Peers = append(in.Peers, PeerSpec{Name: "other", MyASN: 64500, ASN: 64502, Address: "172.18.0.6", PasswordSecret: "bgp-pass"})
				in.Peers[0].PasswordSecret = "gone"
			},
			want:    []string{"BGPPeer/router/spec.passwordSecret.name"},
			skipped: []string{"router"},
			check: func(t *testing.T, cfg *Config) {
				if cfg.Peers["other"] == nil || cfg.Peers["other"].Password != "s3cret" {
					t.Errorf("peer other must run: %+v", cfg.Peers)
				}
			}},
		{name: "password Secret of the wrong type",
			change: func(in *Input) {
				in.Secrets["opaque"] = Secret{Type: "Opaque", Data: map[string][]byte{"password": []byte("x")}}
				in.Peers[0].PasswordSecret = "opaque"
			},
			want: []string{"BGPPeer/router/spec.passwordSecret.name"}, skipped: []string{"router"}},
		{name: "password Secret without a password",
			change: func(in *Input) {
				in.Secrets["empty"] = Secret{Type: SecretTypeBasicAuth}
				in.Peers[0].PasswordSecret = "empty"
			},
			want: []string{"BGPPeer/router/spec.passwordSecret.name"}, skipped: []string{"router"}},
		{name: "unnumbered peer",
			change: func(in *Input) { in.Peers[0].Address = ""; in.Peers[0].Interface = "eth1" },
			want:   []string{"BGPPeer/router/spec.interface"}, skipped: []string{"router"}},
		{name: "peer in a VRF",
			change: func(in *Input) { in.Peers[0].VRF = "red" },
			want:   []string{"BGPPeer/router/spec.vrf"}, skipped: []string{"router"}},
		{name: "an advertisement naming a skipped peer gets no second warning",
			change: func(in *Input) { in.Peers[0].VRF = "red"; in.BGPAdvertisements[0].Peers = []string{"router"} },
			want:   []string{"BGPPeer/router/spec.vrf"}, skipped: []string{"router"}},
		// MetalLB accepts these; they cost nothing but the object itself, so they are warnings too.
		{name: "negative priority is no priority",
			change: func(in *Input) { in.Pools[0].Allocation = &AllocationSpec{Priority: -1} },
			want:   []string{"IPAddressPool/default/spec.serviceAllocation.priority"},
			check: func(t *testing.T, cfg *Config) {
				if a := cfg.Pools["default"].Allocation; a == nil || a.Priority != 0 {
					t.Errorf("allocation = %+v, want priority 0", a)
				}
			}},
		{name: "namespace that cannot exist",
			change: func(in *Input) { in.Pools[0].Allocation = &AllocationSpec{Namespaces: []string{"Not_A_NS"}} },
			want:   []string{"IPAddressPool/default/spec.serviceAllocation.namespaces[0]"},
			check: func(t *testing.T, cfg *Config) {
				if a := cfg.Pools["default"].Allocation; a == nil || !slices.Equal(a.Namespaces, []string{"Not_A_NS"}) {
					t.Errorf("allocation = %+v: the restriction must stay (it matches no namespace)", a)
				}
			}},
		{name: "interface name that cannot exist",
			change: func(in *Input) { in.L2Advertisements[0].Interfaces = []string{"a-very-long-interface-name"} },
			want:   []string{"L2Advertisement/l2/spec.interfaces[0]"},
			check: func(t *testing.T, cfg *Config) {
				if l2 := cfg.Pools["default"].L2Advertisements; len(l2) != 1 || len(l2[0].Interfaces) != 1 {
					t.Errorf("L2Advertisements = %+v: the interface restriction must stay", l2)
				}
			}},
		{name: "the same community literally and through its alias is one community",
			change: func(in *Input) { in.BGPAdvertisements[0].Communities = []string{"65535:65282", "no-advertise"} },
			check: func(t *testing.T, cfg *Config) {
				if c := cfg.Pools["default"].BGPAdvertisements[0].Communities; len(c) != 1 {
					t.Errorf("communities = %v", c)
				}
			}},
		{name: "keepaliveTime alone sets holdTime to three of them",
			change: func(in *Input) { in.Peers[0].KeepaliveTime = "100s" },
			check: func(t *testing.T, cfg *Config) {
				if h := cfg.Peers["router"].HoldTime; h == nil || *h != 300*time.Second {
					t.Errorf("holdTime = %v, want 5m0s", h)
				}
			}},
		{name: "sourceAddress of another family",
			change: func(in *Input) { in.Peers[0].SourceAddress = "fc00::1" },
			want:   []string{"BGPPeer/router/spec.sourceAddress"}, skipped: []string{"router"}},
		{name: "IPv6 router ID",
			change: func(in *Input) { in.Peers[0].RouterID = "fc00::1" },
			want:   []string{"BGPPeer/router/spec.routerID"}, skipped: []string{"router"}},
		{name: "TCP MD5 key too long",
			change: func(in *Input) { in.Peers[0].Password = strings.Repeat("x", 81) },
			want:   []string{"BGPPeer/router/spec.password"}, skipped: []string{"router"}},
		{name: "duplicate peer: the first by name runs",
			change: func(in *Input) { in.Peers = append(in.Peers, peer("router2", "172.18.0.5")) },
			want:   []string{"BGPPeer/router2/spec.peerAddress"}, skipped: []string{"router2"}},
		{name: "a duplicate of a peer that is not run runs",
			change: func(in *Input) {
				in.Peers[0].BFDProfile = "slow"
				in.Peers = append(in.Peers, peer("router2", "172.18.0.5"))
			},
			want: []string{"BGPPeer/router/spec.bfdProfile"}, skipped: []string{"router"},
			check: func(t *testing.T, cfg *Config) {
				if cfg.Peers["router2"] == nil {
					t.Error("router2 must run")
				}
			}},
		{name: "disableMP and dynamicASN external are skipped, dynamicASN internal runs",
			change: func(in *Input) {
				in.Peers[0].DisableMP = true
				in.Peers = append(in.Peers, PeerSpec{Name: "dyn-ext", MyASN: 64500, DynamicASN: "external", Address: "172.18.0.7"},
					PeerSpec{Name: "dyn-int", MyASN: 64500, DynamicASN: "internal", Address: "172.18.0.8"})
			},
			want:    []string{"BGPPeer/dyn-ext/spec.dynamicASN", "BGPPeer/router/spec.disableMP"},
			skipped: []string{"dyn-ext", "router"},
			check: func(t *testing.T, cfg *Config) {
				if cfg.Peers["dyn-int"] == nil {
					t.Error("dyn-int must run")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			tt.change(&in)
			cfg, err := Build(in)
			if err != nil {
				t.Fatalf("Build rejected the configuration: %v", err)
			}
			var got []string
			for _, w := range cfg.Warnings {
				got = append(got, w.Kind+"/"+w.Name+"/"+w.Field)
				if w.Detail == "" || !strings.Contains(w.Error(), w.Name) || !strings.Contains(w.Error(), w.Field) {
					t.Errorf("warning %q must name the object and field and say what is wrong", w.Error())
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("warnings:\n got  %v\n want %v\n (%v)", got, tt.want, cfg.Warnings)
			}
			var skipped []string
			for _, s := range cfg.SkippedPeers {
				skipped = append(skipped, s.Name)
				if cfg.Peers[s.Name] != nil {
					t.Errorf("skipped peer %s is also in Peers", s.Name)
				}
				if !strings.Contains(s.Reason, "spec.") {
					t.Errorf("skipped peer %s: reason %q must name the field", s.Name, s.Reason)
				}
			}
			if !slices.Equal(skipped, tt.skipped) {
				t.Errorf("skipped peers = %v, want %v", skipped, tt.skipped)
			}
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}

// TestBuildValidHasNoWarnings keeps warnings for real problems only.
func TestBuildValidHasNoWarnings(t *testing.T) {
	cfg, err := Build(base())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 0 || len(cfg.SkippedPeers) != 0 {
		t.Errorf("warnings = %v, skipped = %v", cfg.Warnings, cfg.SkippedPeers)
	}
}
