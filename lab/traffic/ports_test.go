//go:build linux

package traffic

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Every port of the range comes once before any comes back: a 4-tuple is reused only after the
// whole range, far longer than conntrack keeps an unanswered SYN (120 s).
func TestPortCycleUsesTheWholeRange(t *testing.T) {
	c := newPortCycle(100, 199)
	seen := map[int]int{}
	first := c.take()
	seen[first] = 0
	for i := 1; i < 100; i++ {
		p := c.take()
		if p < 100 || p > 199 {
			t.Fatalf("port %d outside [100, 199]", p)
		}
		if j, dup := seen[p]; dup {
			t.Fatalf("port %d came back after %d ports, before the other %d of the range", p, i-j, 100-(i-j))
		}
		seen[p] = i
	}
	if again := c.take(); again != first {
		t.Fatalf("after the whole range: %d, want the first port %d again", again, first)
	}
}

// A stream's requests leave from the ports of the cycle, one after another (the server sees them).
func TestStreamTakesSourcePortsInTurn(t *testing.T) {
	var mu sync.Mutex
	var ports []int
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, p, _ := net.SplitHostPort(r.RemoteAddr)
		n, _ := strconv.Atoi(p)
		mu.Lock()
		ports = append(ports, n)
		mu.Unlock()
		fmt.Fprint(w, "pod=default/echo node=worker\n")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	s := Stream{Target: ln.Addr().String(), Timeout: 2 * time.Second}
	for i := range 200 {
		if r := s.once(); !r.OK {
			t.Fatalf("request %d: %s", i, r.Err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// Each port is the one after the last (at the end of the range, the first), or a few further
	// on: a port in use is skipped, and while other tests run on this host many ports are (a
	// connection of theirs, or its TIME_WAIT, holds the port), so skips are allowed up to the
	// retries of dialFresh. The kernel's own choice walks even ports with random steps: it never
	// steps by one, so at least half the steps being one still tells the two apart.
	ones := 0
	for i := 1; i < len(ports); i++ {
		step := ports[i] - ports[i-1]
		if step <= 0 { // wrapped from lastPort to firstPort
			step = ports[i] - firstPort + lastPort - ports[i-1] + 1
		}
		if step < 1 || step > 16 {
			t.Fatalf("request %d left from port %d after %d: not the next free port of the cycle (%v)", i, ports[i], ports[i-1], ports[max(0, i-10):min(len(ports), i+10)])
		}
		if step == 1 {
			ones++
		}
	}
	if steps := len(ports) - 1; ones < steps/2 {
		t.Fatalf("only %d of %d requests left from the port right after the last one: %v", ones, steps, ports[:20])
	}
}

func TestLateNote(t *testing.T) {
	for _, tc := range []struct {
		took time.Duration
		want string
	}{
		{100 * time.Millisecond, ""},
		{125 * time.Millisecond, ""},
		{189 * time.Millisecond, " (the client gave up 89ms after its 100ms timeout: it was not running)"},
	} {
		if got := lateNote(tc.took, 100*time.Millisecond); got != tc.want {
			t.Errorf("lateNote(%s) = %q, want %q", tc.took, got, tc.want)
		}
	}
}

// A failed dial reads as it did before streams chose their ports: no local address in it, so
// that failures of one kind group together.
func TestDialErrorHasNoSource(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	_, err = dialFresh("tcp", addr, time.Second)
	if err == nil {
		t.Fatal("want a refused connection")
	}
	if want := "dial tcp " + addr + ": "; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %q, want it to start with %q", err, want)
	}
}
