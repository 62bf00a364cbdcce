package bfd

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

// fakeTable is a session table: ours are 0x1111 (with peer 10.0.0.2, Up, whose discriminator is
// 0x2222) and 0x3333 (with 10.0.0.3, Down).
type fakeTable map[uint32]Candidate

func (f fakeTable) ByDisc(d uint32) (Candidate, bool) { c, ok := f[d]; return c, ok }

func (f fakeTable) ByPeer(a netip.Addr) (Candidate, bool) {
	for _, c := range f {
		if c.Peer == a {
			return c, true
		}
	}
	return Candidate{}, false
}

var (
	local    = netip.MustParseAddr("10.0.0.1")
	peerUp   = netip.MustParseAddr("10.0.0.2")
	peerDown = netip.MustParseAddr("10.0.0.3")
	stranger = netip.MustParseAddr("10.0.0.9")
	sessions = fakeTable{
		0x1111: {Local: local, Peer: peerUp, State: Up, RemoteDisc: 0x2222},
		0x3333: {Local: local, Peer: peerDown, State: Down, RemoteDisc: 0x4444},
	}
)

// The reception rules of RFC 5880 section 6.8.6 and RFC 5881, one row each.
func TestDemux(t *testing.T) {
	pkt := func(st State, my, your uint32) []byte {
		return Packet{Version: 1, State: st, DetectMult: 3, MyDisc: my, YourDisc: your, DesiredMinTx: time.Second}.Marshal()
	}
	for _, tc := range []struct {
		name     string
		d        Datagram
		want     error
		wantPeer netip.Addr
	}{
		{"the peer's Up, our discriminator", Datagram{pkt(Up, 0x2222, 0x1111), peerUp, local, 255}, nil, peerUp},
		{"IPv4-mapped source", Datagram{pkt(Up, 0x2222, 0x1111), netip.AddrFrom16(peerUp.As16()), local, 255}, nil, peerUp},
		{"destination unknown (kernel did not say)", Datagram{pkt(Up, 0x2222, 0x1111), peerUp, netip.Addr{}, 255}, nil, peerUp},
		{"TTL 254: from further than one hop", Datagram{pkt(Up, 0x2222, 0x1111), peerUp, local, 254}, ErrTTL, netip.Addr{}},
		{"TTL 64", Datagram{pkt(AdminDown, 0x2222, 0), peerUp, local, 64}, ErrTTL, netip.Addr{}},
		{"TTL unknown", Datagram{pkt(Up, 0x2222, 0x1111), peerUp, local, -1}, ErrTTL, netip.Addr{}},
		{"garbage", Datagram{[]byte("not bfd"), peerUp, local, 255}, ErrShort, netip.Addr{}},
		{"your discriminator 0 in Up", Datagram{pkt(Up, 0x2222, 0), peerUp, local, 255}, ErrYourDisc, netip.Addr{}},
		{"your discriminator 0 in Init", Datagram{pkt(Init, 0x2222, 0), peerUp, local, 255}, ErrYourDisc, netip.Addr{}},
		{"my discriminator 0", Datagram{pkt(Down, 0, 0), peerUp, local, 255}, ErrMyDisc, netip.Addr{}},
		{"your discriminator names no session", Datagram{pkt(Down, 0x2222, 0x1112), peerUp, local, 255}, ErrNoSession, netip.Addr{}},
		{"your discriminator of another peer's session", Datagram{pkt(AdminDown, 0x2222, 0x3333), peerUp, local, 255}, ErrWrongPeer, netip.Addr{}},
		{"our discriminator from a stranger", Datagram{pkt(AdminDown, 0x2222, 0x1111), stranger, local, 255}, ErrWrongPeer, netip.Addr{}},
		{"our discriminator to another local address", Datagram{pkt(Up, 0x2222, 0x1111), peerUp, netip.MustParseAddr("10.0.0.5"), 255}, ErrWrongPeer, netip.Addr{}},
		{"your discriminator 0 from a stranger", Datagram{pkt(Down, 0x9999, 0), stranger, local, 255}, ErrNoPeer, netip.Addr{}},
		{"your discriminator 0 to another local address", Datagram{pkt(Down, 0x4444, 0), peerDown, netip.MustParseAddr("10.0.0.5"), 255}, ErrWrongPeer, netip.Addr{}},
		{"forged AdminDown to an Up session: unknown my discriminator", Datagram{pkt(AdminDown, 0x2223, 0), peerUp, local, 255}, ErrPeerDisc, netip.Addr{}},
		{"forged Down to an Up session: unknown my discriminator", Datagram{pkt(Down, 0x9999, 0), peerUp, local, 255}, ErrPeerDisc, netip.Addr{}},
		{"the Up session's peer lost us (its detection time expired)", Datagram{pkt(Down, 0x2222, 0), peerUp, local, 255}, nil, peerUp},
		{"a Down session's peer restarted with a new discriminator", Datagram{pkt(Down, 0x5555, 0), peerDown, local, 255}, nil, peerDown},
	} {
		_, c, err := Demux(tc.d, sessions)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
			continue
		}
		if err == nil && c.Peer != tc.wantPeer {
			t.Errorf("%s: session with %s, want %s", tc.name, c.Peer, tc.wantPeer)
		}
	}
}

func TestDropReason(t *testing.T) {
	for err, want := range map[error]string{ErrTTL: "ttl", ErrNoSession: "no session", ErrWrongPeer: "no session",
		ErrNoPeer: "no session", ErrPeerDisc: "discriminator", ErrShort: "parse", ErrAuth: "parse", ErrYourDisc: "parse"} {
		if got := dropReason(err); got != want {
			t.Errorf("dropReason(%v) = %q, want %q", err, got, want)
		}
	}
}

// FuzzDemux: whatever one datagram says, from the Up session's peer address with TTL 255 (an
// on-link forger), it cannot take the Up session down unless it carries a discriminator of the
// session: ours as Your Discriminator, or the peer's as My Discriminator.
func FuzzDemux(f *testing.F) {
	for _, p := range []Packet{
		{Version: 1, State: AdminDown, DetectMult: 3, MyDisc: 7},
		{Version: 1, State: Down, DetectMult: 3, MyDisc: 0x2222},
		{Version: 1, State: Down, DetectMult: 1, MyDisc: 0x2222, YourDisc: 0x1111},
		{Version: 1, State: Down, DetectMult: 1, MyDisc: 1, YourDisc: 0x3333},
	} {
		f.Add(p.Marshal(), uint8(255))
	}
	f.Add([]byte{0x20, 0x40, 3, 24, 0, 0, 0, 1, 0, 0, 0, 0}, uint8(255))
	f.Fuzz(func(t *testing.T, b []byte, ttl uint8) {
		p, c, err := Demux(Datagram{Data: b, Src: peerUp, Dst: local, TTL: int(ttl)}, sessions)
		if err != nil {
			return
		}
		if ttl != 255 {
			t.Fatalf("accepted with TTL %d", ttl)
		}
		s := NewSession(Config{LocalDisc: 0x1111, DesiredMinTx: time.Second, RequiredMinRx: time.Second}, t0)
		s.State, s.RemoteDisc = Up, 0x2222
		s.Receive(p, t0)
		if s.State != Up && p.YourDisc != 0x1111 && p.MyDisc != 0x2222 {
			t.Fatalf("a packet with neither discriminator (%+v) took the session with %s %s", p, c.Peer, s.State)
		}
	})
}
