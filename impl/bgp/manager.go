package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/server"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/ironlb/ironlb/impl/config"
)

// DefaultConnectTime is how often a peer is dialled again when it does not answer, unless the
// BGPPeer says otherwise (GoBGP's own default is 120 s: too slow for a node coming back).
const DefaultConnectTime = 5 * time.Second

// PeerSpec is one session this node runs: the BGPPeer, its BFD profile (nil: no BFD) and the
// node's addresses (next hops for the routes).
type PeerSpec struct {
	Peer   *config.Peer
	BFD    *config.BFDProfile
	NodeV4 netip.Addr
	NodeV6 netip.Addr
}

// BFD is what the manager needs of a BFD server (impl/bfd on Linux).
type BFD interface {
	Add(local, peer netip.Addr, p *config.BFDProfile) error
	Remove(peer netip.Addr)
}

// Bounds on what one peer may cost the speaker. The speaker announces and never learns: every
// route a peer sends is rejected by import policy (nothing reaches the RIB), and a peer that sends
// more than MaxReceivedPrefixes of one family (those are still kept in GoBGP's Adj-RIB-In, before
// policy) has its session closed (Cease, maximum number of prefixes reached) and retried later.
const MaxReceivedPrefixes = 1000

// Back-off of a peer whose session cannot be started: the first retry after startBackoff, each
// next one twice later, at most maxBackoff.
const (
	startBackoff = time.Second
	maxBackoff   = 5 * time.Minute
)

// ErrClosing is what Set returns once Shutdown has begun: nothing changes any more.
var ErrClosing = errors.New("bgp: shutting down")

// ErrUnsupported marks a BGPPeer this speaker does not run (a feature it does not implement).
var ErrUnsupported = errors.New("not supported by this speaker")

// Manager runs this node's BGP sessions.
type Manager struct {
	log     *slog.Logger
	metrics *Metrics
	bfd     BFD
	now     func() time.Time

	mu       sync.Mutex
	sessions map[string]*session // by BGPPeer name
	failed   map[string]*failure // peers without a session: why, and when to try again
	// idle are stopped GoBGP servers kept for the next session: GoBGP v3's Serve loop never
	// returns, so a server once served is never freed; reusing it bounds the servers (and their
	// goroutines) to the most sessions ever run at once instead of one more per session start.
	idle     []*server.BgpServer
	closing  bool
	onChange func()
	// last is the desired state of the last Set, which a retry after a failed start applies again
	// when its back-off is over (nothing else may call Set for hours on a quiet cluster).
	last struct {
		peers  []PeerSpec
		routes map[string][]Route
	}
	retry   *time.Timer
	retryAt time.Time
}

type session struct {
	spec   PeerSpec
	srv    *server.BgpServer
	routes map[string]Route
	local  netip.Addr // source of the session (BFD runs from it)
	up     bool
	// bfdDown: BFD took the session down; it stays disabled until BFD is up again or its hold-down
	// (bfdHold, doubling on each BFD failure from bfdHoldMin to bfdHoldMax, reset when BFD is up)
	// ends: a router that runs BFD only with established neighbours (dynamic neighbours do) would
	// otherwise never see it again, and the node's routes would stay withdrawn for good.
	bfdDown  bool
	bfdHold  time.Duration
	bfdTimer *time.Timer
	cancel   context.CancelFunc
}

// failure is a peer whose session could not start.
type failure struct {
	spec     PeerSpec
	err      error
	attempts int
	backoff  time.Duration
	next     time.Time // zero: never retried (the peer is not supported)
}

// NewManager returns a manager; bfd may be nil (no BFD), onChange (may be nil) is called when a
// session goes up or down.
func NewManager(log *slog.Logger, metrics *Metrics, bfd BFD, onChange func()) *Manager {
	if log == nil {
		log = slog.Default()
	}
	return &Manager{log: log, metrics: metrics, bfd: bfd, now: time.Now, sessions: map[string]*session{}, failed: map[string]*failure{},
		onChange: onChange}
}

