package bfd

import (
	"errors"
	"net/netip"
)

// Errors of Demux: why a datagram that reached a BFD socket was given to no session.
var (
	ErrTTL       = errors.New("bfd: TTL or hop limit is not 255 (not sent from one hop away, RFC 5881 section 5)")
	ErrNoSession = errors.New("bfd: your discriminator names no session")
	ErrWrongPeer = errors.New("bfd: the session your discriminator names is with another address")
	ErrNoPeer    = errors.New("bfd: no session with this address (your discriminator is zero)")
	ErrPeerDisc  = errors.New("bfd: my discriminator is not the one the Up session's peer uses")
)

// Datagram is what a BFD socket received.
type Datagram struct {
	Data     []byte
	Src, Dst netip.Addr // Dst: the local address it was sent to (invalid when the kernel did not say)
	TTL      int        // TTL or hop limit; -1 when the kernel did not say
}

// Candidate is a session as the reception rules see it.
type Candidate struct {
	Local, Peer netip.Addr
	State       State  // this end's state
	RemoteDisc  uint32 // the peer's discriminator as last received (zero: none yet)
}

// Table is the session table a datagram is matched against.
type Table interface {
	// ByDisc finds a session by this end's discriminator.
	ByDisc(localDisc uint32) (Candidate, bool)
	// ByPeer finds a session by the peer's address.
	ByPeer(peer netip.Addr) (Candidate, bool)
}

// Demux applies the reception rules of RFC 5880 section 6.8.6 and RFC 5881 to a datagram and
// returns its packet and the session it belongs to, or the rule it broke. It is the whole of
// what stands between the network and a session's state machine:
//   - single hop: only TTL/hop limit 255 (GTSM), so no host further than one link away gets here
//     whatever the source address it forges;
//   - the packet's own checks (Parse: version, lengths, detect multiplier, multipoint,
//     discriminators, authentication, which this implementation does not support);
//   - a nonzero Your Discriminator selects the session, and the packet is dropped when it names
//     none, or one with another peer or local address;
//   - a zero Your Discriminator (only valid in state Down or AdminDown) selects the session by
//     source address; then, while the session is Up, My Discriminator must be the one the peer
//     has been using. So a forged Down or AdminDown that knows neither discriminator cannot take
//     an Up session down; a peer that restarted (new discriminator) is declared down by the
//     detection time instead, and its packets are accepted from then on.
func Demux(d Datagram, t Table) (Packet, Candidate, error) {
	if d.TTL != 255 {
		return Packet{}, Candidate{}, ErrTTL
	}
	p, err := Parse(d.Data)
	if err != nil {
		return p, Candidate{}, err
	}
	src := d.Src.Unmap()
	if p.YourDisc != 0 {
		c, ok := t.ByDisc(p.YourDisc)
		switch {
		case !ok:
			return p, c, ErrNoSession
		case c.Peer != src || (d.Dst.IsValid() && c.Local.IsValid() && d.Dst.Unmap() != c.Local):
			return p, c, ErrWrongPeer
		}
		return p, c, nil
	}
	c, ok := t.ByPeer(src)
	switch {
	case !ok:
		return p, c, ErrNoPeer
	case d.Dst.IsValid() && c.Local.IsValid() && d.Dst.Unmap() != c.Local:
		return p, c, ErrWrongPeer
	case c.State == Up && c.RemoteDisc != 0 && p.MyDisc != c.RemoteDisc:
		return p, c, ErrPeerDisc
	}
	return p, c, nil
}

// dropReason is the metric label of a Demux error.
func dropReason(err error) string {
	switch {
	case errors.Is(err, ErrTTL):
		return "ttl"
	case errors.Is(err, ErrNoSession), errors.Is(err, ErrWrongPeer), errors.Is(err, ErrNoPeer):
		return "no session"
	case errors.Is(err, ErrPeerDisc):
		return "discriminator"
	}
	return "parse"
}
