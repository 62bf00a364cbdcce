package apidial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestRetriable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"refused", refused, true},
		{"wrapped refused", fmt.Errorf("get: %w", refused), true},
		{"host unreachable", &net.OpError{Op: "dial", Err: syscall.EHOSTUNREACH}, true},
		{"net unreachable", &net.OpError{Op: "dial", Err: syscall.ENETUNREACH}, true},
		{"attempt timed out", context.DeadlineExceeded, true},
		{"net timeout", &net.OpError{Op: "dial", Err: &timeoutErr{}}, true},
		{"name does not resolve", &net.DNSError{Err: "no such host", Name: "api.invalid", IsNotFound: true}, false},
		{"canceled", context.Canceled, false},
		{"permission", &net.OpError{Op: "dial", Err: syscall.EACCES}, false},
	} {
		if got := Retriable(tc.err); got != tc.want {
			t.Errorf("%s: Retriable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (*timeoutErr) Error() string   { return "i/o timeout" }
func (*timeoutErr) Timeout() bool   { return true }
func (*timeoutErr) Temporary() bool { return true }

// freePort returns a loopback address nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A dial made while nothing listens succeeds once something does, without an error in between.
func TestDialWaitsForListener(t *testing.T) {
	addr := freePort(t)
	start := time.Now()
	go func() {
		time.Sleep(600 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		t.Cleanup(func() { l.Close() })
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
	}()
	d := &Dialer{Retry: 50 * time.Millisecond}
	c, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c.Close()
	if took := time.Since(start); took < 600*time.Millisecond || took > 2*time.Second {
		t.Errorf("dial took %v; the listener came at 600 ms, retries every 50 ms", took)
	}
}

// The caller's deadline still ends the dial: a status write must not wait for the API server.
func TestDialKeepsCallerDeadline(t *testing.T) {
	addr := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := (&Dialer{Retry: 50 * time.Millisecond}).DialContext(ctx, "tcp", addr)
	if err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("dial with a 300 ms deadline took %v", took)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v names neither the refusal nor the deadline", err)
	}
}

func TestDialGivesUpAfterMax(t *testing.T) {
	tries := 0
	d := &Dialer{Max: time.Second, Retry: 100 * time.Millisecond,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			tries++
			return nil, &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}
		}}
	start := time.Now()
	_, err := d.DialContext(context.Background(), "tcp", "192.0.2.1:6443")
	if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want the refusal", err)
	}
	if took := time.Since(start); took < 900*time.Millisecond || took > 2*time.Second {
		t.Errorf("gave up after %v, Max is 1 s", took)
	}
	if tries < 5 || tries > 11 {
		t.Errorf("%d attempts in 1 s at 100 ms apart", tries)
	}
}

func TestDialDoesNotRetryOtherErrors(t *testing.T) {
	tries := 0
	want := &net.DNSError{Err: "no such host", Name: "api.invalid", IsNotFound: true}
	d := &Dialer{Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		tries++
		return nil, want
	}}
	if _, err := d.DialContext(context.Background(), "tcp", "api.invalid:6443"); !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if tries != 1 {
		t.Errorf("%d attempts for a name that does not resolve, want 1", tries)
	}
}
