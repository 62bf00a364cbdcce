package bfd

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

func pair(passiveB bool) (*Session, *Session) {
	a := NewSession(Config{LocalDisc: 1, DesiredMinTx: 100 * time.Millisecond, RequiredMinRx: 100 * time.Millisecond, DetectMult: 3}, t0)
	b := NewSession(Config{LocalDisc: 2, DesiredMinTx: 300 * time.Millisecond, RequiredMinRx: 300 * time.Millisecond, DetectMult: 3, Passive: passiveB}, t0)
	a.Jitter, b.Jitter = func() float64 { return 1 }, func() float64 { return 1 }
	return a, b
}

// run exchanges packets between two sessions on a simulated clock (each packet arrives after
// 1 ms) until until, and returns the time both were Up (zero if never).
func run(a, b *Session, from, until time.Time, drop func(from *Session, at time.Time) bool) time.Time {
	var bothUp time.Time
	now := from
	for now.Before(until) {
		for _, pair := range [][2]*Session{{a, b}, {b, a}} {
			s, peer := pair[0], pair[1]
			s.Expire(now)
			if nt := s.NextTx(); !nt.IsZero() && !nt.After(now) {
				p := s.Send(now)
				if drop == nil || !drop(s, now) {
					q, err := Parse(p.Marshal())
					if err != nil {
						panic(err)
					}
					peer.Receive(q, now.Add(time.Millisecond))
				}
			}
		}
		if bothUp.IsZero() && a.State == Up && b.State == Up {
			bothUp = now
		}
		now = now.Add(time.Millisecond)
	}
	return bothUp
}

func TestThreeWayHandshakeAndTimers(t *testing.T) {
	a, b := pair(false)
	up := run(a, b, t0, t0.Add(5*time.Second), nil)
	if up.IsZero() {
		t.Fatalf("sessions never came up: %s/%s", a.State, b.State)
	}
	if up.Sub(t0) > 10*time.Millisecond {
		t.Errorf("handshake took %s; both start at once, so it needs only a few packets", up.Sub(t0))
	}
	if a.RemoteDisc != 2 || b.RemoteDisc != 1 {
		t.Errorf("discriminators: %d %d", a.RemoteDisc, b.RemoteDisc)
	}
	// Once Up, each sends at max(own desired, peer's required): a every 300 ms (b cannot take
	// more), b every 300 ms; the detection time is the peer's multiplier times the slower of
	// the peer's desired and own required.
	if a.TxInterval() != 300*time.Millisecond || b.TxInterval() != 300*time.Millisecond {
		t.Errorf("tx intervals %s %s", a.TxInterval(), b.TxInterval())
	}
	if a.DetectionTime() != 900*time.Millisecond || b.DetectionTime() != 900*time.Millisecond {
		t.Errorf("detection times %s %s", a.DetectionTime(), b.DetectionTime())
	}
	if a.polling || b.polling {
		t.Error("the poll sequences that announce the fast timers should have ended with a Final")
	}
}

func TestSlowWhileNotUp(t *testing.T) {
	a, _ := pair(false)
	p := a.Send(t0)
	if p.DesiredMinTx != SlowTxInterval || a.TxInterval() != SlowTxInterval {
		t.Errorf("a Down session sends every %s advertising %s; want 1s", a.TxInterval(), p.DesiredMinTx)
	}
	if p.State != Down || p.YourDisc != 0 {
		t.Errorf("first packet %+v", p)
	}
}