// SetBFD gives the manager its BFD sessions (before the first Set).
func (m *Manager) SetBFD(b BFD) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bfd = b
}

// Set makes the sessions and their routes what peers and routes say: new peers get a session,
// gone or changed ones lose theirs, unchanged ones keep it; each session's routes change by diff.
// A peer whose session cannot start is not retried before its back-off is over (NotRunning says
// why); a peer this speaker does not support is never started. After Shutdown began, Set changes
// nothing and returns ErrClosing.
func (m *Manager) Set(ctx context.Context, peers []PeerSpec, routes map[string][]Route) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return ErrClosing
	}
	m.last.peers, m.last.routes = peers, routes
	want := map[string]PeerSpec{}
	for _, p := range peers {
		want[p.Peer.Name] = p
	}
	var errs []error
	for name, s := range m.sessions {
		if p, ok := want[name]; !ok || !sameSpec(p, s.spec) {
			m.stop(name, s, false)
		} else if !sameBFD(p.BFD, s.spec.BFD) {
			s.spec.BFD = p.BFD
			m.setBFD(s)
		}
	}
	for name, f := range m.failed {
		if p, ok := want[name]; !ok || !sameSpec(p, f.spec) {
			delete(m.failed, name) // gone or changed: a changed peer is tried at once
		}
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		s, ok := m.sessions[name]
		if !ok {
			if f := m.failed[name]; f != nil && (f.next.IsZero() || m.now().Before(f.next)) {
				continue
			}
			var err error
			if s, err = m.start(want[name]); err != nil {
				m.failedStart(name, want[name], err)
				continue
			}
			if f := m.failed[name]; f != nil {
				m.log.Info("bgp session started after failures", "peer", name, "attempts", f.attempts+1)
				delete(m.failed, name)
			}
			m.sessions[name] = s
		}
		if err := m.setRoutes(ctx, name, s, routes[name]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sameSpec reports whether a session of a can serve b.
func sameSpec(a, b PeerSpec) bool {
	return SamePeer(a.Peer, b.Peer) && a.NodeV4 == b.NodeV4 && a.NodeV6 == b.NodeV6
}

// failedStart remembers why a peer's session did not start and when to try again (never, for an
// unsupported peer); it logs when the reason changes, not on every attempt.
func (m *Manager) failedStart(name string, p PeerSpec, err error) {
	f := m.failed[name]
	if f == nil {
		f = &failure{spec: p}
		m.failed[name] = f
	}
	if f.err == nil || f.err.Error() != err.Error() {
		m.log.Error("bgp session not started", "peer", name, "error", err)
	}
	f.err = err
	f.attempts++
	if errors.Is(err, ErrUnsupported) {
		f.next = time.Time{}
		return
	}
	f.backoff = min(max(2*f.backoff, startBackoff), maxBackoff)
	f.next = m.now().Add(f.backoff)
	m.scheduleRetry(f.backoff)
}

// scheduleRetry applies the last Set again after d (unless a retry is already due sooner), so
// that a peer whose start failed is tried again when its back-off is over. Called with m.mu held.
func (m *Manager) scheduleRetry(d time.Duration) {
	at := m.now().Add(d)
	if m.retry != nil && !m.retryAt.After(at) {
		return
	}
	if m.retry != nil {
		m.retry.Stop()
	}
	m.retryAt = at
	m.retry = time.AfterFunc(d, func() {
		m.mu.Lock()
		peers, routes, closing := m.last.peers, m.last.routes, m.closing
		m.retry = nil
		m.mu.Unlock()
		if closing {
			return
		}
		if err := m.Set(context.Background(), peers, routes); err != nil && !errors.Is(err, ErrClosing) {
			m.log.Warn("bgp retry after a failed start", "error", err)
		}
	})
}

// NotRunning returns the peers that were asked for and have no session, with the reason: not
// supported, or the last start failed (retried with back-off).
func (m *Manager) NotRunning() map[string]error {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]error, len(m.failed))
	for n, f := range m.failed {
		out[n] = f.err
	}
	return out
}

