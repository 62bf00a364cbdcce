// Package members is the speakers' liveness: a gossip membership (hashicorp/memberlist, SWIM with
// Lifeguard) among the speakers of a cluster, encrypted with a shared secret, tuned to agree on a
// dead node in a few hundred milliseconds on a LAN.
//
// The trade-off: a node is declared dead after it misses a direct probe (ProbeTimeout), indirect
// probes through IndirectChecks other members, and a suspicion period of SuspicionMult x
// ProbeInterval (shrinking as other members confirm the suspicion). Shorter values detect faster
// but make a busy or briefly partitioned node look dead: its addresses then move away and back
// (each move costs the clients a gratuitous ARP round, no lost connections on a healthy node).
// The defaults (probe every 50 ms, 25 ms timeout, suspicion 2 x 50 ms, at most twice that without
// confirmations) detect a hard failure in about 200-300 ms and tolerate a node that stalls for
// less than about 150 ms; Lifeguard lengthens the timeouts of a member that sees itself slow.
package members

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

	ProbeInterval time.Duration // default 50ms
	ProbeTimeout  time.Duration // default 25ms
	SuspicionMult int           // default 2
	// LeftGrace is how long a member that left politely (a speaker restarting) still counts as
	// alive: when it is back within it, nothing moves, so clients see no change of MAC address
	// (each change risks the connections in flight). Its node keeps serving meanwhile; a member
	// that dies is not given this grace.
	LeftGrace time.Duration
	Log       logr.Logger

	// wrap, in tests, wraps the network transport (to cut and heal links).
	wrap func(memberlist.Transport) memberlist.Transport
}

// Members is a running membership.
type Members struct {
	ml        *memberlist.Memberlist
	changes   chan struct{}
	healed    chan struct{}
	name      string
	leftGrace time.Duration
	mu        sync.Mutex
	left      map[string]time.Time // members that left politely, and when
	leaving   map[string]bool      // members that announced they are leaving
	dead      map[string]bool      // members declared dead (not left politely) and not back yet
	heals     int                  // heals seen: members back from the dead, refutations of us
	meta      []byte               // this member's metadata: "leaving" once Leave started
	log       logr.Logger
	// closed: shut down. memberlist's suspicion timers still fire after its Shutdown; what they
	// report about the others is not news any more, and is neither logged nor acted on.
	closed atomic.Bool
}

// metaLeaving is the metadata a member gossips before it leaves politely (memberlist itself does
// not tell a leave from a death to the others' event handlers).
const metaLeaving = "leaving"

// NodeMeta, NotifyMsg, GetBroadcasts, LocalState and MergeRemoteState implement
// memberlist.Delegate: only the metadata is used.
func (m *Members) NodeMeta(int) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.meta
}
func (m *Members) NotifyMsg([]byte)                {}
func (m *Members) GetBroadcasts(int, int) [][]byte { return nil }
func (m *Members) LocalState(bool) []byte          { return nil }
func (m *Members) MergeRemoteState([]byte, bool)   {}

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
	mc.ProbeInterval = or(c.ProbeInterval, 50*time.Millisecond)
	mc.ProbeTimeout = or(c.ProbeTimeout, 25*time.Millisecond)
	mc.SuspicionMult = 2
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
	m := &Members{changes: make(chan struct{}, 1), healed: make(chan struct{}, 1), name: c.Node, log: c.Log, leftGrace: c.LeftGrace,
		left: map[string]time.Time{}, leaving: map[string]bool{}, dead: map[string]bool{}}
	mc.Events = m
	mc.Delegate = m
	mc.Logger = log.New(logWriter{log: c.Log, refuted: m.refuted, closed: &m.closed}, "", 0)
	if c.wrap != nil {
		t, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{mc.BindAddr}, BindPort: mc.BindPort, Logger: mc.Logger})
		if err != nil {
			return nil, fmt.Errorf("memberlist transport: %w", err)
		}
		mc.Transport = c.wrap(t)
	}
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

