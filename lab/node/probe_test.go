package node

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// A container that is not ready at its first readiness probe is probed again at the status sync
// after its start (1 s), as the kubelet does, not only a period (here 5 s) later.
func TestReadinessProbedAgainAtTheStatusSync(t *testing.T) {
	var calls atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "caches not synced yet", http.StatusServiceUnavailable)
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	pr := &corev1.Probe{PeriodSeconds: 5, FailureThreshold: 1, ProbeHandler: corev1.ProbeHandler{
		HTTPGet: &corev1.HTTPGetAction{Host: "127.0.0.1", Port: intstr.FromInt32(int32(port)), Path: "/readyz"}}}
	a := &Agent{probeClient: newProbeClient()}
	for _, tc := range []struct {
		readiness bool
		within    time.Duration
		want      bool
	}{{true, 2 * time.Second, true}, {false, 2 * time.Second, false}} {
		calls.Store(0)
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan bool, 4)
		start := time.Now()
		go a.probeLoop(ctx, &pod{}, &corev1.Container{}, pr, 0, tc.readiness, func(ok bool, _ string) { ready <- ok })
		got := false
		deadline := time.After(tc.within)
	wait:
		for {
			select {
			case ok := <-ready:
				if ok {
					got = true
					break wait
				}
			case <-deadline:
				break wait
			}
		}
		cancel()
		if got != tc.want {
			t.Errorf("readiness=%v: ready within %v = %v, want %v (%d probes in %v)", tc.readiness, tc.within, got, tc.want,
				calls.Load(), time.Since(start).Round(time.Millisecond))
		}
	}
}
