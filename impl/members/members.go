// Package members is the speakers' liveness: a gossip membership (hashicorp/memberlist, SWIM with
// Lifeguard) among the speakers of a cluster, encrypted with a shared secret, tuned to agree on a
// dead node in a few hundred milliseconds on a LAN.
//
// The trade-off: a node is declared dead after it misses a direct probe (ProbeTimeout), indirect
// probes through IndirectChecks other members, and a suspicion period of SuspicionMult x
// ProbeInterval (shrinking as other members confirm the suspicion). Shorter values detect faster
// but make a busy or briefly partitioned node look dead: its addresses then move away and back
// (each move costs the clients a gratuitous ARP round, no lost connections on a healthy node).
// The defaults (probe every 100 ms, 50 ms timeout, suspicion 3 x 100 ms) detect a hard failure in
// about 300-500 ms and tolerate a node that stalls for less than about 300 ms.
package members

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/hashicorp/memberlist"
)

// Config configures the membership of one speaker.
type Config struct {
	Node     string // this node's name (the member name)
	BindAddr string // the node's address
	Port     int    // default 7946
	// SecretKey encrypts and authenticates the gossip (16, 24 or 32 bytes; longer keys are
	// hashed down). Empty disables encryption (not recommended).
	SecretKey []byte

	ProbeInterval time.Duration // default 100ms
	ProbeTimeout  time.Duration // default 50ms
	SuspicionMult int           // default 3
	Log           logr.Logger
}

// Members is a running membership.
type Members struct {
	ml      *memberlist.Memberlist
	changes chan struct{}
	mu      sync.Mutex
	log     logr.Logger
}

// Start joins nobody yet: it listens and waits for Join.
func Start(c Config) (*Members, error) {
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.Node
	mc.BindAddr = c.BindAddr
	mc.AdvertiseAddr = c.BindAddr
	mc.BindPort, mc.AdvertisePort = c.Port, c.Port
	if c.Port == 0 {
		mc.BindPort, mc.AdvertisePort = 7946, 7946
	}
	mc.ProbeInterval = or(c.ProbeInterval, 100*time.Millisecond)
	mc.ProbeTimeout = or(c.ProbeTimeout, 50*time.Millisecond)
	mc.SuspicionMult = 3
	if c.SuspicionMult > 0 {
		mc.SuspicionMult = c.SuspicionMult
	}
	mc.SuspicionMaxTimeoutMult = 2
	mc.GossipInterval = 50 * time.Millisecond
	mc.GossipToTheDeadTime = 2 * time.Second
	mc.PushPullInterval = 5 * time.Second
	mc.TCPTimeout = 2 * time.Second
	mc.DeadNodeReclaimTime = time.Second // a restarted speaker rejoins under its name at once
	if len(c.SecretKey) > 0 {
		mc.SecretKey = normaliseKey(c.SecretKey)
	}
	m := &Members{changes: make(chan struct{}, 1), log: c.Log}
	mc.Events = m
	mc.Logger = log.New(logWriter{c.Log}, "", 0)
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("memberlist on %s: %w", net.JoinHostPort(c.BindAddr, strconv.Itoa(mc.BindPort)), err)
	}
	m.ml = ml
	return m, nil
}

// normaliseKey turns any secret into a valid AES key (memberlist wants 16, 24 or 32 bytes): a
// key of such a length is used as it is, any other is hashed with SHA-256.
func normaliseKey(k []byte) []byte {
	switch len(k) {
	case 16, 24, 32:
		return k
	}
	sum := sha256.Sum256(k)
	return sum[:]
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Join contacts the given addresses (other speakers) and returns how many answered.
func (m *Members) Join(addrs []string) (int, error) {
	if len(addrs) == 0 {
		return 0, nil
	}
	return m.ml.Join(addrs)
}

// Alive returns the names of the members that are alive, this node included.
func (m *Members) Alive() map[string]bool {
	out := map[string]bool{}
	for _, n := range m.ml.Members() {
		if n.State == memberlist.StateAlive {
			out[n.Name] = true
		}
	}
	return out
}

// Changes receives (coalesced) whenever a member joins, leaves, dies or changes.
func (m *Members) Changes() <-chan struct{} { return m.changes }

// Leave tells the others this node is going (they stop counting on it at once), then stops.
func (m *Members) Leave(timeout time.Duration) error {
	err := m.ml.Leave(timeout)
	return errors.Join(err, m.ml.Shutdown())
}

func (m *Members) notify(what string, n *memberlist.Node) {
	m.log.Info("member "+what, "member", n.Name, "address", n.Addr.String())
	select {
	case m.changes <- struct{}{}:
	default:
	}
}

// NotifyJoin, NotifyLeave and NotifyUpdate implement memberlist.EventDelegate.
func (m *Members) NotifyJoin(n *memberlist.Node)   { m.notify("joined", n) }
func (m *Members) NotifyLeave(n *memberlist.Node)  { m.notify("left or died", n) }
func (m *Members) NotifyUpdate(n *memberlist.Node) { m.notify("updated", n) }

// logWriter sends memberlist's own log lines to the structured logger.
type logWriter struct{ log logr.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.V(1).Info(string(p))
	return len(p), nil
}

var _ io.Writer = logWriter{}
