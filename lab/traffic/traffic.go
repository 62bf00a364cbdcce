//go:build linux

// Package traffic is the lab's client side: a steady stream of requests from a client host to a
// target, each recorded with its time, outcome and which pod and node answered. The timeline it
// returns is what failover numbers are computed from.
package traffic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ironlb/ironlb/lab/netns"
)

// Stream sends one request every Interval from a lab host to Target (host:port): an HTTP GET on
// a new TCP connection, or a UDP datagram from a new socket (so that every request meets ARP,
// routing, conntrack and kube-proxy afresh), giving up on one after Timeout.
type Stream struct {
	Lab    netns.Lab
	From   string
	Target string
	UDP    bool // a datagram to the echo server instead of HTTP
	// Host is the HTTP Host header (an ingress controller routes by it); empty: Target's address.
	Host     string
	Interval time.Duration
	Timeout  time.Duration
	// OnResult, when set, sees each result as it comes (from the stream's goroutine).
	OnResult func(Result)
	// HostOf, when set, maps the node an echo server names to the lab's host (a Kind lab's
	// nodes are named by Kind: l2-worker is host worker).
	HostOf func(node string) string
}

// Run sends requests until ctx ends and returns them in order. Requests are sent from a thread in
// the From host's network namespace; nothing leaves from the host's own.
func (s Stream) Run(ctx context.Context) ([]Result, error) {
	if s.Interval <= 0 {
		s.Interval = 10 * time.Millisecond
	}
	if s.Timeout <= 0 {
		s.Timeout = 200 * time.Millisecond
	}
	var out []Result
	err := s.Lab.Do(s.From, func() error {
		tick := time.NewTicker(s.Interval)
		defer tick.Stop()
		for {
			r := s.once()
			out = append(out, r)
			if s.OnResult != nil {
				s.OnResult(r)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
	})
	if err != nil {
		return out, fmt.Errorf("traffic from %s: %w", s.From, err)
	}
	return out, nil
}

func (s Stream) once() Result {
	if s.UDP {
		return s.onceUDP()
	}
	r := Result{At: time.Now()}
	c, err := dialFresh("tcp", s.Target, s.Timeout)
	if err == nil {
		defer c.Close()
		_ = c.SetDeadline(r.At.Add(s.Timeout))
		_, err = fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", s.hostHeader())
		var body []byte
		if err == nil {
			body, err = io.ReadAll(c)
		}
		if err == nil {
			r.Pod, r.Node = parseReply(string(body))
			r.Node = s.hostOf(r.Node)
			if r.Pod == "" {
				err = fmt.Errorf("unexpected reply %q", firstLine(string(body)))
			}
		}
	}
	r.Latency = time.Since(r.At)
	r.OK = err == nil
	if err != nil {
		r.Err = err.Error() + lateNote(r.Latency, s.Timeout)
	}
	return r
}

// hostHeader is the request's Host: Host, else the target's address (bracketed when IPv6, as
// RFC 9110 writes it; the echo server ignores it either way).
func (s Stream) hostHeader() string {
	if s.Host != "" {
		return s.Host
	}
	host, _, err := net.SplitHostPort(s.Target)
	if err != nil {
		return s.Target
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// onceUDP sends one datagram and waits for the echo server's reply.
func (s Stream) onceUDP() Result {
	r := Result{At: time.Now()}
	c, err := dialFresh("udp", s.Target, s.Timeout)
	if err == nil {
		defer c.Close()
		_ = c.SetDeadline(r.At.Add(s.Timeout))
		if _, err = c.Write([]byte("ping\n")); err == nil {
			buf := make([]byte, 512)
			var n int
			if n, err = c.Read(buf); err == nil {
				r.Pod, r.Node = parseReply(string(buf[:n]))
				r.Node = s.hostOf(r.Node)
				if r.Pod == "" {
					err = fmt.Errorf("unexpected reply %q", firstLine(string(buf[:n])))
				}
			}
		}
	}
	r.Latency = time.Since(r.At)
	r.OK = err == nil
	if err != nil {
		r.Err = err.Error() + lateNote(r.Latency, s.Timeout)
	}
	return r
}

// lateNote says when a failed request came back well after its timeout: the client itself was
// not running (a starved machine), which a person reading the failure should know.
func lateNote(took, timeout time.Duration) string {
	if late := took - timeout; late > 30*time.Millisecond {
		return fmt.Sprintf(" (the client gave up %s after its %s timeout: it was not running)", late.Round(time.Millisecond), timeout)
	}
	return ""
}

// Source ports. A stream opens a connection every 10 ms, and the kernel picks source ports in a
// way that brings a port back to the same target after ~11,000 connections (under two minutes at
// that rate). A lab found why that matters: the first SYNs to a new Service address reach a node
// before its kube-proxy has the Service's rules, are routed without DNAT and leave a conntrack
// entry that lives 120 s (nf_conntrack_tcp_timeout_syn_sent); a later connection from the same
// port meets that entry, is not DNATed either and is lost (one failed request, long after the
// start, in a scenario about something else). So streams take source ports in turn over the
// whole ephemeral range themselves: a 4-tuple comes back only after 28,232 connections (over
// four minutes at 100 per second), when such an entry is long gone.
const (
	firstPort = 32768 // Linux's default ip_local_port_range
	lastPort  = 60999
)

// portCycle hands out every port of [first, last] in turn, from a random start.
type portCycle struct {
	mu          sync.Mutex
	first, last int
	next        int
}

func newPortCycle(first, last int) *portCycle {
	return &portCycle{first: first, last: last, next: first + rand.IntN(last-first+1)}
}

func (c *portCycle) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.next
	c.next++
	if c.next > c.last {
		c.next = c.first
	}
	return p
}

// sourcePorts is shared by every stream of the process (streams from one client to one target
// would otherwise reuse each other's ports sooner).
var sourcePorts = newPortCycle(firstPort, lastPort)

// dialFresh connects from the next source port of the cycle; a port in use is skipped.
func dialFresh(network, target string, timeout time.Duration) (net.Conn, error) {
	var err error
	for range 16 {
		port := sourcePorts.take()
		d := net.Dialer{Timeout: timeout}
		if network == "udp" {
			d.LocalAddr = &net.UDPAddr{Port: port}
		} else {
			d.LocalAddr = &net.TCPAddr{Port: port}
		}
		var c net.Conn
		if c, err = d.Dial(network, target); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			return c, withoutSource(err)
		}
	}
	return nil, withoutSource(err)
}

// withoutSource drops the local address from a dial error ("dial tcp :52900->10.0.0.1:80: ..."
// becomes "dial tcp 10.0.0.1:80: ..."), so that failures of one kind read alike and are grouped
// in timelines and reports as before streams chose their ports.
func withoutSource(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		op.Source = nil
	}
	return err
}

func (s Stream) hostOf(node string) string {
	if s.HostOf == nil || node == "" {
		return node
	}
	return s.HostOf(node)
}

// Reply is what the lab's echo servers answer (the node agent's for pods of images the lab maps
// to nothing, `ironlab __echo` in a Kind lab): the pod, the node and the pod's addresses, which
// parseReply reads back.
func Reply(pod, node, ip, ip6 string) string {
	if ip6 != "" {
		return fmt.Sprintf("pod=%s node=%s ip=%s ip6=%s\n", pod, node, ip, ip6)
	}
	return fmt.Sprintf("pod=%s node=%s ip=%s\n", pod, node, ip)
}

// EchoHTTP answers every HTTP request with reply; EchoUDP answers every datagram on pc with
// it until pc is closed. The lab's echo servers are made of them.
func EchoHTTP(reply string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, reply) })
}

// EchoUDP: see EchoHTTP.
func EchoUDP(pc net.PacketConn, reply string) {
	buf := make([]byte, 1500)
	for {
		_, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		_, _ = pc.WriteTo([]byte(reply), from)
	}
}

// parseReply reads pod= and node= from an echo server's reply.
func parseReply(s string) (pod, node string) {
	if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
		s = s[i+4:]
	}
	for _, f := range strings.Fields(s) {
		if v, ok := strings.CutPrefix(f, "pod="); ok {
			pod = v
		} else if v, ok := strings.CutPrefix(f, "node="); ok {
			node = v
		}
	}
	return pod, node
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(l)
}
