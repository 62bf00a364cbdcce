//go:build linux

package traffic

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

// An HTTP stream sends its Host header, or the target's address without one: what an ingress
// controller routes by.
func TestHostHeader(t *testing.T) {
	got := make(chan string, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Host
		fmt.Fprint(w, "pod=default/app1-5d8f7c9b4-x2x7k node=worker3\n")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	for _, tc := range []struct{ host, want string }{
		{"app1.example", "app1.example"},
		{"app2.example:8000", "app2.example:8000"},
		{"", "127.0.0.1"},
	} {
		s := Stream{Target: ln.Addr().String(), Host: tc.host, Timeout: 2 * time.Second}
		r := s.once()
		if !r.OK || r.Pod != "default/app1-5d8f7c9b4-x2x7k" || r.Node != "worker3" {
			t.Fatalf("host %q: %+v", tc.host, r)
		}
		if h := <-got; h != tc.want {
			t.Errorf("Host %q sent as %q, want %q", tc.host, h, tc.want)
		}
	}
	if h := (Stream{Target: "[fc00:f853:ccd:e793::c8]:80"}).hostHeader(); h != "[fc00:f853:ccd:e793::c8]" {
		t.Errorf("IPv6 target's Host = %q, want it in brackets", h)
	}
}
