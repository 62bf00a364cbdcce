package members

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/hashicorp/memberlist"
)

// cuttable wraps a member's transport: while cut, nothing it sends to the listed addresses
// leaves (packets are dropped, connections refused), as when a link or a firewall fails one way.
// Connections the peers open to it are closed at once while any cut is on: its answers on them
// would be lost too (on a real link a TCP handshake needs both ways), and memberlist's TCP
// fallback ping, answered on such a connection, must fail as it would there. The tests run two
// members, so "any cut" is "a cut to the one peer".
type cuttable struct {
	memberlist.Transport
	mu      sync.Mutex
	cut     map[string]bool // "host:port" of the peers it cannot reach
	once    sync.Once
	streams chan net.Conn
}

func (c *cuttable) anyCut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, on := range c.cut {
		if on {
			return true
		}
	}
	return false
}

func (c *cuttable) StreamCh() <-chan net.Conn {
	c.once.Do(func() {
		c.streams = make(chan net.Conn)
		go func() {
			for conn := range c.Transport.StreamCh() {
				if c.anyCut() {
					conn.Close()
					continue
				}
				c.streams <- conn
			}
		}()
	})
	return c.streams
}

func (c *cuttable) set(addr string, cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut[addr] = cut
}

func (c *cuttable) blocked(addr string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cut[addr]
}

func (c *cuttable) WriteTo(b []byte, addr string) (time.Time, error) {
	if c.blocked(addr) {
		return time.Now(), nil // lost on the way
	}
	return c.Transport.WriteTo(b, addr)
}

func (c *cuttable) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if c.blocked(addr) {
		return nil, errors.New("cut")
	}
	return c.Transport.DialTimeout(addr, timeout)
}

func startCuttable(t *testing.T, name string, port int) (*Members, *cuttable) {
	t.Helper()
	var c *cuttable
	m, err := Start(Config{Node: name, BindAddr: "127.0.0.1", Port: port, SecretKey: []byte("shared-secret"), Log: testr.New(t),
		wrap: func(tr memberlist.Transport) memberlist.Transport {
			c = &cuttable{Transport: tr, cut: map[string]bool{}}
			return c
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m, c
}

func heals(m *Members) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.heals
}

func waitHealed(t *testing.T, m *Members, within time.Duration) {
	t.Helper()
	select {
	case <-m.Healed():
	case <-time.After(within):
		t.Fatalf("%s: no heal signalled within %s", m.name, within)
	}
}

func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// Two speakers are cut from each other both ways: each declares the other dead (and would own
// all the addresses). When the link comes back (and the speakers' join loop finds the other
// again), both signal a heal: each owner must announce its addresses again, since the segment
// may have learnt the other's MAC address for them meanwhile.
func TestPartitionHealIsSignalled(t *testing.T) {
	a, ca := startCuttable(t, "a", 17956)
	b, cb := startCuttable(t, "b", 17957)
	if _, err := b.Join([]string{"127.0.0.1:17956"}); err != nil {
		t.Fatal(err)
	}
	waitAlive(t, a, 2, 5*time.Second)
	waitAlive(t, b, 2, 5*time.Second)
	if heals(a) != 0 || heals(b) != 0 {
		t.Fatalf("a first join is no heal: a %d, b %d", heals(a), heals(b))
	}

	ca.set("127.0.0.1:17957", true)
	cb.set("127.0.0.1:17956", true)
	waitAlive(t, a, 1, 10*time.Second)
	waitAlive(t, b, 1, 10*time.Second)
	drain(a.Healed())
	drain(b.Healed())

	ca.set("127.0.0.1:17957", false)
	cb.set("127.0.0.1:17956", false)
	if _, err := b.Join([]string{"127.0.0.1:17956"}); err != nil { // the speaker's join loop does this
		t.Fatal(err)
	}
	waitAlive(t, a, 2, 10*time.Second)
	waitAlive(t, b, 2, 10*time.Second)
	waitHealed(t, a, 2*time.Second)
	waitHealed(t, b, 2*time.Second)
}

// b's packets to a are lost (a one-way failure): a suspects b and tells it, and b refutes the
// suspicion and signals a heal at once (a may take b's addresses over while it doubts b). Nothing
// else can signal it here: b hears from a all along, and a cannot refute anything b says, since
// b's messages never reach it.
func TestRefutationIsAHeal(t *testing.T) {
	a, _ := startCuttable(t, "a", 17958)
	b, cb := startCuttable(t, "b", 17959)
	if _, err := b.Join([]string{"127.0.0.1:17958"}); err != nil {
		t.Fatal(err)
	}
	waitAlive(t, a, 2, 5*time.Second)
	waitAlive(t, b, 2, 5*time.Second)

	cb.set("127.0.0.1:17958", true)
	waitHealed(t, b, 10*time.Second)
	if !b.Alive()["b"] {
		t.Error("b does not count itself alive")
	}
}

// A member that leaves politely and comes back is no heal: nothing moved.
func TestPoliteReturnIsNoHeal(t *testing.T) {
	a, _ := startCuttable(t, "a", 17960)
	a.leftGrace = 5 * time.Second
	b := start(t, "b", 17961, "shared-secret")
	if _, err := b.Join([]string{"127.0.0.1:17960"}); err != nil {
		t.Fatal(err)
	}
	waitAlive(t, a, 2, 5*time.Second)
	if err := b.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	b = start(t, "b", 17961, "shared-secret")
	defer func() { _ = b.Leave(100 * time.Millisecond) }()
	if _, err := b.Join([]string{"127.0.0.1:17960"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if n := heals(a); n != 0 {
		t.Errorf("a polite restart counted as %d heal(s)", n)
	}
}
