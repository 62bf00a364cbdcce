package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/node"
)

// newNodeCommand is `ironlab __node`: the emulated kubelet of one node, run by `up` inside the
// node's namespace.
func newNodeCommand() *cobra.Command {
	var cfg node.Config
	var kubeconfig, labels, imagesFile string
	cmd := &cobra.Command{
		Use:    "__node",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return err
			}
			cfg.Log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
			if imagesFile != "" {
				if cfg.Images, err = node.ReadImages(imagesFile); err != nil {
					return err
				}
				cfg.ImagesFile = imagesFile
			}
			if cfg.Self, err = os.Executable(); err != nil {
				return err
			}
			if cfg.StateDir, err = filepath.Abs(cfg.StateDir); err != nil {
				return err
			}
			cfg.Version = controlplane.KubernetesVersion
			cfg.Labels = map[string]string{}
			for _, kv := range strings.Split(labels, ",") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					cfg.Labels[k] = v
				}
			}
			a, err := node.New(kubernetes.NewForConfigOrDie(rc), cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := a.Run(ctx); err != nil {
				return fmt.Errorf("node %s: %w", cfg.Name, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "the node's kubeconfig")
	f.StringVar(&cfg.Name, "name", "", "node name")
	f.StringVar(&cfg.Address, "address", "", "InternalIP (IPv4)")
	f.StringVar(&cfg.Address6, "address6", "", "InternalIP (IPv6)")
	f.StringVar(&cfg.PodCIDR, "pod-cidr", "", "pod range")
	f.StringVar(&cfg.PodCIDR6, "pod-cidr6", "", "IPv6 pod range")
	f.StringVar(&cfg.Lab.Prefix, "lab", "", "lab name (namespace prefix)")
	f.StringVar(&labels, "labels", "", "node labels, k=v,k=v")
	f.BoolVar(&cfg.ControlPlane, "control-plane", false, "a control-plane node: kubeadm's labels and taint")
	f.StringVar(&imagesFile, "images", "", "the image map (JSON list of image and path)")
	f.StringVar(&cfg.StateDir, "state", "", "the lab's state directory")
	return cmd
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
		args := []string{"__node", "--kubeconfig", kc, "--name", n.Name, "--address", a.Address, "--pod-cidr", n.PodCIDR,
			"--lab", l.top.Name, "--labels", strings.Join(labels, ","), "--state", absState, "--images", l.images}
		if n.Kind == "control-plane" {
			args = append(args, "--control-plane")
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
	return startProcess(l, name, bin, args, []string{l.self, "__nsexec", netns.Lab{Prefix: l.top.Name}.Path(host), "--"})
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
