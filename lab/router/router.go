//go:build linux

// Package router is the lab's "gobgp" router: an embedded GoBGP in the router's namespace that
// accepts the cluster's speakers as dynamic neighbours from the networks it shares with them, runs
// BFD with each established neighbour (impl/bfd), and installs what it learns into its own kernel
// table as ECMP routes (one next hop per advertising node), so that traffic from clients behind
// it really flows through it. It writes its RIB (every path with its attributes) to rib.json in
// its state directory for scenario expectations and people.
package router

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
	"github.com/vishvananda/netlink"

	"github.com/ironlb/ironlb/impl/bfd"
	"github.com/ironlb/ironlb/impl/bgp"
)

// RouteProtocol marks the kernel routes the router installs (RTPROT_BGP, as FRR's zebra uses).
const RouteProtocol = 186

// Config is one router.
type Config struct {
	Name     string
	ASN      uint32
	NodeASN  uint32         // the speakers' AS
	RouterID netip.Addr     // an IPv4 address of the router
	Listen   []netip.Addr   // addresses to accept sessions on
	Accept   []netip.Prefix // networks whose hosts may peer (dynamic neighbours)
	// BFD: transmit and receive interval and multiplier of the router's side (0: no BFD).
	BFDInterval time.Duration
	BFDMult     uint8
	StateDir    string // rib.json goes here
	Log         *slog.Logger
}

// Path is one path of the RIB as rib.json shows it.
type Path struct {
	Prefix      string   `json:"prefix"`
	NextHop     string   `json:"nextHop"`
	Neighbor    string   `json:"neighbor"`
	ASPath      []uint32 `json:"asPath,omitempty"`
	LocalPref   uint32   `json:"localPref,omitempty"`
	Communities []string `json:"communities,omitempty"`
	Best        bool     `json:"best"`
}

// RIB is what rib.json holds: the router's every path, with its attributes. The router writes
// it on every change; scenarios read it (ReadRIB).
type RIB struct {
	Router string `json:"router"`
	ASN    uint32 `json:"asn"`
	Paths  []Path `json:"paths"`
}

// RIBFile is the router's rib.json in its state directory.
func RIBFile(stateDir string) string { return filepath.Join(stateDir, "rib.json") }

// ReadRIB reads a router's rib.json.
func ReadRIB(stateDir string) (RIB, error) {
	var rib RIB
	data, err := os.ReadFile(RIBFile(stateDir))
	if err != nil {
		return rib, err
	}
	if err := json.Unmarshal(data, &rib); err != nil {
		return rib, fmt.Errorf("%s: %w", RIBFile(stateDir), err)
	}
	return rib, nil
}

// Run runs the router until ctx ends.
func Run(ctx context.Context, c Config) error {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	s := server.NewBgpServer(server.LoggerOption(bgp.Logger(c.Log)))
	go s.Serve()
	var listen []string
	for _, a := range c.Listen {
		listen = append(listen, a.String())
	}
	if err := s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: c.ASN, RouterId: c.RouterID.String(), ListenPort: 179,
		ListenAddresses: listen, UseMultiplePaths: true}}); err != nil {
		return fmt.Errorf("router %s: start bgp: %w", c.Name, err)
	}
	defer func() { _ = s.StopBgp(context.Background(), &api.StopBgpRequest{}) }()
	families := []*api.AfiSafi{}
	for _, afi := range []api.Family_Afi{api.Family_AFI_IP, api.Family_AFI_IP6} {
		families = append(families, &api.AfiSafi{Config: &api.AfiSafiConfig{Family: &api.Family{Afi: afi, Safi: api.Family_SAFI_UNICAST}, Enabled: true},
			MpGracefulRestart: &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}}})
	}
	if err := s.AddPeerGroup(ctx, &api.AddPeerGroupRequest{PeerGroup: &api.PeerGroup{
		Conf: &api.PeerGroupConf{PeerGroupName: "nodes", PeerAsn: c.NodeASN},
		// Graceful restart helper: a speaker restarting with GR keeps its routes here meanwhile.
		GracefulRestart: &api.GracefulRestart{Enabled: true, HelperOnly: true, RestartTime: 120},
		AfiSafis:        families,
		Transport:       &api.Transport{PassiveMode: true},
	}}); err != nil {
		return fmt.Errorf("router %s: peer group: %w", c.Name, err)
	}
	for _, p := range c.Accept {
		if err := s.AddDynamicNeighbor(ctx, &api.AddDynamicNeighborRequest{DynamicNeighbor: &api.DynamicNeighbor{Prefix: p.String(), PeerGroup: "nodes"}}); err != nil {
			return fmt.Errorf("router %s: accept %s: %w", c.Name, p, err)
		}
	}
	r := &router{c: c, s: s, kick: make(chan struct{}, 1), bfdPeers: map[netip.Addr]bool{}}
	if c.BFDInterval > 0 {
		b, err := bfd.Listen(ctx, c.Log.With("component", "bfd"), nil, r.bfdChanged)
		if err != nil {
			c.Log.Warn("router without BFD", "router", c.Name, "error", err)
		} else {
			r.bfd = b
			defer b.Close()
		}
	}
	if err := s.WatchEvent(ctx, &api.WatchEventRequest{
		Peer:  &api.WatchEventRequest_Peer{},
		Table: &api.WatchEventRequest_Table{Filters: []*api.WatchEventRequest_Table_Filter{{Type: api.WatchEventRequest_Table_Filter_ADJIN, Init: true}}},
	}, r.event); err != nil {
		return fmt.Errorf("router %s: watch: %w", c.Name, err)
	}
	c.Log.Info("router running", "router", c.Name, "asn", c.ASN, "listen", listen, "accept", c.Accept, "bfd", c.BFDInterval)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		r.sync(ctx)
		select {
		case <-ctx.Done():
			r.flush()
			return nil
		case <-r.kick:
		case <-tick.C:
		}
	}
}

