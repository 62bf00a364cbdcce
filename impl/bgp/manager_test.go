package bgp

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/ironlb/ironlb/impl/config"
)

// router is a GoBGP that plays the upstream router on loopback: it listens on 127.0.0.2:port and
// accepts the speaker from 127.0.0.3.
func router(t *testing.T, asn, peerASN uint32, port int32, password string) *server.BgpServer {
	t.Helper()
	r := server.NewBgpServer()
	go r.Serve()
	ctx := context.Background()
	if err := r.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: asn, RouterId: "127.0.0.2", ListenPort: port,
		ListenAddresses: []string{"127.0.0.2"}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.StopBgp(context.Background(), &api.StopBgpRequest{}) })
	if err := r.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: "127.0.0.3", PeerAsn: peerASN, AuthPassword: password},
		Transport: &api.Transport{PassiveMode: true},
		Timers:    &api.Timers{Config: &api.TimersConfig{HoldTime: 9, KeepaliveInterval: 3}},
	}}); err != nil {
		t.Fatal(err)
	}
	return r
}

// rib lists what the router learnt: prefix -> "nexthop communities localpref".
func rib(t *testing.T, r *server.BgpServer) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, afi := range []api.Family_Afi{api.Family_AFI_IP, api.Family_AFI_IP6} {
		err := r.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL,
			Family: &api.Family{Afi: afi, Safi: api.Family_SAFI_UNICAST}}, func(d *api.Destination) {
			for _, p := range d.Paths {
				var parts []string
				for _, a := range p.Pattrs {
					m, _ := a.UnmarshalNew()
					switch v := m.(type) {
					case *api.NextHopAttribute:
						parts = append(parts, "nh="+v.NextHop)
					case *api.MpReachNLRIAttribute:
						parts = append(parts, "nh="+strings.Join(v.NextHops, ","))
					case *api.CommunitiesAttribute:
						for _, c := range v.Communities {
							parts = append(parts, config.Community{Standard: c}.String())
						}
					case *api.LargeCommunitiesAttribute:
						for _, c := range v.Communities {
							parts = append(parts, config.Community{Large: true, LargeParts: [3]uint32{c.GlobalAdmin, c.LocalData1, c.LocalData2}}.String())
						}
					case *api.LocalPrefAttribute:
						parts = append(parts, "localpref="+strconv.FormatUint(uint64(v.LocalPref), 10))
					}
				}
				sort.Strings(parts)
				out[d.Prefix] = strings.Join(parts, " ")
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestAnnounceDiffAndSessionsKept(t *testing.T) {
	r := router(t, 64512, 64512, 11790, "")
	hold := 9 * time.Second
	peer := &config.Peer{Name: "r1", MyASN: 64512, ASN: 64512, Address: netip.MustParseAddr("127.0.0.2"), Port: 11790,
		SourceAddress: netip.MustParseAddr("127.0.0.3"), HoldTime: &hold}
	spec := PeerSpec{Peer: peer, NodeV4: netip.MustParseAddr("127.0.0.3"), NodeV6: netip.MustParseAddr("fd00::3")}
	changes := 0
	m := NewManager(nil, NewMetrics(nil), nil, func() { changes++ })
	defer m.Shutdown(0)
	ctx := context.Background()
	comm, _ := config.ParseCommunity("65535:65282")
	large, _ := config.ParseCommunity("large:64512:1:2")
	routes := []Route{
		{Prefix: netip.MustParsePrefix("10.200.0.1/32"), LocalPref: 150, Communities: []config.Community{comm}},
		{Prefix: netip.MustParsePrefix("10.200.0.2/32")},
	}
	if err := m.Set(ctx, []PeerSpec{spec}, map[string][]Route{"r1": routes}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the session to be established", func() bool { return m.Established()["r1"] })
	waitFor(t, "both routes at the router", func() bool { return len(rib(t, r)) == 2 })
	got := rib(t, r)
	if got["10.200.0.1/32"] != "65535:65282 localpref=150 nh=127.0.0.3" || got["10.200.0.2/32"] != "localpref=100 nh=127.0.0.3" {
		t.Errorf("router's RIB: %v", got)
	}

	// A second advertisement of the same prefix adds its communities; a route goes away; a new
	// one comes. The session is not reset.
	routes = []Route{
		{Prefix: netip.MustParsePrefix("10.200.0.1/32"), LocalPref: 150, Communities: []config.Community{comm}},
		{Prefix: netip.MustParsePrefix("10.200.0.1/32"), LocalPref: 100, Communities: []config.Community{large}},
		{Prefix: netip.MustParsePrefix("10.200.0.3/32")},
		{Prefix: netip.MustParsePrefix("fd00:200::1/128")},
	}
	before := changes
	if err := m.Set(ctx, []PeerSpec{spec}, map[string][]Route{"r1": routes}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new routes", func() bool {
		g := rib(t, r)
		_, gone := g["10.200.0.2/32"]
		return !gone && g["10.200.0.3/32"] != "" && strings.Contains(g["10.200.0.1/32"], "large:64512:1:2")
	})
	if got := rib(t, r)["10.200.0.1/32"]; got != "65535:65282 large:64512:1:2 localpref=150 nh=127.0.0.3" {
		t.Errorf("merged route: %q", got)
	}
	if _, ok := rib(t, r)["fd00:200::1/128"]; ok {
		t.Error("an IPv6 prefix went over an IPv4-only session")
	}
	if changes != before || !m.Established()["r1"] {
		t.Errorf("changing routes reset the session (%d state changes)", changes-before)
	}

	// A changed peer (hold time) is a new session.
	hold2 := 12 * time.Second
	peer2 := *peer
	peer2.HoldTime = &hold2
	if err := m.Set(ctx, []PeerSpec{{Peer: &peer2, NodeV4: spec.NodeV4}}, map[string][]Route{"r1": routes[:1]}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the session again", func() bool { return m.Established()["r1"] })
	waitFor(t, "the routes of the new session", func() bool { g := rib(t, r); return len(g) == 1 && g["10.200.0.1/32"] != "" })

	// Shutdown withdraws before closing.
	m.Shutdown(100 * time.Millisecond)
	waitFor(t, "the withdrawal", func() bool { return len(rib(t, r)) == 0 })
}

// neverEstablishes starts a router expecting routerPeerASN and password on port, and a speaker
// session with peer's settings, and checks that no session comes up within 3 s.
func neverEstablishes(t *testing.T, port int32, routerPeerASN uint32, routerPassword string, peer *config.Peer, why string) {
	t.Helper()
	router(t, 64512, routerPeerASN, port, routerPassword)
	peer.Name, peer.ASN, peer.Port = "r1", 64512, uint16(port)
	peer.Address, peer.SourceAddress = netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	m := NewManager(nil, nil, nil, nil)
	defer m.Shutdown(0)
	if err := m.Set(context.Background(), []PeerSpec{{Peer: peer, NodeV4: netip.MustParseAddr("127.0.0.3")}}, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if m.Established()["r1"] {
		t.Error(why)
	}
}

// TestWrongPasswordNeverEstablishes needs a kernel that takes TCP_MD5SIG on a socket; sandboxed
// kernels refuse it, and the test says so.
func TestWrongPasswordNeverEstablishes(t *testing.T) {
	if !md5Supported() {
		t.Skip("this kernel refuses TCP_MD5SIG (setsockopt: protocol not available): TCP MD5 cannot be tested here")
	}
	neverEstablishes(t, 11791, 64513, "right", &config.Peer{MyASN: 64513, Password: "wrong"},
		"a session with the wrong TCP MD5 password was established")
}

func TestWrongASNNeverEstablishes(t *testing.T) {
	neverEstablishes(t, 11792, 64999, "", &config.Peer{MyASN: 64513},
		"the router expects AS 64999; the session must not come up as AS 64513")
}

// TestGarbageFromPeer: a "router" that answers with garbage instead of BGP never gets a session,
// and the speaker keeps running (and retrying).
func TestGarbageFromPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:11793")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// A marker of all ones, a length past the maximum, then noise.
			_, _ = c.Write(append(bytes.Repeat([]byte{0xff}, 16), 0xff, 0xff, 5, 1, 2, 3, 4, 5, 6, 7))
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			accepted <- struct{}{}
			time.Sleep(100 * time.Millisecond)
			c.Close()
		}
	}()
	connect := time.Second
	peer := &config.Peer{Name: "junk", MyASN: 64513, ASN: 64512, Address: netip.MustParseAddr("127.0.0.2"), Port: 11793,
		SourceAddress: netip.MustParseAddr("127.0.0.3"), ConnectTime: &connect}
	m := NewManager(nil, nil, nil, nil)
	defer m.Shutdown(0)
	if err := m.Set(context.Background(), []PeerSpec{{Peer: peer, NodeV4: netip.MustParseAddr("127.0.0.3")}},
		map[string][]Route{"junk": {{Prefix: netip.MustParsePrefix("10.200.0.9/32")}}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		select {
		case <-accepted:
		case <-time.After(10 * time.Second):
			t.Fatalf("the speaker did not (re)connect: %d connections", i)
		}
	}
	if m.Established()["junk"] {
		t.Error("a session was established with a peer that speaks no BGP")
	}
}
