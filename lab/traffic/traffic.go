//go:build linux

// Package traffic is the lab's client side: a steady stream of requests from a client host to a
// target, each recorded with its time, outcome and which pod and node answered. The timeline it
// returns is what failover numbers are computed from.
package traffic

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/ironlb/ironlb/lab/netns"
)

// Stream sends one request every Interval from a lab host to Target (host:port): an HTTP GET on
// a new TCP connection, or a UDP datagram from a new socket (so that every request meets ARP,
// routing, conntrack and kube-proxy afresh), giving up on one after Timeout.
type Stream struct {
	Lab      netns.Lab
	From     string
	Target   string
	UDP      bool // a datagram to the echo server instead of HTTP
	Interval time.Duration
	Timeout  time.Duration
	// OnResult, when set, sees each result as it comes (from the stream's goroutine).
	OnResult func(Result)
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
	d := net.Dialer{Timeout: s.Timeout}
	c, err := d.Dial("tcp", s.Target)
	if err == nil {
		defer c.Close()
		_ = c.SetDeadline(r.At.Add(s.Timeout))
		host, _, _ := net.SplitHostPort(s.Target)
		_, err = fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", host)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(c)
		}
		if err == nil {
			r.Pod, r.Node = parseReply(string(body))
			if r.Pod == "" {
				err = fmt.Errorf("unexpected reply %q", firstLine(string(body)))
			}
		}
	}
	r.Latency = time.Since(r.At)
	r.OK = err == nil
	if err != nil {
		r.Err = err.Error()
	}
	return r
}

// onceUDP sends one datagram and waits for the echo server's reply.
func (s Stream) onceUDP() Result {
	r := Result{At: time.Now()}
	c, err := net.DialTimeout("udp", s.Target, s.Timeout)
	if err == nil {
		defer c.Close()
		_ = c.SetDeadline(r.At.Add(s.Timeout))
		if _, err = c.Write([]byte("ping\n")); err == nil {
			buf := make([]byte, 512)
			var n int
			if n, err = c.Read(buf); err == nil {
				r.Pod, r.Node = parseReply(string(buf[:n]))
				if r.Pod == "" {
					err = fmt.Errorf("unexpected reply %q", firstLine(string(buf[:n])))
				}
			}
		}
	}
	r.Latency = time.Since(r.At)
	r.OK = err == nil
	if err != nil {
		r.Err = err.Error()
	}
	return r
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
