//go:build linux

package bfd

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Port is the UDP port of single-hop BFD control packets (RFC 5881).
const Port = 3784

// Event is a session's change of state.
type Event struct {
	Peer     netip.Addr
	Old, New State
	Diag     Diag // why, when it went down
}

// Server runs the BFD sessions of one process: it receives control packets on port 3784 of the
// sessions' local addresses only (a socket per address, open while a session uses it, so a node
// without a BFDProfile in use listens nowhere), hands each to its session by the reception rules
// of Demux, sends each session's packets from its own socket and reports state changes.
type Server struct {
	log      *slog.Logger
	onChange func(Event)
	metrics  *Metrics

	mu        sync.Mutex
	sessions  map[netip.Addr]*peerSession // by peer address
	byDisc    map[uint32]*peerSession
	listeners map[netip.Addr]*listener // by local address
	wake      chan struct{}

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// listener is the socket on a local address's port 3784 and how many sessions use it.
type listener struct {
	conn net.PacketConn
	refs int
}

type peerSession struct {
	*Session
	local, peer netip.Addr
	conn        *net.UDPConn
}

// Listen starts a server. It opens no socket until a session is added (Add). onChange is called
// (from the server's goroutines, not concurrently) for every state change; metrics may be nil.
func Listen(ctx context.Context, log *slog.Logger, metrics *Metrics, onChange func(Event)) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Server{log: log, onChange: onChange, metrics: metrics, sessions: map[netip.Addr]*peerSession{},
		byDisc: map[uint32]*peerSession{}, listeners: map[netip.Addr]*listener{}, wake: make(chan struct{}, 1), cancel: cancel}
	s.done.Add(1)
	go s.loop(ctx)
	return s, nil
}

// listenLocked makes sure port 3784 of local is open (one more session uses it).
func (s *Server) listenLocked(local netip.Addr) error {
	if l, ok := s.listeners[local]; ok {
		l.refs++
		return nil
	}
	network := "udp4"
	if local.Is6() {
		network = "udp6"
	}
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, Port)))
	if err != nil {
		return fmt.Errorf("listen on %s: %w", netip.AddrPortFrom(local, Port), err)
	}
	if local.Is6() {
		p := ipv6.NewPacketConn(c)
		err = p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst, true)
		if err == nil {
			s.done.Add(1)
			go s.read6(p)
		}
	} else {
		p := ipv4.NewPacketConn(c)
		err = p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst, true)
		if err == nil {
			s.done.Add(1)
			go s.read4(p)
		}
	}
	if err != nil {
		c.Close()
		return fmt.Errorf("receive the TTL on %s: %w", local, err)
	}
	s.listeners[local] = &listener{conn: c, refs: 1}
	return nil
}

// unlistenLocked closes port 3784 of local when no session uses it any more.
func (s *Server) unlistenLocked(local netip.Addr) {
	l, ok := s.listeners[local]
	if !ok {
		return
	}
	if l.refs--; l.refs <= 0 {
		l.conn.Close()
		delete(s.listeners, local)
	}
}

// Listening returns the local addresses whose port 3784 is open.
func (s *Server) Listening() []netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]netip.Addr, 0, len(s.listeners))
	for a := range s.listeners {
		out = append(out, a)
	}
	return out
}

// newDiscLocked returns a random discriminator, nonzero and not in use: a peer's packets name
// the session by it, and one that cannot be guessed is what an off-path sender lacks.
func (s *Server) newDiscLocked() uint32 {
	var b [4]byte
	for {
		_, _ = crand.Read(b[:]) // never fails on Linux (it panics rather than return an error)
		d := binary.BigEndian.Uint32(b[:])
		if _, used := s.byDisc[d]; d != 0 && !used {
			return d
		}
	}
}

// Add starts a session with a peer, sending from local. A session with the same peer is replaced
// only when its configuration changed.
func (s *Server) Add(local, peer netip.Addr, cfg Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.sessions[peer]; ok {
		c := old.Config()
		cfg.LocalDisc = c.LocalDisc
		if c == cfg && old.local == local {
			return nil
		}
		s.removeLocked(peer)
	}
	if err := s.listenLocked(local); err != nil {
		return fmt.Errorf("bfd: session with %s: %w", peer, err)
	}
	conn, err := dialFrom(local, peer)
	if err != nil {
		s.unlistenLocked(local)
		return fmt.Errorf("bfd: session with %s: %w", peer, err)
	}
	cfg.LocalDisc = s.newDiscLocked()
	ps := &peerSession{Session: NewSession(cfg, time.Now()), local: local, peer: peer, conn: conn}
	s.sessions[peer], s.byDisc[cfg.LocalDisc] = ps, ps
	s.metrics.sessionUp(peer, false)
	s.kick()
	return nil
}

// Remove ends the session with a peer, telling it first (AdminDown) so that it does not take the
// session's end for a failure.
func (s *Server) Remove(peer netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(peer)
}

func (s *Server) removeLocked(peer netip.Addr) {
	ps, ok := s.sessions[peer]
	if !ok {
		return
	}
	now := time.Now()
	ps.SetAdminDown(true, now)
	s.write(ps, ps.Send(now))
	ps.conn.Close()
	s.unlistenLocked(ps.local)
	delete(s.sessions, peer)
	delete(s.byDisc, ps.Config().LocalDisc)
	s.metrics.forget(peer)
}

// State returns the state of the session with a peer (Down when there is none).
func (s *Server) State(peer netip.Addr) State {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ps, ok := s.sessions[peer]; ok {
		return ps.State
	}
	return Down
}

// Close takes every session administratively down (telling the peers), then stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	for peer := range s.sessions {
		s.removeLocked(peer)
	}
	for local, l := range s.listeners { // none left, unless a session's Add half failed
		l.conn.Close()
		delete(s.listeners, local)
	}
	s.mu.Unlock()
	s.cancel()
	s.done.Wait()
}