func TestDetectionTimeExpires(t *testing.T) {
	a, b := pair(false)
	up := run(a, b, t0, t0.Add(2*time.Second), nil)
	if up.IsZero() {
		t.Fatal("not up")
	}
	// From 2 s on, nothing from b reaches a.
	cut := t0.Add(2 * time.Second)
	var downAt time.Time
	now := cut
	for ; now.Before(cut.Add(3 * time.Second)); now = now.Add(time.Millisecond) {
		if a.Expire(now) {
			downAt = now
			break
		}
	}
	if downAt.IsZero() || a.State != Down || a.Diag != DiagTimeExpired {
		t.Fatalf("a did not go down: %s %s", a.State, a.Diag)
	}
	// The last packet from b came at most one interval before the cut; detection is 900 ms.
	if d := downAt.Sub(cut); d > 900*time.Millisecond || d < 900*time.Millisecond-300*time.Millisecond {
		t.Errorf("down %s after the cut; want within the 900 ms detection time", d)
	}
	if a.RemoteDisc != 0 {
		t.Error("the remote discriminator is forgotten")
	}
	// b hears a's Down and follows (neighbor signaled session down), then both come up again.
	run(a, b, now, now.Add(3*time.Second), nil)
	if a.State != Up || b.State != Up {
		t.Errorf("after the path returns: %s %s", a.State, b.State)
	}
}

func TestNeighborDownAndAdminDown(t *testing.T) {
	a, b := pair(false)
	run(a, b, t0, t0.Add(time.Second), nil)
	now := t0.Add(time.Second)
	b.SetAdminDown(true, now)
	run(a, b, now, now.Add(time.Second), nil)
	if a.State != Down || a.Diag != DiagNeighborDown {
		t.Errorf("a peer going AdminDown: a is %s (%s), want Down (neighbor signaled session down)", a.State, a.Diag)
	}
	if b.State != AdminDown {
		t.Errorf("b %s", b.State)
	}
	// An AdminDown session ignores what it receives.
	if b.Receive(Packet{Version: 1, State: Up, DetectMult: 3, MyDisc: 1, YourDisc: 2}, now) {
		t.Error("AdminDown changed on receive")
	}
	b.SetAdminDown(false, now)
	run(a, b, now.Add(time.Second), now.Add(4*time.Second), nil)
	if a.State != Up || b.State != Up {
		t.Errorf("after admin up: %s %s", a.State, b.State)
	}
}

func TestPassiveWaitsForPeer(t *testing.T) {
	_, b := pair(true)
	if !b.NextTx().IsZero() {
		t.Error("a passive session sends nothing before it hears from its peer")
	}
	b.Receive(Packet{Version: 1, State: Down, DetectMult: 3, MyDisc: 1, DesiredMinTx: time.Second, RequiredMinRx: time.Second}, t0)
	if b.NextTx().IsZero() || b.State != Init {
		t.Errorf("after the peer spoke: next %v, state %s", b.NextTx(), b.State)
	}
	a, b := pair(true)
	if run(a, b, t0, t0.Add(3*time.Second), nil).IsZero() {
		t.Error("an active and a passive end must come up")
	}
}

func TestPollGetsOneFinal(t *testing.T) {
	a, _ := pair(false)
	a.Receive(Packet{Version: 1, State: Down, Poll: true, DetectMult: 3, MyDisc: 5, DesiredMinTx: time.Second, RequiredMinRx: time.Second}, t0)
	p := a.Send(t0)
	if !p.Final || p.Poll {
		t.Errorf("answer to a poll: %+v", p)
	}
	if p2 := a.Send(t0.Add(time.Second)); p2.Final {
		t.Error("only one Final per Poll")
	}
}

func TestJitter(t *testing.T) {
	for _, mult := range []uint8{1, 3} {
		s := NewSession(Config{LocalDisc: 1, DesiredMinTx: time.Second, RequiredMinRx: time.Second, DetectMult: mult}, t0)
		for _, j := range []float64{0, 0.5, 0.999} {
			s.Jitter = func() float64 { return j }
			s.Send(t0)
			d := s.NextTx().Sub(t0)
			hi := time.Second
			if mult == 1 {
				hi = 900 * time.Millisecond
			}
			if d < 750*time.Millisecond || d > hi {
				t.Errorf("mult %d jitter %.3f: next in %s, want 750ms..%s", mult, j, d, hi)
			}
		}
	}
}
