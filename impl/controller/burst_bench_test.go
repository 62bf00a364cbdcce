package controller_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ironscheme "github.com/ironlb/ironlb/impl/api/scheme"
	"github.com/ironlb/ironlb/impl/internal/testenv"
)

// BenchmarkBurst creates IRONLB_BENCH_SERVICES (default 10,000) LoadBalancer Services at once
// against a real kube-apiserver and measures, with the controller binary in its own process: the
// time until every one has its address, the creation-to-status latency (p50, p99), and the
// controller's CPU seconds and peak RSS. `make bench-e2e` runs it.
func BenchmarkBurst(b *testing.B) {
	n := 10000
	if s := os.Getenv("IRONLB_BENCH_SERVICES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	cfg := testenv.Start(b)
	cfg.QPS, cfg.Burst = 2000, 4000
	scheme, _ := ironscheme.New()
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{ns, "apps"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.Create(ctx, pool("burst", "10.128.0.0/16")); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(b.TempDir(), "ironlb-controller")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ironlb-controller")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	kc := writeKubeconfigTB(b, cfg)
	ctl := exec.Command(bin, "--kubeconfig", kc, "--namespace", ns, "--webhook-mode", "disabled", "--leader-elect=false",
		"--metrics-bind-address", "0", "--health-bind-address", "0", "--log-level", "warn")
	ctl.Stderr = os.Stderr
	if err := ctl.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = ctl.Process.Kill(); _ = ctl.Wait() }()
	time.Sleep(2 * time.Second) // let it sync its caches

	cs := kubernetes.NewForConfigOrDie(cfg)
	w, err := cs.CoreV1().Services("apps").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	created := make(map[string]time.Time, n)
	assigned := make(map[string]time.Time, n)
	done := make(chan struct{})
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type != watch.Modified {
				continue
			}
			s := ev.Object.(*corev1.Service)
			if len(s.Status.LoadBalancer.Ingress) == 0 {
				continue
			}
			mu.Lock()
			if _, seen := assigned[s.Name]; !seen {
				assigned[s.Name] = time.Now()
				if len(assigned) == n {
					close(done)
				}
			}
			mu.Unlock()
		}
	}()

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	work := make(chan int)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				name := fmt.Sprintf("burst-%05d", i)
				mu.Lock()
				created[name] = time.Now()
				mu.Unlock()
				// No NodePorts: 10,000 Services would exhaust the 2,768 ports of the default range.
				svc := lbService(name, func(s *corev1.Service) { s.Spec.AllocateLoadBalancerNodePorts = new(bool) })
				if err := c.Create(ctx, svc); err != nil {
					b.Errorf("create %s: %v", name, err)
					failed.Add(1)
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d services could not be created", failed.Load())
	}
	createdIn := time.Since(start)
	select {
	case <-done:
	case <-time.After(30 * time.Minute):
		b.Fatalf("only %d of %d services assigned", len(assigned), n)
	}
	total := time.Since(start)
	b.StopTimer()
	w.Stop()

	var lat []time.Duration
	mu.Lock()
	for name, at := range assigned {
		lat = append(lat, at.Sub(created[name]))
	}
	mu.Unlock()
	slices.Sort(lat)
	cpu, rss := procStats(b, ctl.Process.Pid)
	b.ReportMetric(float64(n), "services")
	b.ReportMetric(createdIn.Seconds(), "create-s")
	b.ReportMetric(total.Seconds(), "all-assigned-s")
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
	b.ReportMetric(cpu, "controller-cpu-s")
	b.ReportMetric(rss, "controller-peak-rss-MiB")
}

// procStats returns a process's CPU seconds (user+system) and peak RSS in MiB, from /proc.
func procStats(b *testing.B, pid int) (cpu, rssMiB float64) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	cpu = (utime + stime) / 100 // clock ticks (USER_HZ = 100)
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			rssMiB = kb / 1024
		}
	}
	return cpu, rssMiB
}
