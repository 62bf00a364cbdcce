package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/state"
)

// Process pods: an image mapped to /bin/sh runs as a real process with the pod's volumes, env,
// probes, restarts and termination.
var _ = Describe("process pods", Ordered, func() {
	l := &labCLI{name: "e2epp"}
	BeforeAll(func() {
		base, err := os.ReadFile(filepath.Join("..", "..", "topologies", "l2.yaml"))
		Expect(err).NotTo(HaveOccurred())
		topo := filepath.Join(GinkgoT().TempDir(), "pp.yaml")
		Expect(os.WriteFile(topo, append(base, "images:\n- {image: lab.test/sh, path: /bin/sh}\n"...), 0o644)).To(Succeed())
		l.up(topo, "--impl", "none")
	})
	AfterEach(l.dumpOnFailure)

	podField := func(pod, jsonpath string) string {
		return l.kubectl("get", "pod", pod, "-o", "jsonpath="+jsonpath)
	}
	// logs reads the container's log file directly (ironlab logs is checked once below).
	logs := func(pod string) string {
		b, _ := filepath.Glob(filepath.Join(controlplane.LogDir(state.Dir(state.Root(), l.name)), "pod.*.default."+pod+".main.log"))
		if len(b) == 0 {
			return ""
		}
		data, _ := os.ReadFile(b[0])
		return string(data)
	}

	It("mounts Secrets, ConfigMaps and the service-account token, sets env, and keeps a Secret's file up to date", func() {
		l.apply(`
apiVersion: v1
kind: Secret
metadata: {name: lab-secret, namespace: default}
stringData: {key: first-value}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: lab-config, namespace: default}
data: {greeting: hello}
---
apiVersion: v1
kind: Pod
metadata: {name: reader, namespace: default, labels: {app: reader}}
spec:
  containers:
  - name: main
    image: lab.test/sh
    command: ["/bin/sh"]
    args:
    - -c
    - |
      echo "node=$NODE ip=$POD_IP host=$HOST_IP name=$NAME greeting=$greeting api=$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT ns=$(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace)"
      test -s /var/run/secrets/kubernetes.io/serviceaccount/token && grep -q CERTIFICATE /var/run/secrets/kubernetes.io/serviceaccount/ca.crt && echo token-ok
      touch /tmp/ready
      while true; do echo "secret=$(cat /etc/lab-secret/key)"; sleep 0.2; done
    env:
    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: HOST_IP, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}
    - {name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    envFrom:
    - configMapRef: {name: lab-config}
      prefix: ""
    readinessProbe:
      exec: {command: [test, -f, /tmp/ready]}
      periodSeconds: 1
    volumeMounts:
    - {name: secret, mountPath: /etc/lab-secret, readOnly: true}
  volumes:
  - name: secret
    secret: {secretName: lab-secret}
`)
		Eventually(func() string { return podField("reader", "{.status.conditions[?(@.type=='Ready')].status}") }).
			WithTimeout(30*time.Second).Should(Equal("True"), "the exec readiness probe sees the file the container made in its private /tmp")
		node, ip := podField("reader", "{.spec.nodeName}"), podField("reader", "{.status.podIP}")
		Expect(ip).To(HavePrefix("10.244."))
		out := logs("reader")
		Expect(out).To(ContainSubstring("node=" + node + " ip=" + ip + " host=172.18.0."))
		Expect(out).To(ContainSubstring("name=reader greeting=hello api=10.96.0.1:443 ns=default"))
		Expect(out).To(ContainSubstring("token-ok"))
		Expect(out).To(ContainSubstring("secret=first-value"))
		Expect(l.run("status")).To(MatchRegexp(`default\s+reader\s+` + node + `\s+` + regexp.QuoteMeta(ip) + `\s+Running\s+1/1\s+0\s+\d+`))
		Expect(l.run("logs", "default/reader")).To(ContainSubstring("secret=first-value"))
		Expect(l.kubectl("logs", "reader", "--tail=1")).To(Equal("secret=first-value"), "kubectl logs, through the API server and the node agent")
		_, err := os.Stat("/etc/lab-secret")
		Expect(os.IsNotExist(err)).To(BeTrue(), "the mount is private to the container")

		l.apply(`{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "lab-secret", "namespace": "default"}, "stringData": {"key": "second-value"}}`)
		updated := time.Now()
		Eventually(func() string { return logs("reader") }).WithTimeout(15 * time.Second).WithPolling(100 * time.Millisecond).
			Should(ContainSubstring("secret=second-value"))
		GinkgoWriter.Printf("Secret update reached the mounted file in %s\n", time.Since(updated))
	})

	It("runs kubectl exec inside the container: its host name, its private /tmp, stdin, stdout, stderr and the exit code", func() {
		stdout, stderr, err := l.kubectlStreams("from-stdin\n", "exec", "-i", "reader", "--", "sh", "-c",
			"hostname; test -f /tmp/ready && echo sees-private-tmp; cat; echo to-stderr >&2; exit 7")
		Expect(err).To(HaveOccurred(), "exit 7 must come back as a failure")
		// stdout and stderr are separate streams, each in its own order.
		Expect(stdout).To(Equal("reader\nsees-private-tmp\nfrom-stdin\n"), "host name and /tmp of the container, then stdin")
		Expect(stderr).To(HavePrefix("to-stderr\n"), "the command's stderr, before kubectl's own message")
		Expect(stderr).To(ContainSubstring("command terminated with exit code 7"))
		host, _ := os.Hostname()
		Expect(host).NotTo(Equal("reader"), "the pod's host name is its own")
		out, err := l.kubectlErr("", "exec", "reader", "--", "sh", "-c", "echo $NAME")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(Equal("reader"), "the container's environment")
		_, err = l.kubectlErr("", "exec", "reader", "-c", "nosuch", "--", "true")
		Expect(err).To(HaveOccurred(), "a container the pod does not have")
	})

	It("restarts a killed container with back-off and counts the restarts", func() {
		restarts := func() int {
			n, _ := strconv.Atoi(podField("reader", "{.status.containerStatuses[0].restartCount}"))
			return n
		}
		var gaps []time.Duration
		var waits []string
		for i := 1; i <= 3; i++ {
			l.run("fault", "kill-pod", "default/reader")
			killed := time.Now()
			Eventually(func() string { return podField("reader", "{.status.containerStatuses[0].state.waiting.reason}") }).
				WithTimeout(5 * time.Second).WithPolling(50 * time.Millisecond).Should(Equal("CrashLoopBackOff"))
			waits = append(waits, podField("reader", "{.status.containerStatuses[0].state.waiting.message}"))
			Eventually(restarts).WithTimeout(30 * time.Second).WithPolling(50 * time.Millisecond).Should(Equal(i))
			gaps = append(gaps, time.Since(killed))
			Eventually(func() string { return podField("reader", "{.status.conditions[?(@.type=='Ready')].status}") }).
				WithTimeout(30 * time.Second).Should(Equal("True"))
		}
		GinkgoWriter.Printf("restart delays after each kill: %v\n", gaps)
		Expect(podField("reader", "{.status.containerStatuses[0].lastState.terminated.exitCode}")).To(Equal("137"), "128+SIGKILL")
		// Each restart waits twice as long as the one before, as the kubelet's status says.
		Expect(waits).To(HaveExactElements(HavePrefix("back-off 1s restarting failed container=main"),
			HavePrefix("back-off 2s restarting"), HavePrefix("back-off 4s restarting")))
	})

	It("stops a deleted pod's processes within its grace period", func() {
		l.apply(`
apiVersion: v1
kind: Pod
metadata: {name: stubborn, namespace: default}
spec:
  terminationGracePeriodSeconds: 3
  containers:
  - name: main
    image: lab.test/sh
    args: ["-c", "trap 'echo got TERM' TERM; echo started; while true; do sleep 0.1; done"]
`)
		Eventually(func() string { return podField("stubborn", "{.status.phase}") }).WithTimeout(30 * time.Second).Should(Equal("Running"))
		st := l.run("status")
		m := regexp.MustCompile(`default\s+stubborn\s+.*\s(\d+)\n`).FindStringSubmatch(st)
		Expect(m).NotTo(BeNil(), st)
		pid := m[1]
		// A command run with kubectl exec dies with the pod too, though its client stays.
		marker := fmt.Sprintf("sleep 300.%06d", time.Now().UnixNano()%1e6) // a command line of its own
		execCmd := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), "exec", "stubborn", "--",
			"sh", "-c", marker)
		execCmd.Env = append(os.Environ(), "KUBECONFIG="+controlplane.KubeconfigPath(state.Dir(state.Root(), l.name)))
		Expect(execCmd.Start()).To(Succeed())
		DeferCleanup(func() { _ = execCmd.Process.Kill(); _ = execCmd.Wait() })
		execPID := func() string {
			out, _ := exec.Command("pgrep", "-f", "^"+marker).Output()
			return strings.TrimSpace(string(out))
		}
		Eventually(execPID).WithTimeout(10*time.Second).ShouldNot(BeEmpty(), "the exec'd command runs")
		start := time.Now()
		_, err := l.kubectlErr("", "delete", "pod", "stubborn", "--wait=false")
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() bool { return runningPID(pid) }).WithTimeout(10 * time.Second).WithPolling(50 * time.Millisecond).Should(BeFalse())
		took := time.Since(start)
		GinkgoWriter.Printf("a container ignoring SIGTERM was killed %s after the delete (grace 3s)\n", took)
		Expect(took).To(And(BeNumerically(">=", 2500*time.Millisecond), BeNumerically("<", 5*time.Second)))
		Expect(logs("stubborn")).To(ContainSubstring("got TERM"))
		Eventually(func() string { return l.kubectl("get", "pod", "stubborn", "-o", "name") }).WithTimeout(10 * time.Second).
			Should(ContainSubstring("NotFound"))
		Eventually(execPID).WithTimeout(5*time.Second).Should(BeEmpty(), "the command kubectl exec started outlived its pod")
	})

	It("stops a node's process pods when the node goes down, and runs them again when it comes back", func() {
		l.apply(`
apiVersion: v1
kind: Pod
metadata: {name: survivor, namespace: default}
spec:
  nodeName: worker3
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: lab.test/sh
    args: ["-c", "trap 'echo got TERM' TERM; echo started; while true; do sleep 0.1; done"]
`)
		pidOf := func() string {
			m := regexp.MustCompile(`default\s+survivor\s+.*\s(\d+)\n`).FindStringSubmatch(l.run("status"))
			if m == nil {
				return ""
			}
			return m[1]
		}
		Eventually(pidOf).WithTimeout(30 * time.Second).ShouldNot(BeEmpty())
		for _, mode := range []string{"stop", "kill"} {
			pid := pidOf()
			terms := strings.Count(logs("survivor"), "got TERM")
			start := time.Now()
			l.run("fault", "node-down", "worker3", "--mode", mode)
			Expect(runningPID(pid)).To(BeFalse(), "%s: the container process is gone when node-down returns", mode)
			GinkgoWriter.Printf("node-down --mode %s took %s\n", mode, time.Since(start))
			if mode == "stop" {
				Expect(strings.Count(logs("survivor"), "got TERM")).To(Equal(terms+1), "a shutdown sends SIGTERM first")
				Expect(time.Since(start)).To(BeNumerically(">=", 2*time.Second), "and waits the grace period")
			} else {
				Expect(strings.Count(logs("survivor"), "got TERM")).To(Equal(terms), "a hard failure sends no SIGTERM")
			}
			l.run("fault", "node-up", "worker3")
			Eventually(pidOf).WithTimeout(30*time.Second).Should(And(Not(BeEmpty()), Not(Equal(pid))), "the agent runs the pod again")
		}
	})

	It("stops every process pod with the lab", func() {
		pids := recordedPIDs(controlplane.RunDir(state.Dir(state.Root(), l.name)))
		Expect(strings.Join(pids, " ")).NotTo(BeEmpty())
		l.run("down")
		for _, pid := range pids {
			Expect(runningPID(pid)).To(BeFalse(), "process %s left", pid)
		}
	})
})
