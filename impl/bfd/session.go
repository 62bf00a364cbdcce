package bfd

import (
	"math/rand/v2"
	"time"
)

// SlowTxInterval is the transmit interval while a session is not Up (RFC 5880 section 6.8.3: not
// less than one second).
const SlowTxInterval = time.Second

// Config is what a BFDProfile says about one session.
type Config struct {
	LocalDisc     uint32        // this end's discriminator: non-zero and unique on the system
	DesiredMinTx  time.Duration // how often this end wants to send, once Up
	RequiredMinRx time.Duration // how often this end can receive
	DetectMult    uint8         // packets missed before the session is declared down
	Passive       bool          // send nothing until the peer has spoken
}

// Session is one BFD session's state machine (RFC 5880 section 6.8), driven by explicit times:
// the transport hands it received packets and asks it what to send and when, so that it is
// tested without sockets or real time.
type Session struct {
	cfg Config

	State       State
	RemoteState State
	Diag        Diag
	RemoteDisc  uint32

	remoteMinRx      time.Duration // bfd.RemoteMinRxInterval
	remoteDesiredTx  time.Duration
	remoteDetectMult uint8
	heard            bool // a packet came from the peer (passive mode may start sending)

	polling   bool // a Poll Sequence is running (P set until a packet with F arrives)
	sendFinal bool // the next packet answers a Poll
	lastRx    time.Time
	nextTx    time.Time

	// Jitter returns a factor in [0, 1) for transmit jitter; rand by default.
	Jitter func() float64
}

// NewSession returns a session in state Down, ready to send at now (unless passive).
func NewSession(cfg Config, now time.Time) *Session {
	if cfg.DetectMult == 0 {
		cfg.DetectMult = 3
	}
	return &Session{cfg: cfg, State: Down, RemoteState: Down, remoteMinRx: time.Microsecond, nextTx: now, Jitter: rand.Float64}
}

// Config returns the session's configuration.
func (s *Session) Config() Config { return s.cfg }

// desiredTx is the DesiredMinTx this end advertises and uses: the configured one once Up, at
// least one second before.
func (s *Session) desiredTx() time.Duration {
	if s.State == Up {
		return s.cfg.DesiredMinTx
	}
	return max(s.cfg.DesiredMinTx, SlowTxInterval)
}

// TxInterval is the interval between this end's packets, before jitter (section 6.8.7).
func (s *Session) TxInterval() time.Duration { return max(s.desiredTx(), s.remoteMinRx) }

// DetectionTime is how long without a packet from the peer before the session goes down
// (asynchronous mode, section 6.8.4); zero while nothing is expected.
func (s *Session) DetectionTime() time.Duration {
	if !s.heard || s.remoteDetectMult == 0 {
		return 0
	}
	return time.Duration(s.remoteDetectMult) * max(s.cfg.RequiredMinRx, s.remoteDesiredTx)
}

// Deadline is when the session goes down unless a packet arrives (zero: no deadline).
func (s *Session) Deadline() time.Time {
	if (s.State != Init && s.State != Up) || s.DetectionTime() == 0 {
		return time.Time{}
	}
	return s.lastRx.Add(s.DetectionTime())
}

// Receive applies a received, parsed packet (section 6.8.6; the transport has already matched it
// to this session). It reports whether the state changed.
func (s *Session) Receive(p Packet, now time.Time) bool {
	if s.State == AdminDown {
		return false
	}
	s.heard = true
	s.lastRx = now
	s.RemoteDisc = p.MyDisc
	s.RemoteState = p.State
	s.remoteMinRx = p.RequiredMinRx
	s.remoteDesiredTx = p.DesiredMinTx
	s.remoteDetectMult = p.DetectMult
	if p.Final && s.polling {
		s.polling = false
	}
	if p.Poll {
		s.sendFinal = true
		s.nextTx = now // answer at once
	}
	before := s.State
	switch {
	case p.State == AdminDown:
		if s.State != Down {
			s.down(DiagNeighborDown)
		}
	case s.State == Down && p.State == Down:
		s.State = Init
	case s.State == Down && p.State == Init, s.State == Init && (p.State == Init || p.State == Up):
		s.up(now)
	case s.State == Up && p.State == Down:
		s.down(DiagNeighborDown)
	}
	if s.State != before && s.nextTx.After(now) {
		s.nextTx = now // tell the peer at once
	}
	return s.State != before
}

func (s *Session) up(now time.Time) {
	s.State, s.Diag = Up, DiagNone
	// The transmit interval drops from the slow one to the configured one: a Poll Sequence
	// tells the peer (section 6.8.3).
	s.polling = true
	s.nextTx = now
}

func (s *Session) down(d Diag) {
	s.State, s.Diag = Down, d
	s.polling = false
}

// Expire takes the session down when its detection time has passed without a packet; it reports
// whether it did.
func (s *Session) Expire(now time.Time) bool {
	dl := s.Deadline()
	if dl.IsZero() || now.Before(dl) {
		return false
	}
	s.down(DiagTimeExpired)
	s.RemoteDisc, s.RemoteState = 0, Down
	s.remoteMinRx = time.Microsecond
	s.heard = false
	s.nextTx = now
	return true
}

// SetAdminDown takes the session administratively down (it tells the peer, which must not take
// the path for failed) or back to Down.
func (s *Session) SetAdminDown(down bool, now time.Time) {
	if down {
		s.State, s.Diag, s.polling = AdminDown, DiagAdminDown, false
	} else if s.State == AdminDown {
		s.State, s.Diag = Down, DiagNone
	}
	s.nextTx = now
}

// NextTx is when the next packet is due (zero: nothing to send, a passive session that has not
// heard from its peer).
func (s *Session) NextTx() time.Time {
	if s.cfg.Passive && !s.heard && !s.sendFinal {
		return time.Time{}
	}
	return s.nextTx
}

// Send returns the packet to send now and schedules the next one, with jitter: 75 to 100% of the
// interval, 75 to 90% when the detect multiplier is 1 (section 6.8.7).
func (s *Session) Send(now time.Time) Packet {
	p := Packet{
		Version: 1, Diag: s.Diag, State: s.State, DetectMult: s.cfg.DetectMult,
		MyDisc: s.cfg.LocalDisc, YourDisc: s.RemoteDisc,
		DesiredMinTx: s.desiredTx(), RequiredMinRx: s.cfg.RequiredMinRx,
	}
	if s.sendFinal {
		p.Final, s.sendFinal = true, false
	} else if s.polling {
		p.Poll = true
	}
	span := 0.25
	if s.cfg.DetectMult == 1 {
		span = 0.15
	}
	factor := 1 - 0.25 + span*s.Jitter()
	s.nextTx = now.Add(time.Duration(float64(s.TxInterval()) * factor))
	return p
}