type router struct {
	c    Config
	s    *server.BgpServer
	bfd  *bfd.Server
	kick chan struct{}

	mu       sync.Mutex
	bfdPeers map[netip.Addr]bool
	fib      map[string][]string // what the kernel has: prefix -> next hops
}

func (r *router) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// event reacts to a neighbour's state (BFD with established ones) and to any RIB change.
func (r *router) event(e *api.WatchEventResponse) {
	if pe := e.GetPeer(); pe != nil && pe.Type == api.WatchEventResponse_PeerEvent_STATE && pe.Peer != nil && pe.Peer.State != nil {
		addr, err := netip.ParseAddr(pe.Peer.State.NeighborAddress)
		if err == nil {
			established := pe.Peer.State.SessionState == api.PeerState_ESTABLISHED
			r.c.Log.Info("neighbour", "router", r.c.Name, "peer", addr, "state", pe.Peer.State.SessionState.String())
			r.setBFD(addr, established)
		}
	}
	r.poke()
}

func (r *router) setBFD(peer netip.Addr, established bool) {
	if r.bfd == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if established && !r.bfdPeers[peer] {
		local := localFor(peer)
		if !local.IsValid() {
			return
		}
		if err := r.bfd.Add(local, peer, bfd.Config{DesiredMinTx: r.c.BFDInterval, RequiredMinRx: r.c.BFDInterval, DetectMult: r.c.BFDMult}); err != nil {
			r.c.Log.Warn("bfd", "router", r.c.Name, "peer", peer, "error", err)
			return
		}
		r.bfdPeers[peer] = true
	}
}

// bfdChanged drops a neighbour whose BFD session went down: its routes go at once, instead of
// after the hold time. (A neighbour that never runs BFD never comes up, and is left alone.)
func (r *router) bfdChanged(e bfd.Event) {
	if e.Old != bfd.Up || e.New == bfd.Up {
		return
	}
	r.c.Log.Info("bfd down: dropping the neighbour", "router", r.c.Name, "peer", e.Peer, "diag", e.Diag.String())
	if err := r.s.DeletePeer(context.Background(), &api.DeletePeerRequest{Address: e.Peer.String()}); err != nil {
		r.c.Log.Warn("drop neighbour", "router", r.c.Name, "peer", e.Peer, "error", err)
	}
	r.mu.Lock()
	delete(r.bfdPeers, e.Peer)
	r.mu.Unlock()
	if r.bfd != nil {
		go r.bfd.Remove(e.Peer)
	}
	r.poke()
}

// localFor is the router's address towards a peer.
func localFor(peer netip.Addr) netip.Addr {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer, bfd.Port)))
	if err != nil {
		return netip.Addr{}
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
}