// Supported says whether this speaker can run a BGPPeer's session, and if not why (the error
// matches ErrUnsupported).
func Supported(p *config.Peer) error {
	var why []string
	for _, u := range config.Unsupported(p) {
		why = append(why, u.Field+" ("+u.What+")")
	}
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %w", strings.Join(why, ", "), ErrUnsupported)
}

func sameBFD(a, b *config.BFDProfile) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Established reports which peers have an established session.
func (m *Manager) Established() map[string]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]bool{}
	for n, s := range m.sessions {
		out[n] = s.up
	}
	return out
}

// Announced returns, per peer, the prefixes it is told.
func (m *Manager) Announced() map[string][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]string{}
	for n, s := range m.sessions {
		for k := range s.routes {
			out[n] = append(out[n], k)
		}
		sort.Strings(out[n])
	}
	return out
}

func (m *Manager) start(p PeerSpec) (*session, error) {
	peer := p.Peer
	if err := Supported(peer); err != nil {
		return nil, fmt.Errorf("BGPPeer %s: %w", peer.Name, err)
	}
	routerID := peer.RouterID
	if !routerID.IsValid() {
		routerID = p.NodeV4
	}
	if !routerID.Is4() {
		return nil, fmt.Errorf("BGPPeer %s: no IPv4 router ID (set spec.routerID; the node has no IPv4 address)", peer.Name)
	}
	srv := m.server()
	ctx, cancel := context.WithCancel(context.Background())
	fail := func(err error) (*session, error) {
		cancel()
		m.release(srv)
		return nil, fmt.Errorf("BGPPeer %s: %w", peer.Name, err)
	}
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: peer.MyASN, RouterId: routerID.String(), ListenPort: -1}}); err != nil {
		return fail(err)
	}
	if err := learnNothing(ctx, srv); err != nil {
		return fail(err)
	}
	s := &session{spec: p, srv: srv, routes: map[string]Route{}, cancel: cancel}
	s.local = peer.SourceAddress
	if !s.local.IsValid() {
		s.local = sourceFor(peer.Address, peer.Port)
	}
	name := peer.Name
	err := srv.WatchEvent(ctx, &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}}, func(r *api.WatchEventResponse) {
		pe := r.GetPeer()
		if pe == nil || pe.Type != api.WatchEventResponse_PeerEvent_STATE || pe.Peer == nil || pe.Peer.State == nil {
			return
		}
		up := pe.Peer.State.SessionState == api.PeerState_ESTABLISHED
		m.mu.Lock()
		current := m.sessions[name] == s // not a late event of a stopped session
		changed := current && s.up != up
		s.up = up
		m.mu.Unlock()
		if changed {
			m.metrics.sessionUp(peer.Address.String(), up)
			m.log.Info("bgp session state changed", "peer", name, "address", peer.Address, "established", up,
				"state", pe.Peer.State.SessionState.String())
			if m.onChange != nil {
				m.onChange()
			}
		}
	})
	if err != nil {
		return fail(err)
	}
	if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peerConf(p)}); err != nil {
		return fail(err)
	}
	m.metrics.sessionUp(peer.Address.String(), false)
	m.setBFD(s)
	m.log.Info("bgp session configured", "peer", name, "address", peer.Address, "asn", peer.ASN, "myASN", peer.MyASN,
		"source", s.local, "bfd", p.BFD != nil)
	return s, nil
}

// server returns a stopped GoBGP server to start a session on: an idle one, or a new one.
func (m *Manager) server() *server.BgpServer {
	if n := len(m.idle); n > 0 {
		srv := m.idle[n-1]
		m.idle = m.idle[:n-1]
		return srv
	}
	// The logger names no peer: the server may serve another one later.
	srv := server.NewBgpServer(server.LoggerOption(Logger(m.log.With("server", len(m.idle)+len(m.sessions)))))
	go srv.Serve()
	return srv
}

