package controller_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/ironlb/ironlb/impl/internal/testenv"
)

func writeKubeconfig(t *testing.T, cfg *rest.Config) string { return writeKubeconfigTB(t, cfg) }

func writeKubeconfigTB(t testing.TB, cfg *rest.Config) string {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// replica runs bin/ironlb-controller as a process, as a Deployment replica would run.
type replica struct {
	cmd *exec.Cmd
	log string
}

func startReplica(t *testing.T, bin, kubeconfig, name string, env ...string) *replica {
	return startReplicaLease(t, bin, kubeconfig, name, "4s", env...)
}

// startReplicaLease starts a replica with the given lease duration and extra environment.
func startReplicaLease(t *testing.T, bin, kubeconfig, name, lease string, env ...string) *replica {
	log := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--kubeconfig", kubeconfig, "--namespace", ns, "--webhook-mode", "disabled",
		"--metrics-bind-address", "0", "--health-bind-address", "0", "--lease-duration", lease, "--renew-deadline", "3s", "--retry-period", "500ms")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd, log: log}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
	})
	return r
}

func (r *replica) logText() string {
	b, _ := os.ReadFile(r.log)
	return string(b)
}

// TestTwoReplicasOneKilled runs two controller processes with leader election, kills the active
// one with SIGKILL (no chance to release its Lease) and checks that the standby serves new
// Services within a few seconds, without changing the addresses already given.
func TestTwoReplicasOneKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the controller binary")
	}
	h := newHarness(t)
	bin := buildController(t)
	kc := writeKubeconfig(t, h.cfg)
	h.create(pool("ha", "10.60.0.0/28"))

	a := startReplica(t, bin, kc, "a")
	h.create(lbService("before"))
	defer func() {
		if t.Failed() {
			t.Logf("replica a:\n%s", a.logText())
		}
	}()
	h.waitIPs("before", "10.60.0.0") // a leads
	b := startReplica(t, bin, kc, "b")
	h.eventually("b waits for the lease", 20*time.Second, func() (bool, string) {
		return strings.Contains(b.logText(), "Attempting to acquire leader lease"), b.logText()
	})

	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.cmd.Wait()
	killed := time.Now()
	h.create(lbService("after"))
	h.waitIPs("after", "10.60.0.1")
	took := time.Since(killed)
	t.Logf("standby served a new service %.1fs after the leader was killed", took.Seconds())
	if took > 10*time.Second {
		t.Errorf("takeover took %s, want a few seconds (lease 4s)", took)
	}
	if got := ingressIPs(h.service("before")); fmt.Sprint(got) != "[10.60.0.0]" {
		t.Errorf("before changed to %v after the takeover", got)
	}
}

func buildController(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "ironlb-controller")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ironlb-controller")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestRestartedPodLeadsAtOnce kills the leader with SIGKILL (its Lease stays held for 30 s) and
// starts it again as the same pod (a container restarted in place: same POD_NAME and POD_UID).
// It must lead again at once, not after the Lease it left; a new pod (another UID) must wait.
func TestRestartedPodLeadsAtOnce(t *testing.T) {
	const lease = 30 * time.Second
	h := newHarness(t)
	bin := buildController(t)
	kc := writeKubeconfig(t, h.cfg)
	h.create(pool("restart", "10.61.0.0/28"))
	pod := []string{"POD_NAME=ironlb-controller-abc12", "POD_UID=0b6c2a54-1111-4c3e-9c55-2f0a3d0c1e01"}

	a := startReplicaLease(t, bin, kc, "a", lease.String(), pod...)
	h.create(lbService("first"))
	h.waitIPs("first", "10.61.0.0")
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.cmd.Wait()

	// Another pod (a new replica) waits out the Lease: it serves nothing for a while.
	other := startReplicaLease(t, bin, kc, "other", lease.String(), "POD_NAME=ironlb-controller-def34", "POD_UID=7d1f0a2e-2222-4c3e-9c55-2f0a3d0c1e02")
	h.create(lbService("second"))
	time.Sleep(3 * time.Second)
	if got := ingressIPs(h.service("second")); len(got) != 0 {
		t.Fatalf("a new pod served %v while the dead leader's Lease was valid", got)
	}
	_ = other.cmd.Process.Signal(syscall.SIGKILL)
	_ = other.cmd.Wait()

	restarted := time.Now()
	b := startReplicaLease(t, bin, kc, "a-again", lease.String(), pod...)
	defer func() {
		if t.Failed() {
			t.Logf("restarted replica:\n%s", b.logText())
		}
	}()
	h.waitIPs("second", "10.61.0.1")
	took := time.Since(restarted)
	t.Logf("the restarted pod served a new Service %.1fs after it started (lease %s)", took.Seconds(), lease)
	if took > 8*time.Second {
		t.Errorf("the restarted pod took %s to lead: it waited for its own Lease (%s)", took, lease)
	}
	if got := ingressIPs(h.service("first")); fmt.Sprint(got) != "[10.61.0.0]" {
		t.Errorf("first changed to %v after the restart", got)
	}
}