// sync reads every path of the RIB, makes the kernel's BGP routes match (one ECMP route per
// prefix over every neighbour that advertises it) and writes rib.json.
func (r *router) sync(ctx context.Context) {
	var paths []Path
	want := map[string][]string{}
	for _, afi := range []api.Family_Afi{api.Family_AFI_IP, api.Family_AFI_IP6} {
		_ = r.s.ListPath(ctx, &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: &api.Family{Afi: afi, Safi: api.Family_SAFI_UNICAST}},
			func(d *api.Destination) {
				for _, p := range d.Paths {
					if p.IsWithdraw || p.NeighborIp == "" || p.NeighborIp == "<nil>" {
						continue
					}
					pp := describe(d.Prefix, p)
					paths = append(paths, pp)
					if pp.NextHop != "" && !slices.Contains(want[d.Prefix], pp.NextHop) {
						want[d.Prefix] = append(want[d.Prefix], pp.NextHop)
					}
				}
			})
	}
	for k := range want {
		sort.Strings(want[k])
	}
	r.install(want)
	sort.Slice(paths, func(i, j int) bool {
		if paths[i].Prefix != paths[j].Prefix {
			return paths[i].Prefix < paths[j].Prefix
		}
		return paths[i].NextHop < paths[j].NextHop
	})
	if r.c.StateDir != "" {
		data, _ := json.MarshalIndent(RIB{Router: r.c.Name, ASN: r.c.ASN, Paths: paths}, "", "  ")
		tmp := RIBFile(r.c.StateDir) + ".tmp"
		if os.WriteFile(tmp, data, 0o644) == nil {
			_ = os.Rename(tmp, RIBFile(r.c.StateDir))
		}
	}
}

func describe(prefix string, p *api.Path) Path {
	out := Path{Prefix: prefix, Neighbor: p.NeighborIp, Best: p.Best}
	for _, a := range p.Pattrs {
		m, err := a.UnmarshalNew()
		if err != nil {
			continue
		}
		switch v := m.(type) {
		case *api.NextHopAttribute:
			out.NextHop = v.NextHop
		case *api.MpReachNLRIAttribute:
			if len(v.NextHops) > 0 {
				out.NextHop = v.NextHops[0]
			}
		case *api.AsPathAttribute:
			for _, seg := range v.Segments {
				out.ASPath = append(out.ASPath, seg.Numbers...)
			}
		case *api.LocalPrefAttribute:
			out.LocalPref = v.LocalPref
		case *api.CommunitiesAttribute:
			for _, c := range v.Communities {
				out.Communities = append(out.Communities, fmt.Sprintf("%d:%d", c>>16, c&0xffff))
			}
		case *api.LargeCommunitiesAttribute:
			for _, c := range v.Communities {
				out.Communities = append(out.Communities, fmt.Sprintf("large:%d:%d:%d", c.GlobalAdmin, c.LocalData1, c.LocalData2))
			}
		}
	}
	return out
}

// install makes the kernel's BGP routes equal want.
func (r *router) install(want map[string][]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for prefix, hops := range want {
		if slices.Equal(r.fib[prefix], hops) {
			continue
		}
		dst, err := netlink.ParseIPNet(prefix)
		if err != nil {
			continue
		}
		rt := &netlink.Route{Dst: dst, Protocol: RouteProtocol}
		if len(hops) == 1 {
			rt.Gw = net.ParseIP(hops[0])
		} else {
			for _, h := range hops {
				rt.MultiPath = append(rt.MultiPath, &netlink.NexthopInfo{Gw: net.ParseIP(h)})
			}
		}
		if err := netlink.RouteReplace(rt); err != nil {
			r.c.Log.Warn("install route", "router", r.c.Name, "prefix", prefix, "nextHops", hops, "error", err)
			continue
		}
		r.c.Log.Info("route", "router", r.c.Name, "prefix", prefix, "nextHops", strings.Join(hops, ","))
		if r.fib == nil {
			r.fib = map[string][]string{}
		}
		r.fib[prefix] = hops
	}
	for prefix := range r.fib {
		if _, ok := want[prefix]; ok {
			continue
		}
		dst, err := netlink.ParseIPNet(prefix)
		if err == nil {
			_ = netlink.RouteDel(&netlink.Route{Dst: dst, Protocol: RouteProtocol})
		}
		r.c.Log.Info("route withdrawn", "router", r.c.Name, "prefix", prefix)
		delete(r.fib, prefix)
	}
}

// flush removes the router's routes when it stops.
func (r *router) flush() { r.install(map[string][]string{}) }