func (s *Server) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// loop sends due packets and expires sessions; it sleeps until the earliest of those times.
func (s *Server) loop(ctx context.Context) {
	defer s.done.Done()
	timer := time.NewTimer(time.Second)
	defer timer.Stop()
	for {
		now := time.Now()
		next := now.Add(time.Second)
		var events []Event
		s.mu.Lock()
		for _, ps := range s.sessions {
			before := ps.State
			if ps.Expire(now) {
				events = append(events, Event{Peer: ps.peer, Old: before, New: ps.State, Diag: ps.Diag})
			}
			if nt := ps.NextTx(); !nt.IsZero() && !nt.After(now) {
				s.write(ps, ps.Send(now))
			}
			for _, t := range []time.Time{ps.NextTx(), ps.Deadline()} {
				if !t.IsZero() && t.Before(next) {
					next = t
				}
			}
		}
		s.mu.Unlock()
		s.report(events)
		timer.Reset(max(time.Until(next), 0))
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

func (s *Server) write(ps *peerSession, p Packet) {
	b := p.Marshal()
	_, err := ps.conn.Write(b)
	if errors.Is(err, syscall.ECONNREFUSED) {
		// An ICMP port unreachable for an earlier packet (the peer's BFD was not listening yet)
		// is reported on this write, which then did not send: send again.
		_, err = ps.conn.Write(b)
	}
	if err != nil {
		s.log.Debug("bfd: send", "peer", ps.peer, "error", err)
		return
	}
	s.metrics.sent(ps.peer)
}

func (s *Server) report(events []Event) {
	for _, e := range events {
		s.metrics.sessionUp(e.Peer, e.New == Up)
		s.metrics.change(e.Peer, e.New)
		s.log.Info("bfd session state changed", "peer", e.Peer, "from", e.Old.String(), "to", e.New.String(), "diag", e.Diag.String())
		if s.onChange != nil {
			s.onChange(e)
		}
	}
}

// read receives datagrams until the socket closes; next returns one with its destination and
// TTL or hop limit (-1 when the kernel did not say).
func (s *Server) read(next func(buf []byte) (int, net.Addr, net.IP, int, error)) {
	defer s.done.Done()
	buf := make([]byte, 1500)
	for {
		n, src, dst, ttl, err := next(buf)
		if err != nil {
			return
		}
		ua, _ := src.(*net.UDPAddr)
		if ua == nil {
			continue
		}
		from, _ := netip.AddrFromSlice(ua.IP)
		to, _ := netip.AddrFromSlice(dst)
		s.receive(Datagram{Data: buf[:n], Src: from.Unmap(), Dst: to.Unmap(), TTL: ttl})
	}
}

func (s *Server) read4(c *ipv4.PacketConn) {
	s.read(func(buf []byte) (int, net.Addr, net.IP, int, error) {
		n, cm, src, err := c.ReadFrom(buf)
		if cm == nil {
			return n, src, nil, -1, err
		}
		return n, src, cm.Dst, cm.TTL, err
	})
}

func (s *Server) read6(c *ipv6.PacketConn) {
	s.read(func(buf []byte) (int, net.Addr, net.IP, int, error) {
		n, cm, src, err := c.ReadFrom(buf)
		if cm == nil {
			return n, src, nil, -1, err
		}
		return n, src, cm.Dst, cm.HopLimit, err
	})
}

// table is the server's sessions as Demux sees them (s.mu held).
type table struct{ s *Server }

func (t table) ByDisc(d uint32) (Candidate, bool) { return candidate(t.s.byDisc[d]) }

func (t table) ByPeer(a netip.Addr) (Candidate, bool) { return candidate(t.s.sessions[a]) }

func candidate(ps *peerSession) (Candidate, bool) {
	if ps == nil {
		return Candidate{}, false
	}
	return Candidate{Local: ps.local, Peer: ps.peer, State: ps.State, RemoteDisc: ps.RemoteDisc}, true
}

// receive handles one datagram from the network: what Demux refuses is counted (under the peer's
// address only when a session with it is configured, so that forged sources add no series) and
// dropped.
func (s *Server) receive(d Datagram) {
	s.mu.Lock()
	p, c, err := Demux(d, table{s})
	_, known := s.sessions[d.Src]
	if err != nil {
		s.mu.Unlock()
		s.metrics.dropped(d.Src, known, dropReason(err))
		s.log.Debug("bfd: dropped a control packet", "peer", d.Src, "yourDisc", p.YourDisc, "error", err)
		return
	}
	ps := s.sessions[c.Peer]
	s.metrics.received(c.Peer)
	before := ps.State
	changed := ps.Receive(p, time.Now())
	ev := Event{Peer: c.Peer, Old: before, New: ps.State, Diag: ps.Diag}
	s.mu.Unlock()
	if changed {
		s.report([]Event{ev})
	}
	s.kick()
}

// dialFrom opens the socket a session sends from: a source port in 49152-65535 (RFC 5881),
// TTL/hop limit 255.
func dialFrom(local, peer netip.Addr) (*net.UDPConn, error) {
	network := "udp4"
	if peer.Is6() {
		network = "udp6"
	}
	var last error
	for range 32 {
		port := 49152 + rand.IntN(65536-49152)
		c, err := net.DialUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, uint16(port))),
			net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer, Port)))
		if err != nil {
			last = err
			continue
		}
		if peer.Is6() {
			err = ipv6.NewConn(c).SetHopLimit(255)
		} else {
			err = ipv4.NewConn(c).SetTTL(255)
		}
		if err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	return nil, errors.Join(errors.New("no free source port in 49152-65535"), last)
}
