package apidial_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/impl/internal/apidial"
	"github.com/ironlb/ironlb/impl/internal/testenv"
)

// flappy forwards a port to the API server and can be taken down (listener and every connection
// closed, so dials are refused, as while an API server restarts) and brought back on the same port.
type flappy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newFlappy(t *testing.T, target string) *flappy {
	f := &flappy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	f.serve(ln)
	t.Cleanup(f.down)
	return f
}

func (f *flappy) serve(ln net.Listener) {
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", f.target)
			if err != nil {
				c.Close()
				continue
			}
			f.mu.Lock()
			f.conns[c], f.conns[up] = true, true
			f.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

func (f *flappy) down() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln != nil {
		f.ln.Close()
		f.ln = nil
	}
	for c := range f.conns {
		c.Close()
	}
	f.conns = map[net.Conn]bool{}
}

func (f *flappy) up() {
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		f.t.Fatalf("listen again on %s: %v", f.addr, err)
	}
	f.serve(ln)
}

// After two API server outages (8 s each, 4 s apart), an informer built on the patient dial sees a
// Service created the moment the API server is back within 3 s. client-go's own back-off would have
// grown to 6.4-12.8 s per attempt by then (0.8 s doubling per refused attempt, jitter 1.0), which
// is how a speaker learned of a new Service 40 s late in the 60-minute soak.
func TestInformerCatchesUpAfterAPIOutages(t *testing.T) {
	cfg := testenv.Start(t)
	u, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFlappy(t, u.Host)
	viaProxy := rest.CopyConfig(cfg)
	viaProxy.Host = "https://" + proxy.addr
	viaProxy.TLSClientConfig.ServerName = u.Hostname()

	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(apidial.Apply(viaProxy), cache.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := c.GetInformer(ctx, &corev1.Service{}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("cache never synced")
	}
	direct, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		time.Sleep(4 * time.Second)
		proxy.down()
		time.Sleep(8 * time.Second)
		proxy.up()
	}
	back := time.Now()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "after-outage", Namespace: "default"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	if err := direct.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	const bound = 3 * time.Second
	for {
		var got corev1.Service
		if err := c.Get(ctx, client.ObjectKeyFromObject(svc), &got); err == nil {
			t.Logf("the informer saw the Service %v after the API server came back", time.Since(back).Round(time.Millisecond))
			return
		}
		if time.Since(back) > bound {
			t.Fatalf("the informer had not seen a Service %v after the API server came back (bound %v)",
				time.Since(back).Round(time.Millisecond), bound)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