// release stops a server's BGP (its peers deconfigured, its RIB dropped at the next start) and
// keeps it for the next session.
func (m *Manager) release(srv *server.BgpServer) {
	_ = srv.StopBgp(context.Background(), &api.StopBgpRequest{})
	m.idle = append(m.idle, srv)
}

// learnNothing makes the server reject every route its peer sends (import policy: only the
// speaker's own routes enter the RIB). MetalLB's speakers learn nothing either.
func learnNothing(ctx context.Context, srv *server.BgpServer) error {
	const name = "ironlb-learn-nothing"
	if err := srv.AddPolicy(ctx, &api.AddPolicyRequest{Policy: &api.Policy{Name: name, Statements: []*api.Statement{{
		Name:       name + "-local",
		Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_LOCAL},
		Actions:    &api.Actions{RouteAction: api.RouteAction_ACCEPT},
	}}}}); err != nil {
		return fmt.Errorf("import policy: %w", err)
	}
	if err := srv.AddPolicyAssignment(ctx, &api.AddPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: "global", Direction: api.PolicyDirection_IMPORT, Policies: []*api.Policy{{Name: name}},
		DefaultAction: api.RouteAction_REJECT,
	}}); err != nil {
		return fmt.Errorf("import policy assignment: %w", err)
	}
	return nil
}

// peerConf is GoBGP's configuration of a BGPPeer.
func peerConf(p PeerSpec) *api.Peer {
	peer := p.Peer
	asn := peer.ASN
	if peer.DynamicASN == "internal" {
		asn = peer.MyASN
	}
	port := uint32(peer.Port)
	if port == 0 {
		port = 179
	}
	hold, keepalive := 90*time.Second, 30*time.Second
	if peer.HoldTime != nil {
		hold, keepalive = *peer.HoldTime, *peer.HoldTime/3
	}
	if peer.KeepaliveTime != nil {
		keepalive = *peer.KeepaliveTime
	}
	connect := DefaultConnectTime
	if peer.ConnectTime != nil {
		connect = *peer.ConnectTime
	}
	out := &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: peer.Address.String(), PeerAsn: asn, AuthPassword: peer.Password},
		Transport: &api.Transport{RemotePort: port},
		Timers: &api.Timers{Config: &api.TimersConfig{HoldTime: uint64(hold / time.Second), KeepaliveInterval: uint64(keepalive / time.Second),
			ConnectRetry: uint64(connect / time.Second)}},
	}
	if peer.SourceAddress.IsValid() {
		out.Transport.LocalAddress = peer.SourceAddress.String()
	}
	if peer.EBGPMultiHop {
		out.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: 255}
	}
	families := []api.Family_Afi{api.Family_AFI_IP}
	if peer.Address.Is6() {
		families = []api.Family_Afi{api.Family_AFI_IP6}
	}
	if peer.DualStackAddressFamily {
		families = []api.Family_Afi{api.Family_AFI_IP, api.Family_AFI_IP6}
	}
	for _, afi := range families {
		as := &api.AfiSafi{Config: &api.AfiSafiConfig{Family: &api.Family{Afi: afi, Safi: api.Family_SAFI_UNICAST}, Enabled: true},
			PrefixLimits: &api.PrefixLimit{MaxPrefixes: MaxReceivedPrefixes, ShutdownThresholdPct: 80}}
		if peer.EnableGracefulRestart {
			as.MpGracefulRestart = &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}}
		}
		out.AfiSafis = append(out.AfiSafis, as)
	}
	if peer.EnableGracefulRestart {
		out.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: 120}
	}
	return out
}

// sourceFor finds the local address the kernel uses towards a peer (no packet is sent).
func sourceFor(peer netip.Addr, port uint16) netip.Addr {
	if port == 0 {
		port = 179
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer, port)))
	if err != nil {
		return netip.Addr{}
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
}

