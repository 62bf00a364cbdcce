package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/ironlb/ironlb/lab/clusterdns"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/process"
	"github.com/ironlb/ironlb/lab/topology"
)

func controlPlaneNode(t *topology.Topology) *topology.Node {
	for i := range t.Nodes {
		if t.Nodes[i].Kind == topology.KindControlPlane {
			return &t.Nodes[i]
		}
	}
	return nil
}

// labCtx is what starting a lab's processes needs.
type labCtx struct {
	top      *topology.Topology
	state    string
	cpIP     string
	self     string
	progress func(string)
	images   string     // the resolved image map (JSON) for the node agents
	dns      netip.Addr // kube-dns's address; invalid without cluster DNS
}

func startProcess(l labCtx, name, bin string, args, wrap []string) (int, error) {
	r, err := process.Start(controlplane.RunDir(l.state), controlplane.LogDir(l.state), process.Spec{Name: name, Path: bin, Args: args, Wrap: wrap})
	if err != nil {
		return 0, err
	}
	return r.PID, nil
}

// waitNodesReady waits until every Kubernetes node of the topology is registered and Ready.
func waitNodesReady(ctx context.Context, cs kubernetes.Interface, top *topology.Topology, progress func(string)) error {
	want := 0
	for _, n := range top.Nodes {
		if topology.IsKubernetes(n.Kind) {
			want++
		}
	}
	progress(fmt.Sprintf("waiting for %d nodes to be Ready", want))
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		ready := 0
		if err == nil {
			for _, n := range nodes.Items {
				for _, c := range n.Status.Conditions {
					if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
		}
		if ready == want {
			progress(fmt.Sprintf("%d nodes Ready", ready))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d nodes Ready after 60s (see the node-*.log files in the lab's logs): %w", ready, want, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func serviceCIDRs(t *topology.Topology) string {
	if t.Defaults.ServiceCIDR6 != "" {
		return t.Defaults.ServiceCIDR + "," + t.Defaults.ServiceCIDR6
	}
	return t.Defaults.ServiceCIDR
}

// waitDefaultServiceAccount waits until kube-controller-manager created the default namespace's
// default ServiceAccount: before it, every pod there is rejected.
func waitDefaultServiceAccount(ctx context.Context, cs kubernetes.Interface) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		_, last = cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("the default ServiceAccount was not created within 60s (see kube-controller-manager.log): %w", errors.Join(err, last))
	}
	return nil
}

// startNodes starts the emulated kubelet of every Kubernetes node of the lab.
func startNodes(l labCtx) error {
	absState, err := filepath.Abs(l.state)
	if err != nil {
		return err
	}
	for _, n := range l.top.Nodes {
		if n.Kind != "control-plane" && n.Kind != "worker" {
			continue
		}
		kc, err := controlplane.NodeKubeconfig(l.state, l.top.Name, n.Name, "https://"+l.cpIP+":6443")
		if err != nil {
			return err
		}
		var labels []string
		for k, v := range n.Labels {
			labels = append(labels, k+"="+v)
		}
		a := n.Networks[0]
		args := []string{CmdNode, "--kubeconfig", kc, "--name", n.Name, "--address", a.Address, "--pod-cidr", n.PodCIDR,
			"--lab", l.top.Name, "--labels", strings.Join(labels, ","), "--state", absState, "--images", l.images}
		if n.Kind == "control-plane" {
			args = append(args, "--control-plane")
		}
		if l.dns.IsValid() {
			args = append(args, "--cluster-dns", l.dns.String(), "--cluster-domain", clusterdns.Domain)
		}
		if a.Address6 != "" {
			args = append(args, "--address6", a.Address6)
		}
		if n.PodCIDR6 != "" && a.Address6 != "" {
			args = append(args, "--pod-cidr6", n.PodCIDR6)
		}
		if _, err := startIn(l, n.Name, "node-"+n.Name, l.self, args); err != nil {
			return err
		}
	}
	return nil
}

// startIn starts a lab process inside a host's namespace.
func startIn(l labCtx, host, name, bin string, args []string) (int, error) {
	return startProcess(l, name, bin, args, []string{l.self, CmdNSExec, netns.Lab{Prefix: l.top.Name}.Path(host), "--"})
}

// startKubeProxies runs the real kube-proxy (nftables mode, or iptables) in every Kubernetes
// node's namespace, as user system:kube-proxy (bound to system:node-proxier by default RBAC).
func startKubeProxies(l labCtx) error {
	kc, err := controlplane.UserKubeconfig(l.state, l.top.Name, "kube-proxy", "system:kube-proxy", nil, "https://"+l.cpIP+":6443")
	if err != nil {
		return err
	}
	clusterCIDR := l.top.Defaults.PodCIDR
	if l.top.Defaults.PodCIDR6 != "" {
		clusterCIDR += "," + l.top.Defaults.PodCIDR6
	}
	bin := filepath.Join(controlplane.BinDir(), "kube-proxy")
	mode := l.top.Defaults.KubeProxyMode
	tool := map[string]string{"nftables": "nft", "iptables": "iptables"}[mode]
	if _, err := exec.LookPath(tool); err != nil {
		if _, ierr := exec.LookPath("iptables"); mode == "nftables" && ierr == nil {
			mode = "iptables" // the fallback: kube-proxy's iptables mode
			l.progress("nft not found: kube-proxy falls back to iptables mode (apt-get install nftables for nftables mode)")
		} else {
			return fmt.Errorf("kube-proxy's %s mode needs the %s command: apt-get install %s", mode, tool, mode)
		}
	}
	for _, n := range l.top.Nodes {
		if n.Kind != "control-plane" && n.Kind != "worker" {
			continue
		}
		args := []string{"--kubeconfig=" + kc, "--hostname-override=" + n.Name, "--proxy-mode=" + mode,
			"--cluster-cidr=" + clusterCIDR,
			"--conntrack-max-per-core=0", // leave the host-wide conntrack table size alone
			"--metrics-bind-address=127.0.0.1:10249", "--healthz-bind-address=127.0.0.1:10256",
			"--v=1"}
		if _, err := startIn(l, n.Name, "kube-proxy-"+n.Name, bin, args); err != nil {
			return err
		}
	}
	return nil
}
