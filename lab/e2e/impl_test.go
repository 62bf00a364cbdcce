package e2e

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/state"
)

// labCLI drives one lab of the suite through the ironlab and kubectl commands, as a user would.
type labCLI struct {
	name, dir string
}

func (l *labCLI) run(args ...string) string {
	c := exec.Command(ironlab, append(args, "--name", l.name)...)
	c.Dir = l.dir
	out, err := c.CombinedOutput()
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "ironlab %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

func (l *labCLI) kubectl(args ...string) string {
	out, _ := l.kubectlErr("", args...)
	return out
}

// kubectlErr runs kubectl with stdin, returning its output and error.
func (l *labCLI) kubectlErr(stdin string, args ...string) (string, error) {
	c := l.kubectlCmd(stdin, args...)
	out, err := c.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// kubectlStreams runs kubectl and returns its stdout and stderr apart: what a command run by
// kubectl exec writes to each comes back on its own stream, in no fixed order between them.
func (l *labCLI) kubectlStreams(stdin string, args ...string) (stdout, stderr string, err error) {
	c := l.kubectlCmd(stdin, args...)
	var o, e strings.Builder
	c.Stdout, c.Stderr = &o, &e
	err = c.Run()
	return o.String(), e.String(), err
}

func (l *labCLI) kubectlCmd(stdin string, args ...string) *exec.Cmd {
	c := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), args...)
	c.Env = append(os.Environ(), "KUBECONFIG="+controlplane.KubeconfigPath(state.Dir(state.Root(), l.name)))
	c.Stdin = strings.NewReader(stdin)
	return c
}

func (l *labCLI) apply(yaml string) {
	out, err := l.kubectlErr(yaml, "apply", "-f", "-")
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), out)
}

// up brings the lab up from a topology file with extra args, and tears it down after the specs.
func (l *labCLI) up(topology string, args ...string) {
	l.dir = GinkgoT().TempDir()
	DeferCleanup(func() {
		c := exec.Command(ironlab, "down", "--name", l.name)
		c.Dir = l.dir
		_ = c.Run()
	})
	start := time.Now()
	out := l.run(append([]string{"up", "-t", topology}, args...)...)
	GinkgoWriter.Printf("up took %s\n%s", time.Since(start), out)
}

// dumpOnFailure prints pods and the node agents' and containers' logs after a failed spec.
func (l *labCLI) dumpOnFailure() {
	if !CurrentSpecReport().Failed() {
		return
	}
	GinkgoWriter.Println(l.kubectl("get", "pods,nodes,endpointslices,svc", "-A", "-o", "wide"))
	logs, _ := filepath.Glob(filepath.Join(controlplane.LogDir(state.Dir(state.Root(), l.name)), "*.log"))
	for _, f := range logs {
		base := filepath.Base(f)
		if b, err := os.ReadFile(f); err == nil && (strings.HasPrefix(base, "node-") || strings.HasPrefix(base, "pod.")) {
			if len(b) > 3000 {
				b = b[len(b)-3000:]
			}
			GinkgoWriter.Printf("--- %s\n%s\n", base, b)
		}
	}
}

const poolAndService = `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lab, namespace: metallb-system}
spec: {addresses: ["172.18.255.200-172.18.255.250"]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`

// webPodsAnnounced gives poolAndService's Service two pods and announces its address.
const webPodsAnnounced = `
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: lab, namespace: metallb-system}
spec: {ipAddressPools: [lab]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, ports: [{containerPort: 8080}]}]
`

const invalidPool = `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: invalid, namespace: metallb-system}
spec: {addresses: ["not-an-ip"]}
`