// setBFD starts or stops the BFD session that watches a BGP session.
func (m *Manager) setBFD(s *session) {
	if m.bfd == nil {
		return
	}
	if s.spec.BFD == nil || !s.local.IsValid() {
		m.bfd.Remove(s.spec.Peer.Address)
		return
	}
	if err := m.bfd.Add(s.local, s.spec.Peer.Address, s.spec.BFD); err != nil {
		m.log.Error("bfd session", "peer", s.spec.Peer.Name, "error", err)
	}
}

// BFDChanged takes the BGP session with a peer address down when its BFD session went down (the
// path is gone: waiting out the hold timer would blackhole traffic), and lets it connect again
// when BFD is back up, or when a hold-down (1 s, doubling on each failure up to 30 s) is over.
func (m *Manager) BFDChanged(peer netip.Addr, up bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return
	}
	for name, s := range m.sessions {
		if s.spec.Peer.Address != peer {
			continue
		}
		ctx := context.Background()
		switch {
		case !up && !s.bfdDown:
			s.bfdDown = true
			s.bfdHold = min(max(2*s.bfdHold, bfdHoldMin), bfdHoldMax)
			m.log.Info("bfd down: closing the bgp session", "peer", name, "address", peer, "holdDown", s.bfdHold)
			if err := s.srv.DisablePeer(ctx, &api.DisablePeerRequest{Address: peer.String(), Communication: "BFD down"}); err != nil {
				m.log.Error("disable peer", "peer", name, "error", err)
			}
			s.bfdTimer = time.AfterFunc(s.bfdHold, func() { m.bfdHoldOver(name, s) })
		case up:
			s.bfdHold = 0
			if s.bfdDown {
				m.log.Info("bfd up: the bgp session may connect again", "peer", name, "address", peer)
				m.enableAfterBFD(name, s)
			}
		}
	}
}

// Hold-down of a session that BFD took down, before it may connect again without BFD being up.
const (
	bfdHoldMin = time.Second
	bfdHoldMax = 30 * time.Second
)

// bfdHoldOver lets a session that BFD took down connect again when its hold-down is over.
func (m *Manager) bfdHoldOver(name string, s *session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing || m.sessions[name] != s || !s.bfdDown {
		return
	}
	m.log.Info("bfd still down after the hold-down: the bgp session may connect again", "peer", name, "holdDown", s.bfdHold)
	m.enableAfterBFD(name, s)
}

// enableAfterBFD ends a BFD hold-down. Called with m.mu held.
func (m *Manager) enableAfterBFD(name string, s *session) {
	s.bfdDown = false
	if s.bfdTimer != nil {
		s.bfdTimer.Stop()
		s.bfdTimer = nil
	}
	if err := s.srv.EnablePeer(context.Background(), &api.EnablePeerRequest{Address: s.spec.Peer.Address.String()}); err != nil {
		m.log.Error("enable peer", "peer", name, "error", err)
	}
}

func (m *Manager) setRoutes(ctx context.Context, name string, s *session, routes []Route) error {
	want := map[string]Route{}
	for _, r := range routes {
		if old, ok := want[r.Key()]; ok {
			r = old.Merge(r)
		}
		want[r.Key()] = r
	}
	var errs []error
	for k, old := range s.routes {
		if _, ok := want[k]; !ok {
			if err := s.srv.DeletePath(ctx, &api.DeletePathRequest{Family: family(old.Prefix), Path: m.path(s, old)}); err != nil {
				errs = append(errs, fmt.Errorf("withdraw %s from %s: %w", k, name, err))
				continue
			}
			delete(s.routes, k)
			m.metrics.update(s.spec.Peer.Address.String())
			m.log.Info("withdrawn", "peer", name, "prefix", k)
		}
	}
	for k, r := range want {
		if old, ok := s.routes[k]; ok && old.Equal(r) {
			continue
		}
		path := m.path(s, r)
		if path == nil {
			m.log.Warn("no next hop of the prefix's family on this node: not announced", "peer", name, "prefix", k)
			continue
		}
		if _, err := s.srv.AddPath(ctx, &api.AddPathRequest{Path: path}); err != nil {
			errs = append(errs, fmt.Errorf("announce %s to %s: %w", k, name, err))
			continue
		}
		s.routes[k] = r
		m.metrics.update(s.spec.Peer.Address.String())
		m.log.Info("announced", "peer", name, "route", r.String())
	}
	m.metrics.announced(s.spec.Peer.Address.String(), len(s.routes))
	return errors.Join(errs...)
}

