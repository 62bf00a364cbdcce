package cli_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/lab/netns"
)

// TestUpDownTopology builds ironlab, brings up a small topology (network in namespaces, control
// plane in its node), uses the API through the loopback forward, and tears down: nothing of the
// lab may be left, no namespace and no process.
func TestUpDownTopology(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces); `make test` runs as root in CI")
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: run `make test`, which builds the control plane")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "ironlab")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ironlab")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	name := fmt.Sprintf("e2e%d", os.Getpid()%10000)
	topo := filepath.Join(dir, "topo.yaml")
	if err := os.WriteFile(topo, []byte(`apiVersion: lab.ironlb.io/v1alpha1
kind: Topology
name: `+name+`
networks: [{name: lan, subnet: 172.30.0.0/24}]
nodes: [{name: cp, kind: control-plane}, {name: w1, kind: worker}, {name: w2, kind: worker}, {name: client, kind: client}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		c := exec.Command(bin, args...)
		c.Dir = dir
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("ironlab %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() {
		c := exec.Command(bin, "down", "--name", name)
		c.Dir = dir
		_ = c.Run()
	})
	start := time.Now()
	out := run("up", "-t", topo)
	t.Logf("up took %s", time.Since(start))
	if !strings.Contains(out, "172.30.0.2") || !strings.Contains(out, "kubeconfig:") {
		t.Errorf("summary lacks the hosts or the kubeconfig:\n%s", out)
	}
	// The kubernetes Service's endpoint is the control-plane node's lab address.
	kubectl := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), "get", "endpointslices", "-n", "default",
		"-o", "jsonpath={.items[0].endpoints[0].addresses[0]}")
	kubectl.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, ".ironlab", name, "kubeconfig"))
	var ep []byte
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if ep, err = kubectl.CombinedOutput(); err == nil && string(ep) == "172.30.0.2" {
			break
		}
		kubectl = exec.Command(kubectl.Path, kubectl.Args[1:]...)
		kubectl.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, ".ironlab", name, "kubeconfig"))
	}
	if string(ep) != "172.30.0.2" {
		t.Errorf("kubernetes endpoint = %q (%v), want 172.30.0.2", ep, err)
	}
	if st := run("status", "--name", name); strings.Contains(st, "gone") || !strings.Contains(st, ": ok") {
		t.Errorf("status:\n%s", st)
	}
	kc := filepath.Join(dir, ".ironlab", name, "kubeconfig")
	k := func(args ...string) (string, error) {
		c := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), args...)
		c.Env = append(os.Environ(), "KUBECONFIG="+kc)
		out, err := c.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	// Nodes are Ready when up returns; a Deployment's pods run on the workers with real addresses
	// and answer, from another node, with their pod and node names.
	if out, err := k("get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=='Ready')].status} {end}"); err != nil ||
		!strings.Contains(out, "cp=True") || !strings.Contains(out, "w1=True") || !strings.Contains(out, "w2=True") {
		t.Errorf("nodes: %s %v", out, err)
	}
	if out, err := k("create", "deployment", "echo", "--image=registry.example/echo:1", "--replicas=2", "--port=8080"); err != nil {
		t.Fatalf("%s %v", out, err)
	}
	var pods string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		pods, _ = k("get", "pods", "-l", "app=echo", "-o", "jsonpath={range .items[*]}{.status.phase},{.status.podIP},{.spec.nodeName} {end}")
		if strings.Count(pods, "Running,10.244.") == 2 {
			break
		}
	}
	if strings.Count(pods, "Running,10.244.") != 2 || strings.Contains(pods, ",cp") {
		t.Fatalf("pods: %q (want 2 Running on the workers)", pods)
	}
	for _, p := range strings.Fields(pods) {
		f := strings.Split(p, ",")
		other := "w1"
		if f[2] == "w1" {
			other = "w2"
		}
		out, err := httpGetIn(name, other, "http://"+f[1]+":8080/")
		if err != nil || !strings.Contains(out, "node="+f[2]) {
			t.Errorf("pod %s on %s from %s: %q %v", f[1], f[2], other, out, err)
		}
	}
	// Kubernetes' own kube-proxy serves the Service: ClusterIP from a node, NodePort from the client.
	if out, err := k("expose", "deployment", "echo", "--port=80", "--target-port=8080", "--type=NodePort"); err != nil {
		t.Fatalf("%s %v", out, err)
	}
	clusterIP, _ := k("get", "svc", "echo", "-o", "jsonpath={.spec.clusterIP}")
	nodePort, _ := k("get", "svc", "echo", "-o", "jsonpath={.spec.ports[0].nodePort}")
	eventually(t, "ClusterIP "+clusterIP+" answers from w1", 20*time.Second, func() (bool, string) {
		out, err := httpGetIn(name, "w1", "http://"+clusterIP+"/")
		return strings.HasPrefix(out, "pod=default/echo-"), fmt.Sprint(out, err)
	})
	eventually(t, "NodePort "+nodePort+" of w2 answers from the client", 20*time.Second, func() (bool, string) {
		out, err := httpGetIn(name, "client", "http://172.30.0.4:"+nodePort+"/")
		return strings.HasPrefix(out, "pod=default/echo-"), fmt.Sprint(out, err)
	})

	// A node goes down: the real node-lifecycle controller marks it NotReady and its pod's
	// endpoint stops being ready.
	run("fault", "node-down", "w1", "--name", name)
	downAt := time.Now()
	eventually(t, "w1 NotReady", 40*time.Second, func() (bool, string) {
		out, _ := k("get", "node", "w1", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
		return out == "Unknown" || out == "False", out
	})
	t.Logf("w1 NotReady %s after node-down", time.Since(downAt).Round(100*time.Millisecond))
	eventually(t, "the endpoint on w1 not ready", 30*time.Second, func() (bool, string) {
		out, _ := k("get", "endpointslices", "-l", "kubernetes.io/service-name=echo", "-o",
			"jsonpath={range .items[*].endpoints[*]}{.nodeName}={.conditions.ready} {end}")
		return strings.Contains(out, "w1=false") && strings.Contains(out, "w2=true"), out
	})
	run("fault", "node-up", "w1", "--name", name)

	pids := pidsOf(t, filepath.Join(dir, ".ironlab", name, "run"))
	start = time.Now()
	run("down", "--name", name)
	t.Logf("down took %s", time.Since(start))
	if entries, _ := os.ReadDir("/var/run/netns"); len(entries) > 0 {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), name+"-") {
				t.Errorf("namespace left: %s", e.Name())
			}
		}
	}
	for _, pid := range pids {
		// A zombie is gone too: it only waits for init to reap it (ironlab up, its parent, has exited).
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%s/stat", pid)); err == nil {
			if i := strings.LastIndexByte(string(stat), ')'); i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z' {
				t.Errorf("process %s left: %s", pid, stat)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".ironlab", name)); !os.IsNotExist(err) {
		t.Errorf("state left: %v", err)
	}
}

func pidsOf(t *testing.T, runDir string) []string {
	files, _ := filepath.Glob(filepath.Join(runDir, "*.pid"))
	var out []string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		out = append(out, strings.SplitN(string(b), "\n", 2)[0])
	}
	if len(out) < 5 {
		t.Errorf("expected at least 5 processes, found %d pid files", len(out))
	}
	return out
}

// httpGetIn makes an HTTP request from inside a lab host's namespace. The socket is made by
// net.Dial on the namespace's locked thread (an http.Transport would dial from other threads, in
// the host's namespace), and the request is written on it by hand.
func httpGetIn(lab, host, url string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	var conn net.Conn
	if err := (netns.Lab{Prefix: lab}).Do(host, func() (err error) {
		hostPort := req.URL.Host
		if req.URL.Port() == "" {
			hostPort = net.JoinHostPort(req.URL.Hostname(), "80")
		}
		conn, err = net.DialTimeout("tcp", hostPort, 3*time.Second)
		return err
	}); err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	req.Close = true
	if err := req.Write(conn); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func eventually(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
	}
	t.Fatalf("%s: not within %s; last seen: %s", what, timeout, last)
}
