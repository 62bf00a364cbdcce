//go:build linux

package bfd

import (
	"context"
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

// Server runs the BFD sessions of one process: it receives control packets on port 3784 (IPv4
// and IPv6, accepting only TTL/hop limit 255 as RFC 5881 requires of single hop), sends each
// session's packets from its own socket and reports state changes.
type Server struct {
	log      *slog.Logger
	onChange func(Event)
	metrics  *Metrics

	mu       sync.Mutex
	sessions map[netip.Addr]*peerSession // by peer address
	byDisc   map[uint32]*peerSession
	nextDisc uint32
	wake     chan struct{}

	conns  []net.PacketConn
	cancel context.CancelFunc
	done   sync.WaitGroup
}

type peerSession struct {
	*Session
	local, peer netip.Addr
	conn        *net.UDPConn
}

// Listen starts a server. onChange is called (from the server's goroutines, not concurrently)
// for every state change; metrics may be nil.
func Listen(ctx context.Context, log *slog.Logger, metrics *Metrics, onChange func(Event)) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Server{log: log, onChange: onChange, metrics: metrics, sessions: map[netip.Addr]*peerSession{},
		byDisc: map[uint32]*peerSession{}, nextDisc: rand.Uint32()>>1 + 1, wake: make(chan struct{}, 1), cancel: cancel}
	c4, err := net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", Port))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("bfd: listen on udp4 port %d: %w", Port, err)
	}
	p4 := ipv4.NewPacketConn(c4)
	if err := p4.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst, true); err != nil {
		c4.Close()
		cancel()
		return nil, fmt.Errorf("bfd: receive TTL: %w", err)
	}
	s.conns = append(s.conns, c4)
	s.done.Add(1)
	go s.read4(p4)
	if c6, err := net.ListenPacket("udp6", fmt.Sprintf("[::]:%d", Port)); err == nil {
		p6 := ipv6.NewPacketConn(c6)
		if err := p6.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst, true); err == nil {
			s.conns = append(s.conns, c6)
			s.done.Add(1)
			go s.read6(p6)
		} else {
			c6.Close()
		}
	} else {
		log.Warn("bfd: no IPv6 listener", "error", err)
	}
	s.done.Add(1)
	go s.loop(ctx)
	return s, nil
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
	conn, err := dialFrom(local, peer)
	if err != nil {
		return fmt.Errorf("bfd: session with %s: %w", peer, err)
	}
	s.nextDisc++
	if s.nextDisc == 0 {
		s.nextDisc = 1
	}
	cfg.LocalDisc = s.nextDisc
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
	s.mu.Unlock()
	s.cancel()
	for _, c := range s.conns {
		c.Close()
	}
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

// read receives datagrams until the socket closes; next returns one with its TTL or hop limit
// (-1 when the kernel did not say).
func (s *Server) read(next func(buf []byte) (int, net.Addr, int, error)) {
	defer s.done.Done()
	buf := make([]byte, 1500)
	for {
		n, src, ttl, err := next(buf)
		if err != nil {
			return
		}
		s.receive(buf[:n], src, ttl)
	}
}

func (s *Server) read4(c *ipv4.PacketConn) {
	s.read(func(buf []byte) (int, net.Addr, int, error) {
		n, cm, src, err := c.ReadFrom(buf)
		if cm == nil {
			return n, src, -1, err
		}
		return n, src, cm.TTL, err
	})
}

func (s *Server) read6(c *ipv6.PacketConn) {
	s.read(func(buf []byte) (int, net.Addr, int, error) {
		n, cm, src, err := c.ReadFrom(buf)
		if cm == nil {
			return n, src, -1, err
		}
		return n, src, cm.HopLimit, err
	})
}

// receive handles one datagram from the network: anything malformed, from a stranger or sent
// from further than one hop is logged with its sender and dropped.
func (s *Server) receive(b []byte, src net.Addr, ttl int) {
	ua, _ := src.(*net.UDPAddr)
	if ua == nil {
		return
	}
	from, _ := netip.AddrFromSlice(ua.IP)
	from = from.Unmap()
	if ttl != 255 {
		s.metrics.malformed(from, "ttl")
		s.log.Debug("bfd: dropped a packet not sent from one hop away (TTL is not 255)", "peer", from, "ttl", ttl)
		return
	}
	p, err := Parse(b)
	if err != nil {
		s.metrics.malformed(from, "parse")
		s.log.Info("bfd: dropped a malformed control packet", "peer", from, "error", err)
		return
	}
	s.mu.Lock()
	var ps *peerSession
	if p.YourDisc != 0 {
		ps = s.byDisc[p.YourDisc]
	} else if p.State == Down || p.State == AdminDown {
		ps = s.sessions[from]
	}
	if ps == nil || ps.peer != from {
		s.mu.Unlock()
		s.metrics.malformed(from, "no session")
		s.log.Debug("bfd: packet for no session", "peer", from, "yourDisc", p.YourDisc)
		return
	}
	s.metrics.received(from)
	before := ps.State
	changed := ps.Receive(p, time.Now())
	ev := Event{Peer: from, Old: before, New: ps.State, Diag: ps.Diag}
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