func family(p netip.Prefix) *api.Family {
	if p.Addr().Is4() {
		return &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	}
	return &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
}

// path is GoBGP's path of a route: origin IGP, this node as next hop, local preference for iBGP,
// communities.
func (m *Manager) path(s *session, r Route) *api.Path {
	nlri, _ := anypb.New(&api.IPAddressPrefix{Prefix: r.Prefix.Addr().String(), PrefixLen: uint32(r.Prefix.Bits())})
	origin, _ := anypb.New(&api.OriginAttribute{Origin: 0})
	attrs := []*anypb.Any{origin}
	fam := family(r.Prefix)
	if r.Prefix.Addr().Is4() {
		nh := s.spec.NodeV4
		if s.local.Is4() {
			nh = s.local
		}
		if !nh.IsValid() {
			return nil
		}
		a, _ := anypb.New(&api.NextHopAttribute{NextHop: nh.String()})
		attrs = append(attrs, a)
	} else {
		nh := s.spec.NodeV6
		if s.local.Is6() {
			nh = s.local
		}
		if !nh.IsValid() {
			return nil
		}
		a, _ := anypb.New(&api.MpReachNLRIAttribute{Family: fam, NextHops: []string{nh.String()}, Nlris: []*anypb.Any{nlri}})
		attrs = append(attrs, a)
	}
	ibgp := s.spec.Peer.ASN == s.spec.Peer.MyASN || s.spec.Peer.DynamicASN == "internal"
	if r.LocalPref != 0 && ibgp {
		a, _ := anypb.New(&api.LocalPrefAttribute{LocalPref: r.LocalPref})
		attrs = append(attrs, a)
	}
	var std []uint32
	var large []*api.LargeCommunity
	for _, c := range r.Communities {
		if c.Large {
			large = append(large, &api.LargeCommunity{GlobalAdmin: c.LargeParts[0], LocalData1: c.LargeParts[1], LocalData2: c.LargeParts[2]})
		} else {
			std = append(std, c.Standard)
		}
	}
	if len(std) > 0 {
		a, _ := anypb.New(&api.CommunitiesAttribute{Communities: std})
		attrs = append(attrs, a)
	}
	if len(large) > 0 {
		a, _ := anypb.New(&api.LargeCommunitiesAttribute{Communities: large})
		attrs = append(attrs, a)
	}
	return &api.Path{Family: fam, Nlri: nlri, Pattrs: attrs}
}

// stop ends a session: without graceful restart (or when asked), its routes are withdrawn first so
// that the peer moves traffic before the node stops answering; with it, the session just closes,
// and the peer keeps the routes while the speaker restarts.
func (m *Manager) stop(name string, s *session, shutdown bool) {
	ctx := context.Background()
	if !(shutdown && s.spec.Peer.EnableGracefulRestart) {
		for k, r := range s.routes {
			_ = s.srv.DeletePath(ctx, &api.DeletePathRequest{Family: family(r.Prefix), Path: m.path(s, r)})
			delete(s.routes, k)
		}
	}
	if m.bfd != nil && s.spec.BFD != nil {
		m.bfd.Remove(s.spec.Peer.Address)
	}
	if s.bfdTimer != nil {
		s.bfdTimer.Stop()
	}
	s.cancel()
	if !(shutdown && s.spec.Peer.EnableGracefulRestart) {
		m.release(s.srv)
	}
	delete(m.sessions, name)
	m.metrics.forget(s.spec.Peer.Address.String())
}

