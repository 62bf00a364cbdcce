// Package bfd is Bidirectional Forwarding Detection (RFC 5880, single hop over IPv4 and IPv6 per
// RFC 5881), asynchronous mode: what lets a speaker and a router notice within a few hundred
// milliseconds that the path between them is gone, instead of waiting out a BGP hold timer.
//
// packet.go and session.go are pure (no sockets): the control packet's wire format and the
// session state machine driven by explicit times, so both are table-tested and fuzzed. The
// reception rules (demux.go, which packet goes to which session) are pure as well; the transport
// (UDP port 3784 of the sessions' local addresses, TTL 255) lives in server_linux.go. Echo mode
// and authentication are not implemented: packets that ask for authentication are discarded, as
// RFC 5880 requires of a system that does not support it.
package bfd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// State is a session state (RFC 5880 section 4.1).
type State uint8

// Session states.
const (
	AdminDown State = 0
	Down      State = 1
	Init      State = 2
	Up        State = 3
)

func (s State) String() string {
	switch s {
	case AdminDown:
		return "AdminDown"
	case Down:
		return "Down"
	case Init:
		return "Init"
	case Up:
		return "Up"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Diag says why a session last left Up (RFC 5880 section 4.1).
type Diag uint8

// Diagnostic codes.
const (
	DiagNone              Diag = 0
	DiagTimeExpired       Diag = 1 // Control Detection Time Expired
	DiagEchoFailed        Diag = 2
	DiagNeighborDown      Diag = 3 // Neighbor Signaled Session Down
	DiagForwardingReset   Diag = 4
	DiagPathDown          Diag = 5
	DiagConcatPathDown    Diag = 6
	DiagAdminDown         Diag = 7
	DiagReverseConcatDown Diag = 8
)

func (d Diag) String() string {
	names := []string{"none", "control detection time expired", "echo function failed", "neighbor signaled session down",
		"forwarding plane reset", "path down", "concatenated path down", "administratively down", "reverse concatenated path down"}
	if int(d) < len(names) {
		return names[d]
	}
	return fmt.Sprintf("diag %d", uint8(d))
}

// Packet is a BFD control packet.
type Packet struct {
	Version     uint8
	Diag        Diag
	State       State
	Poll        bool
	Final       bool
	CPIndep     bool // control plane independent
	AuthPresent bool
	Demand      bool
	Multipoint  bool
	DetectMult  uint8
	MyDisc      uint32
	YourDisc    uint32
	// Intervals, on the wire in microseconds.
	DesiredMinTx      time.Duration
	RequiredMinRx     time.Duration
	RequiredMinEchoRx time.Duration
}

// HeaderLen is the length of a control packet without authentication.
const HeaderLen = 24

// Errors of Parse: each names the rule of RFC 5880 section 6.8.6 the packet broke.
var (
	ErrShort        = errors.New("bfd: packet shorter than 24 bytes")
	ErrVersion      = errors.New("bfd: version is not 1")
	ErrLength       = errors.New("bfd: length field is less than 24 or more than the datagram")
	ErrDetectMult   = errors.New("bfd: detect multiplier is zero")
	ErrMultipoint   = errors.New("bfd: multipoint bit set")
	ErrMyDisc       = errors.New("bfd: my discriminator is zero")
	ErrYourDisc     = errors.New("bfd: your discriminator is zero in state Init or Up")
	ErrAuth         = errors.New("bfd: authentication requested (not supported)")
	ErrPollAndFinal = errors.New("bfd: poll and final both set")
)

// Parse decodes and validates a control packet (RFC 5880 section 6.8.6, the checks that need no
// session). It never panics, whatever the bytes.
func Parse(b []byte) (Packet, error) {
	var p Packet
	if len(b) < HeaderLen {
		return p, ErrShort
	}
	p.Version = b[0] >> 5
	p.Diag = Diag(b[0] & 0x1f)
	p.State = State(b[1] >> 6)
	p.Poll = b[1]&0x20 != 0
	p.Final = b[1]&0x10 != 0
	p.CPIndep = b[1]&0x08 != 0
	p.AuthPresent = b[1]&0x04 != 0
	p.Demand = b[1]&0x02 != 0
	p.Multipoint = b[1]&0x01 != 0
	p.DetectMult = b[2]
	length := int(b[3])
	p.MyDisc = binary.BigEndian.Uint32(b[4:])
	p.YourDisc = binary.BigEndian.Uint32(b[8:])
	p.DesiredMinTx = time.Duration(binary.BigEndian.Uint32(b[12:])) * time.Microsecond
	p.RequiredMinRx = time.Duration(binary.BigEndian.Uint32(b[16:])) * time.Microsecond
	p.RequiredMinEchoRx = time.Duration(binary.BigEndian.Uint32(b[20:])) * time.Microsecond
	switch {
	case p.Version != 1:
		return p, ErrVersion
	case length < HeaderLen || length > len(b):
		return p, ErrLength
	case p.AuthPresent:
		return p, ErrAuth
	case p.DetectMult == 0:
		return p, ErrDetectMult
	case p.Multipoint:
		return p, ErrMultipoint
	case p.MyDisc == 0:
		return p, ErrMyDisc
	case p.YourDisc == 0 && (p.State == Init || p.State == Up):
		return p, ErrYourDisc
	case p.Poll && p.Final:
		return p, ErrPollAndFinal
	}
	return p, nil
}

// Marshal encodes a control packet (version 1, no authentication).
func (p Packet) Marshal() []byte {
	b := make([]byte, HeaderLen)
	return p.AppendTo(b[:0])
}

// AppendTo appends the encoded packet to b.
func (p Packet) AppendTo(b []byte) []byte {
	flags := byte(p.State) << 6
	for _, f := range []struct {
		set bool
		bit byte
	}{{p.Poll, 0x20}, {p.Final, 0x10}, {p.CPIndep, 0x08}, {p.AuthPresent, 0x04}, {p.Demand, 0x02}, {p.Multipoint, 0x01}} {
		if f.set {
			flags |= f.bit
		}
	}
	b = append(b, 1<<5|byte(p.Diag)&0x1f, flags, p.DetectMult, HeaderLen)
	b = binary.BigEndian.AppendUint32(b, p.MyDisc)
	b = binary.BigEndian.AppendUint32(b, p.YourDisc)
	b = binary.BigEndian.AppendUint32(b, micros(p.DesiredMinTx))
	b = binary.BigEndian.AppendUint32(b, micros(p.RequiredMinRx))
	return binary.BigEndian.AppendUint32(b, micros(p.RequiredMinEchoRx))
}

func micros(d time.Duration) uint32 {
	us := d / time.Microsecond
	if us < 0 {
		return 0
	}
	if us > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(us)
}
