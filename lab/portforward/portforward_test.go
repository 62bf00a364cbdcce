package portforward

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
		err  bool
	}{
		{"svc/web", Target{"default", "web"}, false},
		{"service/web", Target{"default", "web"}, false},
		{"svc/shop/web", Target{"shop", "web"}, false},
		{"shop/web", Target{"shop", "web"}, false},
		{"web", Target{"default", "web"}, false},
		{"svc/", Target{}, true},
		{"a/b/c", Target{}, true},
		{"/web", Target{}, true},
	} {
		got, err := ParseTarget(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseTarget(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParsePorts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ports
		err  bool
	}{
		{"80", Ports{80, 80}, false},
		{"8080:80", Ports{8080, 80}, false},
		{"0:80", Ports{0, 80}, false},
		{"0", Ports{}, true},
		{"80:0", Ports{}, true},
		{"http", Ports{}, true},
		{"70000", Ports{}, true},
		{"-1:80", Ports{}, true},
	} {
		got, err := ParsePorts(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParsePorts(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// A request through the forward reaches the upstream and its reply comes back, for several
// connections at once; a failed dial closes the client's connection and is reported.
func TestServeForwards(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Fprintf(c, "echo %s", line)
			}()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var fail atomic.Bool
	reported := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, func(ctx context.Context) (net.Conn, error) {
			if fail.Load() {
				return nil, errors.New("no route to the lab")
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", up.Addr().String())
		}, func(err error) { reported <- err })
	}()
	for i := range 5 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "hello %d\n", i)
		_ = c.(*net.TCPConn).CloseWrite()
		b, _ := io.ReadAll(c)
		c.Close()
		if want := fmt.Sprintf("echo hello %d\n", i); string(b) != want {
			t.Fatalf("reply %q, want %q", b, want)
		}
	}
	fail.Store(true)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Fatalf("a failed dial still answered %q", b)
	}
	c.Close()
	select {
	case err := <-reported:
		if !strings.Contains(err.Error(), "no route") {
			t.Fatalf("reported %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the failed dial was not reported")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return when its context ended")
	}
}