// The same checks for every implementation the lab installs from its manifests.
var _ = Describe("an implementation installed from its own manifests", func() {
	for _, impl := range []struct {
		name, lab, rejection string
	}{
		// MetalLB's webhook parses the address; IronLB's CRD schema (CEL) rejects it even earlier,
		// and its webhook is shown at work on a cross-object mistake below.
		{"metallb", "e2emlb", `admission webhook "ipaddresspoolvalidationwebhook.metallb.io" denied the request`},
		{"ironlb", "e2eilb", `spec.addresses: Invalid value: each address must be a CIDR`},
	} {
		Describe(impl.name, Ordered, func() {
			l := &labCLI{name: impl.lab}
			BeforeAll(func() {
				topo, err := filepath.Abs(filepath.Join("..", "..", "topologies", "l2.yaml"))
				Expect(err).NotTo(HaveOccurred())
				l.up(topo, "--impl", impl.name)
			})
			AfterEach(l.dumpOnFailure)

			It("runs its pods as processes, reaching the API through in-cluster config", func() {
				st := l.run("status")
				Expect(st).To(MatchRegexp(`metallb-system\s+\S*controller\S*\s+worker\d?\s+10\.244\.\S+\s+Running\s+1/1\s+0\s+\d+`))
			})

			if impl.name == "ironlb" {
				It("runs IronLB from its images with the manifest's users, capabilities and read-only root", func() {
					st := l.run("status")
					pidOf := func(re string) string {
						m := regexp.MustCompile(`metallb-system\s+` + re + `\s.*\s(\d+)\n`).FindStringSubmatch(st)
						Expect(m).NotTo(BeNil(), "no running %s in:\n%s", re, st)
						return m[1]
					}
					field := func(pid, key string) string {
						data, err := os.ReadFile("/proc/" + pid + "/status")
						Expect(err).NotTo(HaveOccurred())
						m := regexp.MustCompile(`(?m)^` + key + `:\s+(.*)$`).FindStringSubmatch(string(data))
						Expect(m).NotTo(BeNil(), "no %s in /proc/%s/status", key, pid)
						return strings.Join(strings.Fields(m[1]), " ")
					}
					const netRaw = "0000000000002000" // CAP_NET_RAW alone
					for _, c := range []struct{ re, bin, uid, capEff, capBnd string }{
						// The pod's runAsUser (65534) over the image's user (65532); every capability dropped.
						{`\S*controller\S*`, "ironlb-controller", "65534 65534 65534 65534", "0000000000000000", "0000000000000000"},
						// Root in its image, with NET_RAW only.
						{`ironlb-speaker-\S+`, "ironlb-speaker", "0 0 0 0", netRaw, netRaw},
					} {
						pid := pidOf(c.re)
						Expect(field(pid, "Uid")).To(Equal(c.uid), c.bin)
						Expect(field(pid, "CapEff")).To(Equal(c.capEff), c.bin)
						Expect(field(pid, "CapBnd")).To(Equal(c.capBnd), c.bin)
						Expect(field(pid, "NoNewPrivs")).To(Equal("1"), c.bin)
						root := "/proc/" + pid + "/root/"
						Expect(root+c.bin).To(BeARegularFile(), "the image's binary, at its root")
						Expect(root+"etc/passwd").To(BeARegularFile(), "the image's base")
						Expect(root+"bin").NotTo(BeADirectory(), "the host's files are not in the container")
						err := os.WriteFile(root+"written-by-the-test", []byte("x"), 0o644)
						Expect(errors.Is(err, syscall.EROFS)).To(BeTrue(), "writing to %s's root: %v, want EROFS", c.bin, err)
					}
				})
			}

			It("rejects an invalid IPAddressPool", func() {
				out, err := l.kubectlErr(invalidPool, "apply", "-f", "-")
				Expect(err).To(HaveOccurred())
				Expect(out).To(ContainSubstring(impl.rejection))
			})

			It("rejects through its webhook, called by the API server through its Service", func() {
				l.apply(`{"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "one", "namespace": "metallb-system"},
 "spec": {"addresses": ["192.0.2.0/28"]}}`)
				out, err := l.kubectlErr(`{"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "two", "namespace": "metallb-system"},
 "spec": {"addresses": ["192.0.2.8/29"]}}`, "apply", "-f", "-")
				Expect(err).To(HaveOccurred())
				Expect(out).To(And(ContainSubstring("denied the request"), ContainSubstring("overlap")))
				l.kubectl("delete", "ipaddresspool", "-n", "metallb-system", "one")
			})

			It("gives a LoadBalancer Service an address from the pool", func() {
				l.apply(poolAndService)
				Eventually(func() string {
					return l.kubectl("get", "svc", "web", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
				}).WithTimeout(30 * time.Second).Should(Equal("172.18.255.200"))
			})

			It("reaches the Service from the host's loopback through ironlab port-forward", func() {
				l.apply(poolAndService)
				l.apply(webPodsAnnounced)
				pf := exec.Command(ironlab, "port-forward", "--name", l.name, "svc/web", "0:80")
				pf.Dir = l.dir
				stdout, err := pf.StdoutPipe()
				Expect(err).NotTo(HaveOccurred())
				pf.Stderr = GinkgoWriter
				Expect(pf.Start()).To(Succeed())
				DeferCleanup(func() { _ = pf.Process.Kill(); _ = pf.Wait() })
				line, err := bufio.NewReader(stdout).ReadString('\n')
				Expect(err).NotTo(HaveOccurred(), "port-forward printed %q", line)
				m := regexp.MustCompile(`^Forwarding from (127\.0\.0\.1:\d+) -> 172\.18\.255\.200:80 `).FindStringSubmatch(line)
				Expect(m).NotTo(BeNil(), "port-forward printed %q", line)
				// From the host's own namespace, as a browser would: the reply names a web pod.
				hc := &http.Client{Timeout: 3 * time.Second}
				Eventually(func() string {
					resp, err := hc.Get("http://" + m[1] + "/")
					if err != nil {
						return err.Error()
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					return string(b)
				}).WithTimeout(30 * time.Second).Should(ContainSubstring("pod=default/web-"))
			})

			It("opens the Service in the host's browser through ironlab open", func() {
				l.apply(poolAndService) // as the specs before it left them: this one runs alone too
				l.apply(webPodsAnnounced)
				// The browser is a script that keeps the URL it was given.
				dir := GinkgoT().TempDir()
				got := filepath.Join(dir, "url")
				browser := filepath.Join(dir, "browser")
				Expect(os.WriteFile(browser, []byte("#!/bin/sh\necho \"$1\" > "+got+"\n"), 0o755)).To(Succeed())
				op := exec.Command(ironlab, "open", "--name", l.name, "svc/web", "--path", "/hello")
				op.Dir = l.dir
				op.Env = append(os.Environ(), "DISPLAY=:0", "BROWSER="+browser, "SUDO_USER=")
				op.Stdout, op.Stderr = GinkgoWriter, GinkgoWriter
				Expect(op.Start()).To(Succeed())
				DeferCleanup(func() { _ = op.Process.Kill(); _ = op.Wait() })
				var url string
				Eventually(func() string {
					b, _ := os.ReadFile(got)
					url = strings.TrimSpace(string(b))
					return url
				}).WithTimeout(30*time.Second).Should(MatchRegexp(`^http://127\.0\.0\.1:\d+/hello$`), "the browser was not started with the Service's URL")
				hc := &http.Client{Timeout: 3 * time.Second}
				Eventually(func() string {
					resp, err := hc.Get(url)
					if err != nil {
						return err.Error()
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					return string(b)
				}).WithTimeout(30 * time.Second).Should(ContainSubstring("pod=default/web-"))
			})
		})
	}
})
