package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/labbin"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/state"
)

// BenchmarkLabUp measures, on topologies/l2.yaml with the binaries cached: seconds from
// `ironlab up` until every node is Ready and a 3-replica Deployment's pods all answer through a
// ClusterIP; the lab's memory (sum of the RSS of its processes); and `ironlab down`.
// `make bench-lab` runs it (root).
// BenchmarkLabUp brings the l2 lab up and down, with no load balancer and with IronLB installed
// from its manifests (up returns once IronLB's pods are available and its webhook answers), and
// times 3 pods answering through a ClusterIP. Each run prints a LABUP line; the metrics are
// means (make bench-lab).
func BenchmarkLabUp(b *testing.B) {
	if os.Geteuid() != 0 || os.Getenv("KUBEBUILDER_ASSETS") == "" {
		b.Skip("needs root and KUBEBUILDER_ASSETS (make bench-lab)")
	}
	dir := b.TempDir()
	bin, err := labbin.Build(filepath.Join("..", ".."), dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, impl := range []string{"none", "ironlb"} {
		b.Run("impl="+impl, func(b *testing.B) { benchLabUp(b, bin, dir, impl) })
	}
}

func benchLabUp(b *testing.B, bin, dir, impl string) {
	topo, _ := filepath.Abs(filepath.Join("..", "..", "topologies", "l2.yaml"))
	name := "bench"
	root := filepath.Join(dir, "state")
	labDir := state.Dir(root, name)
	run := func(args ...string) {
		c := exec.Command(bin, args...)
		c.Dir = dir
		c.Env = append(os.Environ(), state.EnvRoot+"="+root)
		if out, err := c.CombinedOutput(); err != nil {
			b.Fatalf("ironlab %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	kc := controlplane.KubeconfigPath(labDir)
	k := func(args ...string) string {
		c := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), args...)
		c.Env = append(os.Environ(), "KUBECONFIG="+kc)
		out, _ := c.CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	var upS, readyS, rssMiB, downS, worstUp, worstDown float64
	runs := 0
	for b.Loop() {
		runs++
		start := time.Now()
		run("up", "-t", topo, "--name", name, "--impl", impl, "--kubeconfig-context=false")
		up := time.Since(start).Seconds()
		upS += up
		k("create", "deployment", "echo", "--image=registry.example/echo:1", "--replicas=3", "--port=8080")
		k("expose", "deployment", "echo", "--port=80", "--target-port=8080")
		ip := k("get", "svc", "echo", "-o", "jsonpath={.spec.clusterIP}")
		seen := map[string]bool{}
		for time.Since(start) < 60*time.Second && len(seen) < 3 {
			if out, err := (netns.Lab{Prefix: name}).HTTPGet("worker", "http://"+ip+"/", 3*time.Second); err == nil && strings.HasPrefix(out, "pod=") {
				seen[strings.Fields(out)[0]] = true
			} else {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if len(seen) < 3 {
			b.Fatalf("only %d pods answered through %s", len(seen), ip)
		}
		ready := time.Since(start).Seconds()
		readyS += ready
		rss := labRSS(b, controlplane.RunDir(labDir))
		rssMiB += rss
		start = time.Now()
		run("down", "--name", name)
		down := time.Since(start).Seconds()
		downS += down
		worstUp, worstDown = max(worstUp, up), max(worstDown, down)
		fmt.Printf("LABUP impl=%s run %d: up %.1fs, 3 pods via ClusterIP %.1fs, RSS %.0f MiB, down %.1fs\n", impl, runs, up, ready, rss, down)
	}
	n := float64(b.N)
	b.ReportMetric(upS/n, "up-s")
	b.ReportMetric(readyS/n, "3-pods-via-clusterip-s")
	b.ReportMetric(rssMiB/n, "lab-rss-MiB")
	b.ReportMetric(downS/n, "down-s")
	// The first five minutes (docs/lab.md): with IronLB, every run is up in under 10 s and down
	// in under 3 s.
	if impl == "ironlb" && (worstUp >= 10 || worstDown >= 3) {
		b.Errorf("slowest run: up %.1fs (bound 10s), down %.1fs (bound 3s)", worstUp, worstDown)
	}
}

func labRSS(b *testing.B, runDir string) float64 {
	files, _ := filepath.Glob(filepath.Join(runDir, "*.pid"))
	var total float64
	for _, f := range files {
		data, _ := os.ReadFile(f)
		pid := strings.SplitN(string(data), "\n", 2)[0]
		status, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			b.Fatalf("process %s of %s is gone", pid, f)
		}
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				total += kb / 1024
			}
		}
	}
	if len(files) == 0 {
		b.Fatal(fmt.Errorf("no processes recorded in %s", runDir))
	}
	return total
}
