package apidial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestNotConnected(t *testing.T) {
	dial := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"refused", dial(syscall.ECONNREFUSED), true},
		{"wrapped refused", fmt.Errorf("get: %w", dial(syscall.ECONNREFUSED)), true},
		{"host unreachable", dial(syscall.EHOSTUNREACH), true},
		{"net unreachable", dial(syscall.ENETUNREACH), true},
		{"dial timed out", &net.OpError{Op: "dial", Err: &timeoutErr{}}, true},
		// Sent, or maybe sent: never repeated.
		{"reset while reading", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, false},
		{"write refused", &net.OpError{Op: "write", Err: syscall.ECONNREFUSED}, false},
		{"name does not resolve", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "api.invalid", IsNotFound: true}}, false},
		{"permission", dial(syscall.EACCES), false},
		{"canceled", context.Canceled, false},
	} {
		if got := NotConnected(tc.err); got != tc.want {
			t.Errorf("%s: NotConnected(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (*timeoutErr) Error() string   { return "i/o timeout" }
func (*timeoutErr) Timeout() bool   { return true }
func (*timeoutErr) Temporary() bool { return true }

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func transport() *Transport {
	return &Transport{Next: &http.Transport{DisableKeepAlives: true}, Retry: 50 * time.Millisecond, MaxRetry: 100 * time.Millisecond}
}

// A request made while nothing listens is answered once something does; its body is sent whole.
func TestRequestWaitsForServer(t *testing.T) {
	addr := freeAddr(t)
	got := make(chan string, 1)
	go func() {
		time.Sleep(600 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got <- string(b)
		})}
		t.Cleanup(func() { srv.Close() })
		_ = srv.Serve(l)
	}()
	start := time.Now()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/namespaces", strings.NewReader(`{"kind":"Namespace"}`))
	resp, err := transport().RoundTrip(req)
	if err != nil {
		t.Fatalf("POST while the server was away: %v", err)
	}
	resp.Body.Close()
	if took := time.Since(start); took < 600*time.Millisecond || took > 2*time.Second {
		t.Errorf("took %v; the server came at 600 ms", took)
	}
	if b := <-got; b != `{"kind":"Namespace"}` {
		t.Errorf("the server got body %q", b)
	}
}

// The request's deadline still ends it: a status write does not wait for the API server.
func TestRequestKeepsItsDeadline(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	start := time.Now()
	_, err := transport().RoundTrip(req)
	if err == nil {
		t.Fatal("a request to a closed port succeeded")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a request with a 300 ms deadline took %v", took)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v names neither the refusal nor the deadline", err)
	}
}

type refusing struct{ calls atomic.Int32 }

func (r *refusing) RoundTrip(*http.Request) (*http.Response, error) {
	r.calls.Add(1)
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

func TestRequestGivesUpAfterMax(t *testing.T) {
	next := &refusing{}
	tr := &Transport{Next: next, Retry: 100 * time.Millisecond, MaxRetry: 100 * time.Millisecond, Max: time.Second}
	req, _ := http.NewRequest(http.MethodGet, "https://192.0.2.1:6443/api", nil)
	start := time.Now()
	_, err := tr.RoundTrip(req)
	if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want the refusal", err)
	}
	if took := time.Since(start); took < 900*time.Millisecond || took > 2*time.Second {
		t.Errorf("gave up after %v, Max is 1 s", took)
	}
	if n := next.calls.Load(); n < 5 || n > 12 {
		t.Errorf("%d attempts in 1 s at 100 ms apart", n)
	}
}

type failing struct {
	calls atomic.Int32
	err   error
}

func (f *failing) RoundTrip(*http.Request) (*http.Response, error) {
	f.calls.Add(1)
	return nil, f.err
}

// What may have reached the server, or cannot reach it whatever the wait, is not sent again.
func TestRequestNotRepeated(t *testing.T) {
	for _, err := range []error{
		&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)},
		&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "api.invalid", IsNotFound: true}},
		errors.New("x509: certificate signed by unknown authority"),
	} {
		next := &failing{err: err}
		req, _ := http.NewRequest(http.MethodPut, "https://api.invalid:6443/api", strings.NewReader("{}"))
		if _, got := (&Transport{Next: next}).RoundTrip(req); !errors.Is(got, err) {
			t.Errorf("err = %v, want %v", got, err)
		}
		if n := next.calls.Load(); n != 1 {
			t.Errorf("%v: sent %d times, want once", err, n)
		}
	}
	// A body that cannot be read again is not sent again either.
	next := &refusing{}
	req, _ := http.NewRequest(http.MethodPost, "https://192.0.2.1:6443/api", io.NopCloser(strings.NewReader("{}")))
	req.GetBody = nil
	if _, err := (&Transport{Next: next}).RoundTrip(req); err == nil {
		t.Error("a request without GetBody was answered")
	}
	if n := next.calls.Load(); n != 1 {
		t.Errorf("a body without GetBody was sent %d times, want once", n)
	}
}