// Shutdown ends every session for a process that stops: routes are withdrawn and, after wait (for
// the routers to move traffic elsewhere), the sessions close; sessions with graceful restart close
// at once without withdrawing, so that the peers keep forwarding to this node meanwhile. From its
// start the manager is closing: Set and BFDChanged change nothing (a reconcile during the wait
// must not announce again, nor start sessions after they closed).
func (m *Manager) Shutdown(wait time.Duration) {
	m.mu.Lock()
	m.closing = true
	if m.retry != nil {
		m.retry.Stop()
	}
	withdrew := false
	for _, s := range m.sessions {
		if s.spec.Peer.EnableGracefulRestart {
			continue
		}
		for k, r := range s.routes {
			_ = s.srv.DeletePath(context.Background(), &api.DeletePathRequest{Family: family(r.Prefix), Path: m.path(s, r)})
			delete(s.routes, k)
			withdrew = true
		}
	}
	m.mu.Unlock()
	if withdrew {
		time.Sleep(wait)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, s := range m.sessions {
		m.stop(name, s, true)
	}
}

// Logger adapts slog to GoBGP's logger: GoBGP's informational chatter at debug level, warnings and
// errors as such, each message at most once a second (a hostile peer makes GoBGP warn on every
// UPDATE it sends), with the number of repeats left out. The lab's routers use it too.
func Logger(log *slog.Logger) gobgplog.Logger {
	return &logAdapter{log: log, last: map[string]time.Time{}, dropped: map[string]int{}}
}

// logAdapter sends GoBGP's logs to slog.
type logAdapter struct {
	log   *slog.Logger
	level gobgplog.LogLevel

	mu      sync.Mutex
	last    map[string]time.Time // when each warning or error message was last logged
	dropped map[string]int       // repeats left out since
}

func (l *logAdapter) attrs(f gobgplog.Fields) []any {
	out := make([]any, 0, 2*len(f))
	for k, v := range f {
		out = append(out, k, v)
	}
	return out
}

// limited logs msg unless it was logged less than a second ago.
func (l *logAdapter) limited(level slog.Level, msg string, f gobgplog.Fields) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last[msg]) < time.Second {
		l.dropped[msg]++
		l.mu.Unlock()
		return
	}
	if len(l.last) > 1000 { // messages are GoBGP's constants; bound the map anyway
		clear(l.last)
	}
	l.last[msg] = now
	n := l.dropped[msg]
	delete(l.dropped, msg)
	l.mu.Unlock()
	attrs := l.attrs(f)
	if n > 0 {
		attrs = append(attrs, "repeatsNotLogged", n)
	}
	l.log.Log(context.Background(), level, msg, attrs...)
}

func (l *logAdapter) Panic(msg string, f gobgplog.Fields) {
	l.log.Error(msg, l.attrs(f)...)
	panic(msg)
}
func (l *logAdapter) Fatal(msg string, f gobgplog.Fields) { l.log.Error(msg, l.attrs(f)...) }
func (l *logAdapter) Error(msg string, f gobgplog.Fields) { l.limited(slog.LevelError, msg, f) }
func (l *logAdapter) Warn(msg string, f gobgplog.Fields)  { l.limited(slog.LevelWarn, msg, f) }
func (l *logAdapter) Info(msg string, f gobgplog.Fields)  { l.log.Debug(msg, l.attrs(f)...) }
func (l *logAdapter) Debug(msg string, f gobgplog.Fields) {}
func (l *logAdapter) SetLevel(level gobgplog.LogLevel)    { l.level = level }
func (l *logAdapter) GetLevel() gobgplog.LogLevel         { return l.level }