// Alive returns the names of the members that are alive, this node included, and of those that
// left politely less than LeftGrace ago.
func (m *Members) Alive() map[string]bool {
	out := map[string]bool{}
	for _, n := range m.ml.Members() {
		if n.State == memberlist.StateAlive {
			out[n.Name] = true
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, at := range m.left {
		if time.Since(at) < m.leftGrace {
			out[name] = true
		} else {
			delete(m.left, name)
		}
	}
	return out
}

// Changes receives (coalesced) whenever a member joins, leaves, dies or changes.
func (m *Members) Changes() <-chan struct{} { return m.changes }

// Healed receives (coalesced) when the segment may have learnt a wrong MAC address for an
// address this node keeps owning, so that owners should announce their addresses again:
//   - a member declared dead is back (a partition healed, or a killed speaker restarted): while
//     the others counted it dead, it may have owned and announced some of their addresses;
//   - this member refuted a suspicion or a death others gossiped about it: they may have taken
//     its addresses over and announced them meanwhile.
//
// In both cases the owners' sets of addresses may not change at all, so no takeover announces
// them. A member that left politely and comes back within LeftGrace is not a heal (nothing moved).
func (m *Members) Healed() <-chan struct{} { return m.healed }

// heal records a heal and signals it.
func (m *Members) heal(why, member string) {
	m.mu.Lock()
	m.heals++
	m.mu.Unlock()
	m.log.Info("membership healed: owners announce their addresses again", "why", why, "member", member)
	select {
	case m.healed <- struct{}{}:
	default:
	}
}

// refuted is called when memberlist refutes a suspicion, a death or a conflicting alive message
// about this member (it gossips a higher incarnation). memberlist v0.5 reports this in its log
// alone (no delegate sees it, and the incarnation number is not exported).
// It runs under memberlist's lock: it must not call memberlist.
func (m *Members) refuted(line string) { m.heal("refuted: "+line, m.name) }

// Leave tells the others this node is going, politely (they give it LeftGrace to come back),
// then stops.
func (m *Members) Leave(timeout time.Duration) error {
	m.mu.Lock()
	m.meta = []byte(metaLeaving)
	m.mu.Unlock()
	uerr := m.ml.UpdateNode(timeout)
	err := m.ml.Leave(timeout)
	return errors.Join(uerr, err, m.Shutdown())
}

// Shutdown stops the member at once, without telling the others (as a crash would).
func (m *Members) Shutdown() error {
	m.closed.Store(true)
	return m.ml.Shutdown()
}

func (m *Members) notify(what string, n *memberlist.Node) {
	if m.closed.Load() {
		return
	}
	m.log.Info("member "+what, "member", n.Name, "address", n.Addr.String())
	m.kick()
}

func (m *Members) kick() {
	select {
	case m.changes <- struct{}{}:
	default:
	}
}

// NotifyJoin, NotifyLeave and NotifyUpdate implement memberlist.EventDelegate.
func (m *Members) NotifyJoin(n *memberlist.Node) {
	m.mu.Lock()
	delete(m.left, n.Name)
	m.leaving[n.Name] = string(n.Meta) == metaLeaving
	back := m.dead[n.Name]
	delete(m.dead, n.Name)
	m.mu.Unlock()
	m.notify("joined", n)
	if back {
		m.heal("member back after it was declared dead", n.Name)
	}
}

func (m *Members) NotifyLeave(n *memberlist.Node) {
	m.mu.Lock()
	polite := m.leaving[n.Name] || string(n.Meta) == metaLeaving
	delete(m.leaving, n.Name)
	if polite && m.leftGrace > 0 {
		m.left[n.Name] = time.Now()
	}
	m.dead[n.Name] = !polite
	m.mu.Unlock()
	if polite && m.leftGrace > 0 {
		// Look again when the grace is over.
		time.AfterFunc(m.leftGrace, m.kick)
		m.notify(fmt.Sprintf("left (counted alive for %s, in case it comes back)", m.leftGrace), n)
		return
	}
	m.notify("died", n)
}

func (m *Members) NotifyUpdate(n *memberlist.Node) {
	m.mu.Lock()
	m.leaving[n.Name] = string(n.Meta) == metaLeaving
	m.mu.Unlock()
	m.notify("updated", n)
}

// logWriter sends memberlist's own log lines to the structured logger, and its refutations to
// refuted.
type logWriter struct {
	log     logr.Logger
	refuted func(line string)
	closed  *atomic.Bool // the member was shut down: nothing more to say
}

// refuteMarker starts memberlist's log line for each of its refutations ("Refuting a suspect
// message", "a dead message", "an alive message"); TestRefutationIsAHeal fails if it changes.
const refuteMarker = "memberlist: Refuting "

func (w logWriter) Write(p []byte) (int, error) {
	if w.closed != nil && w.closed.Load() {
		return len(p), nil
	}
	line := strings.TrimSpace(string(p))
	w.log.V(1).Info(line)
	if i := strings.Index(line, refuteMarker); i >= 0 && w.refuted != nil {
		w.refuted(line[i+len("memberlist: "):])
	}
	return len(p), nil
}

var _ io.Writer = logWriter{}
