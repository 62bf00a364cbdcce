package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/state"
)

// The l2 lab of topologies/l2.yaml, brought up once for the ordered specs below.
var _ = Describe("the l2 lab", Ordered, func() {
	const name = "e2el2"
	var (
		dir string
		lab = netns.Lab{Prefix: name}
	)
	run := func(args ...string) string {
		c := exec.Command(ironlab, args...)
		c.Dir = dir
		out, err := c.CombinedOutput()
		ExpectWithOffset(1, err).NotTo(HaveOccurred(), "ironlab %s:\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	kubectl := func(args ...string) string {
		c := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), args...)
		c.Env = append(os.Environ(), "KUBECONFIG="+controlplane.KubeconfigPath(state.Dir(state.Root(), name)))
		out, _ := c.CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	get := func(host, url string) string {
		out, _ := lab.HTTPGet(host, url, 3*time.Second)
		return out
	}

	BeforeAll(func() {
		dir = GinkgoT().TempDir()
		topo, err := filepath.Abs(filepath.Join("..", "..", "topologies", "l2.yaml"))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			c := exec.Command(ironlab, "down", "--name", name)
			c.Dir = dir
			_ = c.Run()
		})
		start := time.Now()
		out := run("up", "-t", topo, "--name", name)
		GinkgoWriter.Printf("up took %s\n%s", time.Since(start), out)
		Expect(out).To(ContainSubstring("172.18.0.2"))
	})

	AfterEach(func() {
		if !CurrentSpecReport().Failed() {
			return
		}
		GinkgoWriter.Println(kubectl("get", "pods,nodes,endpointslices", "-A", "-o", "wide"))
		logs, _ := filepath.Glob(filepath.Join(controlplane.LogDir(state.Dir(state.Root(), name)), "*.log"))
		for _, l := range logs {
			if b, err := os.ReadFile(l); err == nil && (strings.Contains(l, "node-") || strings.Contains(l, "scheduler")) {
				if len(b) > 3000 {
					b = b[len(b)-3000:]
				}
				GinkgoWriter.Printf("--- %s\n%s\n", filepath.Base(l), b)
			}
		}
	})

	It("has every node Ready", func() {
		Expect(kubectl("get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=='Ready')].status} {end}")).
			To(And(ContainSubstring("control-plane=True"), ContainSubstring("worker=True"), ContainSubstring("worker2=True"), ContainSubstring("worker3=True")))
	})

	It("runs a Deployment's pods on the workers, answering across nodes", func() {
		kubectl("create", "deployment", "echo", "--image=registry.example/echo:1", "--replicas=3", "--port=8080")
		var pods string
		Eventually(func() int {
			pods = kubectl("get", "pods", "-l", "app=echo", "-o", "jsonpath={range .items[*]}{.status.phase},{.status.podIP},{.spec.nodeName} {end}")
			return strings.Count(pods, "Running,10.244.")
		}).WithTimeout(30 * time.Second).Should(Equal(3))
		Expect(pods).NotTo(ContainSubstring(",control-plane"), "the control plane is tainted NoSchedule")
		Expect(kubectl("get", "pods", "-l", "app=echo", "-o", "jsonpath={.items[*].status.podIPs[1].ip}")).
			To(MatchRegexp(`^fd00:10:244:[0-9a-f]+::[0-9a-f]+( fd00:10:244:[0-9a-f]+::[0-9a-f]+){2}$`), "dual-stack pods")
		for _, p := range strings.Fields(pods) {
			f := strings.Split(p, ",")
			Expect(get("client", "http://"+f[1]+":8080/")).To(BeEmpty(), "the client has no route to pods")
			from := "worker"
			if f[2] == "worker" {
				from = "worker2"
			}
			Expect(get(from, "http://"+f[1]+":8080/")).To(ContainSubstring("node=" + f[2]))
		}
	})

	It("serves the Service through Kubernetes' kube-proxy: ClusterIP from a node, NodePort from the client", func() {
		kubectl("expose", "deployment", "echo", "--port=80", "--target-port=8080", "--type=NodePort")
		ip := kubectl("get", "svc", "echo", "-o", "jsonpath={.spec.clusterIP}")
		port := kubectl("get", "svc", "echo", "-o", "jsonpath={.spec.ports[0].nodePort}")
		served := map[string]bool{}
		Eventually(func() int {
			if out := get("worker", "http://"+ip+"/"); strings.HasPrefix(out, "pod=") {
				served[strings.Fields(out)[0]] = true
			}
			return len(served)
		}).WithTimeout(30*time.Second).WithPolling(50*time.Millisecond).Should(Equal(3), "every pod serves the ClusterIP")
		// A dual-stack Service answers on its IPv6 ClusterIP too.
		apply := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), "apply", "-f", "-")
		apply.Env = append(os.Environ(), "KUBECONFIG="+controlplane.KubeconfigPath(state.Dir(state.Root(), name)))
		apply.Stdin = strings.NewReader(`{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo6", "namespace": "default"},
 "spec": {"ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv6", "IPv4"], "selector": {"app": "echo"},
          "ports": [{"port": 80, "targetPort": 8080}]}}`)
		out, err := apply.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		ip6 := kubectl("get", "svc", "echo6", "-o", "jsonpath={.spec.clusterIPs[0]}")
		Expect(ip6).To(HavePrefix("fd00:10:96::"))
		Eventually(func() string { return get("worker", "http://["+ip6+"]/") }).
			WithTimeout(20 * time.Second).Should(MatchRegexp(`^pod=default/echo-\S+ node=\S+ ip=\S+ ip6=fd00:10:244:`))
		viaNodePort := map[string]bool{}
		Eventually(func() int {
			if out := get("client", fmt.Sprintf("http://172.18.0.4:%s/", port)); strings.HasPrefix(out, "pod=") {
				viaNodePort[strings.Fields(out)[0]] = true
			}
			return len(viaNodePort)
		}).WithTimeout(30*time.Second).WithPolling(50*time.Millisecond).Should(Equal(3), "every pod serves the NodePort")
	})

	It("marks a downed node NotReady and its pod's endpoint not ready", func() {
		node := kubectl("get", "pods", "-l", "app=echo", "-o", "jsonpath={.items[0].spec.nodeName}")
		run("fault", "node-down", node, "--name", name)
		downAt := time.Now()
		Eventually(func() string {
			return kubectl("get", "node", node, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
		}).WithTimeout(40 * time.Second).Should(BeElementOf("Unknown", "False"))
		GinkgoWriter.Printf("%s NotReady %s after node-down\n", node, time.Since(downAt))
		Eventually(func() string {
			return kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=echo", "-o",
				"jsonpath={range .items[*].endpoints[*]}{.nodeName}={.conditions.ready} {end}")
		}).WithTimeout(30 * time.Second).Should(And(ContainSubstring(node+"=false"), Not(ContainSubstring(node+"=true"))))
		run("fault", "node-up", node, "--name", name)
	})

	It("is in the user's kubeconfig as context ironlab-"+name+", which reaches its API", func() {
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(),
			&clientcmd.ConfigOverrides{CurrentContext: "ironlab-" + name}).ClientConfig()
		Expect(err).NotTo(HaveOccurred())
		cs, err := kubernetes.NewForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(nodes.Items).To(HaveLen(4))
	})

	It("tears down completely", func() {
		pids := recordedPIDs(controlplane.RunDir(state.Dir(state.Root(), name)))
		Expect(len(pids)).To(BeNumerically(">=", 13), "control plane, forward, 4 node agents, 4 kube-proxies")
		start := time.Now()
		run("down", "--name", name)
		Expect(time.Since(start)).To(BeNumerically("<", 10*time.Second))
		Expect(lab.Namespaces()).To(BeEmpty())
		for _, pid := range pids {
			Expect(runningPID(pid)).To(BeFalse(), "process %s left", pid)
		}
		Expect(state.Dir(state.Root(), name)).NotTo(BeADirectory())
		kc, err := clientcmd.LoadFromFile(os.Getenv("KUBECONFIG"))
		Expect(err).NotTo(HaveOccurred())
		Expect(kc.Contexts).NotTo(HaveKey("ironlab-" + name))
	})
})

func recordedPIDs(runDir string) []string {
	files, _ := filepath.Glob(filepath.Join(runDir, "*.pid"))
	var out []string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		out = append(out, strings.SplitN(string(b), "\n", 2)[0])
	}
	return out
}

// runningPID reports a live, non-zombie process (a zombie only waits for init to reap it).
func runningPID(pid string) bool {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z' && stat[i+2] != 'X'
}
